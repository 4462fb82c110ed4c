"""The `replaydeck` command. Each command group lives in its own module.

This is the edge where ReplaydeckError becomes a click error (a clean message and
exit status 1, never a traceback); nothing below cli/ imports click or exits.
"""

from __future__ import annotations

import click

from replaydeck._version import __version__
from replaydeck.cli.oneshot import export, record, replay
from replaydeck.cli.start import start
from replaydeck.cli.tapes import tapes


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="replaydeck")
def cli() -> None:
    """Record/replay proxy and debugger for LLM APIs."""


cli.add_command(start)
cli.add_command(record)
cli.add_command(replay)
cli.add_command(export)
cli.add_command(tapes)


def main() -> None:
    cli()
