"""One line and a documented exit code for every failure of the ``xcomkit`` command.

Commands raise :class:`CliError` (or let a known library error through); the command
group (:class:`XcomkitGroup`) prints ``error: <message>`` on standard error and exits
with the error's code. With ``xcomkit --debug`` the traceback is printed as well.

Exit codes (for scripts; docs/cli.md lists them):

====  ===========================================================================
0     success
1     not found (no such XCom, DAG, DAG run, task or user); also an unexpected error
2     usage: bad arguments or input (click's own usage errors use 2 too), a 400, 422
      or any other 4xx not listed here
3     authentication: not logged in, a refused login, an expired token, a 401/403
4     conflict: the XCom exists (409) and ``--overwrite`` was not given
5     server or connection: no answer, a 5xx, a database that cannot be opened,
      a port that is in use
====  ===========================================================================
"""

from __future__ import annotations

import os
import sys
import traceback
from functools import cache
from typing import TYPE_CHECKING, Any

import typer
import typer.core

if TYPE_CHECKING:
    from rich.console import Console

OK = 0
NOT_FOUND = 1
USAGE = 2
AUTH = 3
CONFLICT = 4
SERVER = 5

#: Set by ``xcomkit --debug`` for the current invocation.
debug = False


@cache
def _stderr() -> Console:
    # Made on the first error: rich is not imported by a command that does not print
    # with it (``xcomkit serve``; docs/performance.md, "Start-up").
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """A failure to report as one line, exiting with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = NOT_FOUND) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _from_library(exc: Exception) -> CliError | None:
    """A :class:`CliError` for a known library error, or ``None``."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

    if isinstance(exc, ArgumentError):
        return CliError(
            f"not a database URL ({exc}); use e.g. sqlite:///xcomkit.db or "
            "postgresql://user:password@host/dbname",
            USAGE,
        )
    if isinstance(exc, OperationalError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return CliError(f"cannot use the database: {reason}", SERVER)
    if isinstance(exc, DBAPIError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return CliError(f"database error: {reason}", SERVER)
    if isinstance(exc, ModuleNotFoundError) and exc.name in ("psycopg", "psycopg2"):
        return CliError("PostgreSQL needs psycopg: pip install 'xcomkit[postgres]'", USAGE)
    return None


class XcomkitGroup(typer.core.TyperGroup):
    """The top-level command group: every failure below it becomes one line and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # click's own exits and usage errors (exit 2), printed by click
        except BrokenPipeError:
            # The reader went away (``xcomkit xcom list ... | head``): stop quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(1) from None
        except CliError as exc:
            _report(exc, exc)
        except Exception as exc:
            known = _from_library(exc)
            if known is None:
                known = CliError(
                    f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                    NOT_FOUND,
                )
            _report(known, exc)
        return None  # pragma: no cover - _report always exits


def _report(error: CliError, cause: BaseException) -> None:
    if debug:
        _stderr().print("".join(traceback.format_exception(cause)), end="", markup=False)
    _stderr().print(f"error: {error.message}", markup=False)
    raise typer.Exit(error.exit_code)
