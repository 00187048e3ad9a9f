"""`lockstep approve|reject <deployment>`: a release manager's decision, through the API.

The CLI never names the approver: it sends `LOCKSTEP_TOKEN` to the API at `LOCKSTEP_API_URL`
(default: the configured `api.listen`), and the API decides who that is. A refused decision
(not a member, the commit's author, already approved, not awaiting approval) exits 1 with the
API's reason.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from lockstep.cli.common import (
    OutputFormat,
    OutputOption,
    console,
    fail,
    handles_errors,
    print_json,
    settings,
)

if TYPE_CHECKING:
    import httpx

CommentOption = typer.Option("", "--comment", "-m", help="why; stored with the decision")


def approve(
    deployment: str = typer.Argument(..., help="deployment id (lockstep list --status awaiting_approval)"),
    comment: str = CommentOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Approve a deployment awaiting approval, as the user of LOCKSTEP_TOKEN.

    Goes through the API at LOCKSTEP_API_URL, which decides who the token's user is and whether
    the approval counts; a refusal exits 1 with the API's reason.

    Example: LOCKSTEP_TOKEN=$(cat .lockstep/tokens/alice) lockstep approve ID -m "ship it"

    Docs: docs/approvals.md, docs/cli.md#lockstep-approve
    """
    _decide("approve", deployment, comment, output)


def reject(
    deployment: str = typer.Argument(..., help="deployment id"),
    comment: str = CommentOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Reject a deployment awaiting approval: it ends `rejected` before any change.

    Example: lockstep reject shop.production.0d1a26e67d --comment "not during the sale"

    Docs: docs/approvals.md, docs/cli.md#lockstep-reject
    """
    _decide("reject", deployment, comment, output)


def api_url() -> str:
    explicit = os.environ.get("LOCKSTEP_API_URL")
    if explicit:
        return explicit.rstrip("/")
    listen = settings().api
    return f"http://{listen.host}:{listen.port}"


def refusal(what: str, response: httpx.Response, docs: str = "") -> str:
    """The line reporting an API refusal: its status, its reason and the docs page that explains
    it (a token problem is the API's authentication; anything else `docs`, when given)."""
    page = "docs/api.md#authentication" if response.status_code == 401 else docs
    return f"{what} refused ({response.status_code}): {api_detail(response)}" + (f" ({page})" if page else "")


def api_detail(response: httpx.Response) -> str:
    """The reason an API answer gives (`detail`), else its body."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    detail = body.get("detail", response.text) if isinstance(body, dict) else response.text
    return str(detail)


@handles_errors
def _decide(decision: str, deployment: str, comment: str, output: OutputFormat) -> None:
    import httpx

    from lockstep.domain.approvals import ApprovalAnswer

    token = os.environ.get("LOCKSTEP_TOKEN", "").strip()
    if not token:
        raise fail(
            "LOCKSTEP_TOKEN is not set: approvals go through the API as the token's user (docs/approvals.md)"
        )
    url = f"{api_url()}/deployments/{deployment}/{decision}"
    try:
        response = httpx.post(
            url, json={"comment": comment}, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
    except (httpx.HTTPError, httpx.InvalidURL) as err:  # InvalidURL is no HTTPError
        raise fail(
            f"cannot reach the Lockstep API at {api_url()}: {err} (LOCKSTEP_API_URL; docs/api.md)"
        ) from err
    if response.status_code != 200:
        detail = api_detail(response)
        if output == OutputFormat.json:
            print_json({"error": str(detail), "status_code": response.status_code})
        raise fail(refusal(decision, response, "docs/approvals.md"))
    answer = ApprovalAnswer.model_validate(response.json())
    if output == OutputFormat.json:
        print_json(answer)
        return
    console.print(
        f"{answer.message} ({deployment}: {answer.approvals} of {answer.required})", highlight=False
    )
