"""The search attributes every deployment carries (docs/concepts.md), as the SDK's typed keys.

Built once from their names (`lockstep.domain.temporal_names`) for both sides: the workflows set
them, the orchestration side reads them and filters by them. Imports the Temporal SDK's key type
and nothing that does I/O, so workflows may import it (passed through their sandbox).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

from lockstep.domain.temporal_names import (
    APPLICATION_ATTRIBUTE,
    COMMIT_ATTRIBUTE,
    ENVIRONMENT_ATTRIBUTE,
    STATUS_ATTRIBUTE,
)

APPLICATION = SearchAttributeKey.for_keyword(APPLICATION_ATTRIBUTE)
ENVIRONMENT = SearchAttributeKey.for_keyword(ENVIRONMENT_ATTRIBUTE)
COMMIT = SearchAttributeKey.for_keyword(COMMIT_ATTRIBUTE)
STATUS = SearchAttributeKey.for_keyword(STATUS_ATTRIBUTE)

ALL = (APPLICATION, ENVIRONMENT, COMMIT, STATUS)
