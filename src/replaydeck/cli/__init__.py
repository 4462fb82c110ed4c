"""The `replaydeck` command. Each command group lives in its own module.

This is the edge where ReplaydeckError becomes a click error (a clean message and
exit status 1, never a traceback); nothing below cli/ imports click or exits.

Commands are imported when they are invoked (or listed by --help), not when the
CLI loads: `replaydeck start` does not pay for the tape tools' and one-shot
commands' imports on its way to a healthy /health.
"""

from __future__ import annotations

import importlib

import click

from replaydeck._version import __version__

#: command name -> "module:attribute" of its click command
COMMANDS: dict[str, str] = {
    "start": "replaydeck.cli.start:start",
    "record": "replaydeck.cli.oneshot:record",
    "replay": "replaydeck.cli.oneshot:replay",
    "export": "replaydeck.cli.oneshot:export",
    "tapes": "replaydeck.cli.tapes:tapes",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.lazy, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):  # pragma: no cover - a wrong table entry
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="replaydeck")
def cli() -> None:
    """Record/replay proxy and debugger for LLM APIs."""


def main() -> None:
    cli()
