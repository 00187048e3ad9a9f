"""The activity behind PollRepository: fetch a repository and enqueue the head of every branch
that deploys an environment.

Which branches to look at comes from `lockstep.yaml` on the default branch; what a branch head
deploys comes from the manifest at that head, exactly as for a webhook push of that head
(`lockstep.webhooks.dispatch.environments_for_branch`). Enqueueing goes through the lanes, keyed
by (application, environment, commit), so polling an unchanged head again starts nothing.

Errors: an unreachable repository raises a retryable error (the next attempt or the next poll
fetches again); a broken manifest or a missing branch is reported in the result, so one bad
branch does not keep the others from deploying.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.errors import to_application_error
from activities.threads import ActivityThreads
from lockstep.domain.errors import GitError, LockstepError, ManifestError
from lockstep.domain.polling_messages import PollInput, PollResult
from lockstep.domain.redaction import safe_url
from lockstep.domain.temporal_names import POLL_REPOSITORY
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.gitrepo.tree import GitTree
from lockstep.manifest.loader import load_manifest
from lockstep.manifest.schema import Manifest
from lockstep.orchestration.lanes import enqueue_deployment
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.webhooks.dispatch import environments_for_branch


class PollingActivities:
    def __init__(
        self, *, client: Client, settings: Settings, store: Store, git: GitMirrors, threads: ActivityThreads
    ) -> None:
        self._client = client
        self._threads = threads
        self._settings = settings
        self._store = store
        self._git = git
        # The workflow input carries the URL without credentials; the configured one is used here.
        self._configured = {safe_url(r.url): r.url for r in settings.repositories}

    @activity.defn(name=POLL_REPOSITORY)
    async def poll_repository(self, poll: PollInput) -> PollResult:
        """Enqueue the head of every mapped branch of `poll.repository`; idempotent."""
        url = self._configured.get(poll.repository)
        if url is None:
            raise ApplicationError(
                f"{poll.repository} is not a configured repository", type="ConfigError", non_retryable=True
            )
        result = PollResult()
        try:
            default = await self._threads.run(self._git.default_branch, url)
            head = await self._threads.run(self._git.resolve, url, default)  # fetches
            manifest = await self._threads.run(self._manifest_at, url, head)
        except ManifestError as err:
            result.errors.append(f"{default}: {err}")
            return result
        except LockstepError as err:
            raise to_application_error(err) from err
        branches = dict.fromkeys(e.branch for e in manifest.environments if e.promote_from is None)
        for branch in branches:  # in manifest order; the fetch above is fresh, so no other one
            try:
                await self._poll_branch(url, branch, default, head, manifest, result)
            except GitError as err:
                if err.retryable:
                    raise to_application_error(err) from err
                result.errors.append(f"{branch}: {err}")
            except ManifestError as err:
                result.errors.append(f"{branch}: {err}")
            except LockstepError as err:
                raise to_application_error(err) from err
        activity.logger.info(
            "polled %s: %d enqueued, %d unchanged, %d errors",
            poll.repository,
            len(result.enqueued),
            len(result.unchanged),
            len(result.errors),
        )
        return result

    async def _poll_branch(
        self,
        url: str,
        branch: str,
        default: str,
        default_head: str,
        default_manifest: Manifest,
        result: PollResult,
    ) -> None:
        if branch == default:
            sha, manifest = default_head, default_manifest
        else:
            sha = await self._threads.run(self._git.branch_head, url, branch, fetch=False)
            manifest = await self._threads.run(self._manifest_at, url, sha)
        for environment in environments_for_branch(manifest, branch):
            enqueued = await enqueue_deployment(
                client=self._client,
                settings=self._settings,
                store=self._store,
                application=manifest.application,
                environment=environment,
                repository=url,
                commit=sha,
                trigger="poll",
                actor="poller",
            )
            (result.unchanged if enqueued.existing else result.enqueued).append(enqueued.deployment_id)

    def _manifest_at(self, url: str, sha: str) -> Manifest:
        tree = self._git.tree(url, sha)
        try:
            try:
                return load_manifest(tree)
            except ManifestError as err:
                raise ManifestError(err.file, err.key, f"{err.message} (commit {sha[:12]})") from None
        finally:
            if isinstance(tree, GitTree):
                tree.close()
