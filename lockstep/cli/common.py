"""What every command shares: settings, error reporting with exit codes, output format.

Exit codes (SPEC §7): 0 success, 1 a failed or refused operation, 2 bad usage (typer's own).
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import traceback
from collections.abc import Callable, Coroutine, Mapping, Sequence
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from temporalio.service import RPCError

from lockstep.cli.unexpected import debug_enabled
from lockstep.domain.errors import LockstepError
from lockstep.settings import Settings, load_settings

P = ParamSpec("P")
T = TypeVar("T")

console = Console()
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
        except (LockstepError, SQLAlchemyError, RPCError) as err:
            if debug_enabled():
                traceback.print_exc()
            raise fail(_one_line(err)) from None

    return wrapper


def _one_line(err: LockstepError | SQLAlchemyError | RPCError) -> str:
    if isinstance(err, SQLAlchemyError):
        cause = str(err.orig if isinstance(err, DBAPIError) else err).strip().splitlines()[0]
        return f"the database is unavailable: {cause}"
    if isinstance(err, RPCError):
        return f"Temporal answered with an error: {err.message}"
    return str(err)


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
