"""`replaydeck record`, `replay` and `export`: one-shot capture, asgi-replay style.

Defaults follow asgi-replay (port 8000, host 127.0.0.1), not `start` (4747).
The listening URL goes to stderr when the server is up; `record` prints one
``METHOD PATH written to FILE`` line per request on stdout, as asgi-replay does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from replaydeck.errors import ReplaydeckError
from replaydeck.settings import Mode, load_settings


def _serve(app: Any, host: str, port: int, what: str) -> None:
    import uvicorn

    from replaydeck.server import bind_socket, uvicorn_config

    try:
        sock = bind_socket(host, port)
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"replaydeck {what}: listening on http://{shown}:{sock.getsockname()[1]}",
               err=True)
    server = uvicorn.Server(uvicorn_config(app))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: a normal stop
        pass
    finally:
        sock.close()


def _announce(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


@click.command()
@click.argument("url")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-p", "--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--increment", is_flag=True,
              help="Write FILE-0.json, FILE-1.json, ... instead of overwriting FILE.")
def record(url: str, file: Path, port: int, host: str, increment: bool) -> None:
    """Proxy everything to URL and write each interaction to FILE."""
    from replaydeck.oneshot.record import record_app

    try:
        settings = load_settings({"upstream": url, "record": Mode.AUTO.value, "sequence": False,
                                  "record_errors": True, "ui": False})
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    app = record_app(settings, settings.upstream, file, increment, _announce)
    _serve(app, host, port, f"record -> {settings.upstream}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-p", "--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--timing", default=None, metavar="original|instant|FACTOR",
              help="Replay pacing (original); FACTOR multiplies every recorded gap.")
def replay(file: Path, port: int, host: str, timing: str | None) -> None:
    """Answer every HTTP request with the response recorded in FILE.

    FILE is a replaydeck tape or an asgi-replay log (detected automatically)."""
    from replaydeck.oneshot.files import load_any
    from replaydeck.oneshot.server import ReplayOne

    try:
        settings = load_settings({"timing": timing})
        tape = load_any(file)
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    _serve(ReplayOne(tape, settings.timing), host, port, f"replay {file} ({settings.timing})")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("app.py"), show_default=True, help="Where to write the app.")
def export(file: Path, output: Path) -> None:
    """Write a standalone ASGI app (standard library only) that replays FILE."""
    from replaydeck.oneshot.export import export as write_app
    from replaydeck.oneshot.files import load_any

    try:
        tape = load_any(file)
        path = write_app(tape, file.name, output)
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    module = path.stem if path.stem.isidentifier() else "app"
    click.echo(f"wrote {path}: serve it with `uvicorn {module}:app --port 8000`")
