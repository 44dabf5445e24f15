"""The ``xcomkit`` sub-command groups are built when used (xcomkit.shell.groups)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from xcomkit import cli
from xcomkit.shell.groups import LaterGroups, sub_app

GROUPS = ["db", "users", "dags", "storage", "xcom"]


def _run(args: list[str]) -> Any:
    return CliRunner().invoke(cli.app, args, prog_name="xcomkit")


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the sub-command groups typer builds during a test."""
    names = {id(sub): name for name, sub in cli._Xcomkit.later.items()}
    seen: list[str] = []
    real = typer.main.get_group

    def get_group(sub: typer.Typer) -> Any:
        if id(sub) in names:
            seen.append(names[id(sub)])
        return real(sub)

    monkeypatch.setattr(typer.main, "get_group", get_group)
    return seen


def test_serve_builds_none_of_the_groups(built: list[str]) -> None:
    result = _run(["serve", "--help"])
    assert result.exit_code == 0
    assert "Usage: xcomkit serve [OPTIONS]" in result.output
    assert built == []


def test_a_group_is_built_when_it_runs(built: list[str]) -> None:
    result = _run(["db", "--help"])
    assert result.exit_code == 0
    assert result.output.startswith(
        "Usage: xcomkit db [OPTIONS] COMMAND [ARGS]...\n\n  Database schema."
    )
    assert built == ["db"]


def test_help_lists_every_group_in_order_after_the_commands(built: list[str]) -> None:
    result = _run(["--help"])
    assert result.exit_code == 0
    commands = result.output.split("Commands:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in commands] == ["login", "logout", "serve", "seed", *GROUPS]
    assert "  storage  Values kept in object storage." in commands
    assert built == GROUPS


def test_a_one_command_group_stays_a_group() -> None:
    result = _run(["storage", "--help"])
    assert result.exit_code == 0
    assert "Usage: xcomkit storage [OPTIONS] COMMAND [ARGS]..." in result.output
    assert "  gc  " in result.output


def test_a_mistyped_group_is_suggested() -> None:
    result = _run(["dbb"])
    assert result.exit_code == 2
    assert "No such command 'dbb'. Did you mean 'db'?" in result.output


def test_the_commands_mapping_adds_replaces_and_removes() -> None:
    first, second = sub_app("First."), sub_app("Second.")

    @first.command("one")
    def one() -> None:
        """One."""

    @second.command("two")
    def two() -> None:
        """Two."""

    class Root(LaterGroups):
        later: ClassVar[dict[str, typer.Typer]] = {"first": first, "second": second}

    group = Root(name="root", commands={})
    assert list(group.commands) == ["first", "second"] == group.list_commands(None)
    assert "first" in group.commands and "third" not in group.commands
    assert group.get_command(None, "third") is None  # type: ignore[arg-type]
    replacement = (
        typer.main.get_command(sub_app("Replaced.")) if False else group.commands["second"]
    )
    group.add_command(replacement, "third")
    del group.commands["first"]
    assert list(group.commands) == ["second", "third"]
    assert len(group.commands) == 2
