"""`handles_errors`: Lockstep, database and Temporal errors become one line and exit 1; anything
else goes on, untouched, to the entry point's net. (The CLI imports the database and Temporal
libraries lazily, so it recognises their errors without importing them itself.)"""

from __future__ import annotations

import pytest
import typer
from sqlalchemy.exc import OperationalError
from temporalio.service import RPCError, RPCStatusCode

from lockstep.cli.common import handles_errors
from lockstep.domain.errors import LockstepError


def _raising(err: BaseException) -> None:
    @handles_errors
    def command() -> None:
        raise err

    command()


@pytest.mark.parametrize(
    ("err", "line"),
    [
        (LockstepError("no such application 'nothing'"), "no such application 'nothing'"),
        (
            OperationalError("SELECT 1", {}, Exception("connection refused\nsecond line")),
            "the database is unavailable: connection refused",
        ),
        (
            RPCError("namespace not found", RPCStatusCode.NOT_FOUND, b""),
            "Temporal answered with an error: namespace not found",
        ),
    ],
    ids=["lockstep", "database", "temporal"],
)
def test_an_expected_error_is_one_line_and_exit_1(
    err: Exception, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as ended:
        _raising(err)
    assert ended.value.exit_code == 1
    assert capsys.readouterr().err.strip() == f"error: {line}"


def test_any_other_error_goes_on_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    err = KeyError("bug")
    with pytest.raises(KeyError) as raised:
        _raising(err)
    assert raised.value is err
    assert capsys.readouterr().err == ""


def test_an_exit_goes_on_unchanged() -> None:
    with pytest.raises(typer.Exit) as ended:
        _raising(typer.Exit(2))
    assert ended.value.exit_code == 2
