"""`replaydeck start`: the proxy (and, unless --no-ui, the dashboard)."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

import click

from replaydeck._version import __version__
from replaydeck.errors import ReplaydeckError
from replaydeck.settings import Mode, Settings, load_settings, parse_routes


def _escapes(stream: TextIO) -> tuple[str, str, str]:
    """(bold, yellow, reset) for a terminal, empty strings when piped or NO_COLOR is set
    (FORCE_COLOR forces them)."""
    env = os.environ
    styled = bool(env.get("FORCE_COLOR")) or (
        not env.get("NO_COLOR") and env.get("TERM") != "dumb"
        and hasattr(stream, "isatty") and stream.isatty()
    )
    return ("\x1b[1m", "\x1b[33m", "\x1b[0m") if styled else ("", "", "")


def banner(settings: Settings, url: str, dashboard_url: str | None = None) -> None:
    """What is listening where, on stderr, written in one go.

    Built by hand like the request log (logs.py), not with rich: importing rich's
    console cost more than a tenth of the start-up to a healthy /health."""
    stream = sys.stderr
    b, y, r = _escapes(stream)
    mode = settings.record.value
    why = settings.record_reason
    lines = [
        f"{b}replaydeck{r} {__version__}  listening on {b}{url}{r}",
        f"  mode      {b}{mode}{r} ({why})",
        f"  timing    {settings.timing}",
        f"  tapes     {settings.tapes_dir}",
        f"  upstream  {settings.upstream}",
    ]
    for prefix, target in settings.all_routes().items():
        lines.append(f"  route     {url}{prefix} -> {target}")
    if settings.ui:
        lines.append(f"  dashboard {b}{dashboard_url or url + '/'}{r}")
        if dashboard_url and "token=" in dashboard_url:
            lines.append("            (this URL carries the dashboard's access token: keep it private)")
    lines += [
        "  point your SDKs here:",
        f"    export OPENAI_BASE_URL={url}/v1",
        f"    export ANTHROPIC_BASE_URL={url}/anthropic",
        f"    export OLLAMA_HOST={url}/ollama",
    ]
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"{y}warning:{r} bound to {settings.host}: other machines can reach this proxy")
    try:
        stream.write("\n".join(lines) + "\n")
        stream.flush()
    except (OSError, ValueError):  # a closed stderr must not stop the proxy from starting
        pass


@click.command()
@click.option("-p", "--port", type=int, default=None, help="Port to listen on (4747).")
@click.option("--host", default=None, help="Address to bind (127.0.0.1).")
@click.option("--upstream", default=None, help="Default upstream URL (https://api.openai.com).")
@click.option("--route", "routes", multiple=True, metavar="PREFIX=URL",
              help="Another upstream by path prefix; repeatable.")
@click.option("--tapes-dir", default=None, help="Tape directory (.replaydeck/tapes).")
@click.option("--record", type=click.Choice([m.value for m in Mode]), default=None,
              help="auto: record misses; off: pure proxy; replay-only: fail on a miss.")
@click.option("--timing", default=None, metavar="original|instant|FACTOR",
              help="Replay pacing (original); FACTOR multiplies every recorded gap.")
@click.option("--no-ui", "no_ui", is_flag=True, default=None, help="Do not serve the dashboard.")
@click.option("--quiet", is_flag=True, default=None, help="No per-request log lines.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="Per-request log format (text).")
@click.option("--record-errors", is_flag=True, default=None, help="Also record 4xx/5xx responses.")
@click.option("--sequence", is_flag=True, default=None,
              help="Record repeated identical requests as a series and replay them in order.")
def start(**opts: Any) -> None:
    """Start the recording/replaying proxy."""
    flags: dict[str, Any] = {
        "port": opts["port"],
        "host": opts["host"],
        "upstream": opts["upstream"],
        "tapes_dir": opts["tapes_dir"],
        "record": opts["record"],
        "timing": opts["timing"],
        "quiet": opts["quiet"],
        "log_format": opts["log_format"],
        "record_errors": opts["record_errors"],
        "sequence": opts["sequence"],
        "ui": False if opts["no_ui"] else None,
    }
    try:
        if opts["routes"]:
            flags["routes"] = parse_routes(list(opts["routes"]))
        settings = load_settings(flags)
        from replaydeck.server import Server

        server = Server(settings)
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    banner(settings, server.url, server.app.control.login_url(server.url))
    try:
        server.run()
    except KeyboardInterrupt:  # pragma: no cover - uvicorn handles SIGINT itself
        pass
    sys.stderr.flush()
