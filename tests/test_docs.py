"""Documentation kept honest: every setting and every CLI command appears in the README."""

from __future__ import annotations

from pathlib import Path

import click

from replaydeck.cli import cli
from replaydeck.settings import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def test_every_setting_is_in_the_config_table() -> None:
    for name in SETTINGS:
        if name == "record_reason":
            continue  # derived, not settable
        assert f"| `{name}` |" in README, name
        assert f"`REPLAYDECK_{name.upper()}`" in README, name


def test_every_start_flag_is_documented() -> None:
    start = cli.get_command(click.Context(cli), "start")
    assert start is not None
    for param in start.params:
        if isinstance(param, click.Option):
            longest = max(param.opts, key=len)
            assert longest in README, longest


def test_every_command_is_documented() -> None:
    def walk(group: click.Group, prefix: str) -> list[str]:
        out = []
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            out.append(f"{prefix}{name}")
            if isinstance(cmd, click.Group):
                out.extend(walk(cmd, f"{prefix}{name} "))
        return out

    for command in walk(cli, "replaydeck "):
        assert command in README, command
