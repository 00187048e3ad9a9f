"""Activities of the environment lane: promoting a commit into the next environment's lane."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client

from activities.errors import to_application_error
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.errors import LockstepError
from lockstep.domain.lane_messages import Enqueued, NewestCommit, Promotion
from lockstep.orchestration.lanes import enqueue_deployment
from lockstep.settings import Settings
from lockstep.store.engine import Store


class LaneActivities:
    def __init__(self, *, client: Client, settings: Settings, store: Store, renderer: CommitRenderer) -> None:
        self._client = client
        self._settings = settings
        self._store = store
        self._renderer = renderer

    @activity.defn(name="promote")
    async def promote(self, promotion: Promotion) -> Enqueued:
        """Enqueue the commit into the promoted environment's lane (idempotent: same id)."""
        try:
            return await enqueue_deployment(
                client=self._client,
                settings=self._settings,
                store=self._store,
                application=promotion.application,
                environment=promotion.environment,
                repository=promotion.repository,
                commit=promotion.commit,
                trigger="promotion",
                actor=promotion.actor or f"promotion from {promotion.source_environment}",
            )
        except LockstepError as err:
            raise to_application_error(err) from err

    @activity.defn(name="pick_newest")
    async def pick_newest(self, choice: NewestCommit) -> str:
        """Which queued commit deploys: the one the others are ancestors of (push order can be
        lost to retries on the way in)."""
        try:
            return await asyncio.to_thread(self._renderer.newest, choice.repository, choice.commits)
        except LockstepError as err:
            raise to_application_error(err) from err
