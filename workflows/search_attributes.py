"""The search attributes every deployment carries (docs/concepts.md), so the Temporal UI can filter."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

APPLICATION = SearchAttributeKey.for_keyword("LockstepApplication")
ENVIRONMENT = SearchAttributeKey.for_keyword("LockstepEnvironment")
COMMIT = SearchAttributeKey.for_keyword("LockstepCommit")
STATUS = SearchAttributeKey.for_keyword("LockstepStatus")

ALL = (APPLICATION, ENVIRONMENT, COMMIT, STATUS)
