"""Sub-command groups of the ``xcomkit`` command line, built when first used.

typer turns a command into a click command by reading its function's signature: each
parameter's annotation is evaluated and its options built. For all of ``xcomkit``'s
commands that took ~45 ms at every start, ~30 ms of it for the groups (``db``,
``users``, ``dags``, ``storage``, ``xcom``) that ``xcomkit serve`` never looks at
(docs/performance.md, "Start-up"). The top-level group (:class:`LaterGroups`) knows
those groups by name and builds one when it is looked up: to run it, to list it in
``--help``, or to complete or suggest a name. Help, usage lines and errors are the same
as when the groups are added with ``app.add_typer``.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, ClassVar

import typer
import typer.main

from xcomkit.shell.errors import XcomkitGroup


def sub_app(help: str) -> typer.Typer:
    """A sub-command group for :attr:`LaterGroups.later`: ``typer.Typer(help=help,
    no_args_is_help=True)`` with the root's plain click help (``rich_markup_mode=None``),
    which ``app.add_typer`` would hand down to it."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


class _BuiltOnUse(MutableMapping[str, Any]):
    """A group's commands by name: those given, then :attr:`LaterGroups.later`'s, each of
    the latter built on first access. Iterating gives the names only, in that order."""

    def __init__(self, built: dict[str, Any], later: dict[str, typer.Typer]) -> None:
        self._built = dict(built)
        self._later = {name: sub for name, sub in later.items() if name not in built}
        self._names = [*self._built, *self._later]

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            sub = self._later.pop(name)  # KeyError: no such command
            command = typer.main.get_group(sub)  # a group even with one command
            command.name = name
            self._built[name] = command
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._later.pop(name, None)
        if name not in self._names:
            self._names.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._built and name not in self._later:
            raise KeyError(name)
        self._built.pop(name, None)
        self._later.pop(name, None)
        self._names.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in self._later


class LaterGroups(XcomkitGroup):
    """:class:`XcomkitGroup` whose sub-command groups in :attr:`later` are built when first
    looked up (a subclass names them)."""

    #: Sub-command groups (made with :func:`sub_app`) by name, listed after the commands.
    later: ClassVar[dict[str, typer.Typer]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _BuiltOnUse(dict(self.commands), self.later)

    def list_commands(self, ctx: Any) -> list[str]:
        # TyperGroup's reads commands.items(), which would build every group.
        return list(self.commands)
