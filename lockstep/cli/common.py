"""What every command shares: settings, error reporting with exit codes, output format.

Exit codes (docs/cli.md#exit-codes): 0 success, 1 a failed or refused operation, 2 bad usage (typer's own).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Coroutine, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import typer
from pydantic import BaseModel
from rich.console import Console

from lockstep.cli.unexpected import debug_enabled
from lockstep.domain.errors import LockstepError
from lockstep.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError
    from temporalio.service import RPCError

P = ParamSpec("P")
T = TypeVar("T")

# Piped into a file or `less`, tables get room for ids and paths instead of rich's 80 columns
# (COLUMNS, when set, still decides).
_PIPED_WIDTH = 200
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else _PIPED_WIDTH)
err_console = Console(stderr=True, soft_wrap=True)  # one error, one line, whatever the width


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


OutputOption = typer.Option(OutputFormat.text, "--output", "-o", help="text, or json for scripts")


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def handles_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Report Lockstep, database and Temporal errors as one line naming the cause, exit 1 (with
    --debug, after their trace). Anything else goes on to the entry point's net
    (`lockstep.cli.unexpected`)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            message = _one_line(err)
            if message is None:
                raise
            if debug_enabled():
                traceback.print_exc()
            raise fail(message) from None

    return wrapper


def _one_line(err: Exception) -> str | None:
    """The line reporting a Lockstep, database or Temporal error; None for any other error.

    The database and Temporal libraries are imported only by the commands that use them (a
    command that never imported one cannot have met its error), so they are looked up in
    `sys.modules` rather than imported here: every `lockstep` process imports this module.
    """
    if isinstance(err, LockstepError):
        return str(err)
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(err, sqlalchemy_exc.SQLAlchemyError):
        cause: object = cast("DBAPIError", err).orig if isinstance(err, sqlalchemy_exc.DBAPIError) else err
        return f"the database is unavailable: {str(cause).strip().splitlines()[0]}"
    temporal_service = sys.modules.get("temporalio.service")
    if temporal_service is not None and isinstance(err, temporal_service.RPCError):
        return f"Temporal answered with an error: {cast('RPCError', err).message}"
    return None


def settings() -> Settings:
    return load_settings()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def print_json(
    data: BaseModel | Sequence[BaseModel] | Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> None:
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json")
    elif isinstance(data, Sequence):
        payload = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    else:
        payload = dict(data)
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")
