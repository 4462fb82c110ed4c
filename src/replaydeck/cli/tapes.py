"""`replaydeck tapes ls|show|rm|prune|verify|import|why|migrate`.

Every command reads the same configuration as `start` (``settings.load_settings``:
config file, ``REPLAYDECK_*``, flags) and takes ``--tapes-dir`` to override where
the tapes are. The logic lives in ``replaydeck.tapetools``; this module parses
flags, renders results and turns errors into exit statuses.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from replaydeck.errors import ReplaydeckError
from replaydeck.settings import Settings, load_settings
from replaydeck.storage.filesystem import TapeStore

TAPES_DIR = click.option("--tapes-dir", default=None, type=click.Path(file_okay=False),
                         help="Tape directory (default from config, else .replaydeck/tapes).")
FILTER = click.option("--filter", "filters", multiple=True, metavar="FIELD=PATTERN",
                      help="Only tapes whose FIELD matches (id, key, provider, model, endpoint, "
                           "method, route, status, stream); * and ? allowed; repeatable.")


def _settings(tapes_dir: str | None) -> Settings:
    try:
        return load_settings({"tapes_dir": tapes_dir})
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None


def _store(tapes_dir: str | None) -> TapeStore:
    s = _settings(tapes_dir)
    return TapeStore(s.tapes_dir, cache_size=0)


def _app(tapes_dir: str | None) -> Any:
    from replaydeck.proxy.app import ProxyApp

    s = _settings(tapes_dir)
    return ProxyApp(s, store=TapeStore(s.tapes_dir, cache_size=0))


def _out() -> Console:
    # piped output (scripts, CI logs) is never cut to 80 columns
    wide = None if sys.stdout.isatty() else 240
    return Console(highlight=False, soft_wrap=True, width=wide)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return str(n)


def _when(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else "-"


@click.group()
def tapes() -> None:
    """List, inspect, check, import and upgrade tapes."""


@tapes.command("ls")
@TAPES_DIR
@FILTER
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
def ls_(tapes_dir: str | None, filters: tuple[str, ...], as_json: bool) -> None:
    """List tapes: id, provider, model, endpoint, recorded at, size, hits, last used."""
    from replaydeck.tapetools.catalog import parse_filters, scan, select

    try:
        rows = select(scan(_store(tapes_dir)), parse_filters(filters))
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(orjson.dumps([r.to_json() for r in rows], option=orjson.OPT_INDENT_2))
        return
    table = Table(box=None, pad_edge=False)
    for col in ("id", "provider", "model", "endpoint", "recorded at", "size", "hits",
                "last used"):
        table.add_column(col, justify="right" if col in ("size", "hits") else "left",
                         no_wrap=True)
    for r in rows:
        d = r.to_json()
        if r.tape is None:
            table.add_row(escape(r.name[:12]), "[red]unreadable[/red]", escape(r.error or ""),
                          "", "", _size(r.size), "", "")
            continue
        table.add_row(r.id, d["provider"], escape(d["model"] or "-"),
                      escape(f"{d['method']} {d['endpoint']}"), _when(d["recorded_at"]),
                      _size(r.size), str(r.hits), _when(d["last_used"]))
    console = _out()
    console.print(table)
    console.print(f"{len(rows)} tape{'s' if len(rows) != 1 else ''}", style="dim")


@tapes.command()
@TAPES_DIR
@click.argument("ident", metavar="ID")
@click.option("--raw", is_flag=True, help="Print the tape file as it is.")
def show(tapes_dir: str | None, ident: str, raw: bool) -> None:
    """Show a tape: metadata, the conversation and the reply."""
    from replaydeck.tapetools.catalog import find, scan
    from replaydeck.tapetools.conversation import reply, request_turns

    store = _store(tapes_dir)
    rows = find(scan(store), ident)
    if not rows:
        raise click.ClickException(f"no tape {ident!r} in {store.root} (see `replaydeck tapes ls`)")
    if len(rows) > 1:
        raise click.ClickException(f"{ident!r} names {len(rows)} tapes: "
                                   + ", ".join(r.name[:16] for r in rows))
    row = rows[0]
    if raw:
        sys.stdout.write(store.path(row.name).read_text("utf-8"))
        return
    if row.tape is None:
        raise click.ClickException(row.error or "unreadable tape")
    t = row.tape
    c = _out()
    c.print(f"[bold]tape {t.id}[/bold]  {store.path(row.name)}")
    for label, value in (("key", row.name), ("provider", t.provider), ("model", t.model or "-"),
                         ("request", f"{t.method} {t.route}{t.path}"
                                     + (f"?{t.query}" if t.query else "")),
                         ("stream", "-" if t.stream is None else str(t.stream).lower()),
                         ("status", str(t.status)), ("recorded", _when(t.recorded_at)),
                         ("chunks", f"{len(t.chunks)}, {sum(ch.delay_ms for ch in t.chunks):.0f}"
                                    f" ms in all (first byte {t.chunks[0].delay_ms:.0f} ms)"
                          if t.chunks else "0"),
                         ("usage", f"{row.hits} hits, last used "
                                   f"{_when(row.to_json()['last_used'])}"),
                         ("format", t.legacy or f"replaydeck {t.version}")):
        c.print(f"  {label:<9}{escape(str(value))}")
    c.print("\n[bold]conversation[/bold]")
    for turn in request_turns(t):
        c.print(f"  [cyan]{escape(turn.role)}[/cyan]: {escape(turn.text)}")
    summary = reply(t)
    c.print("\n[bold]reply[/bold]")
    if summary.get("text"):
        c.print(f"  [green]assistant[/green]: {escape(summary['text'])}")
    for call in summary.get("tool_calls") or []:
        args = call.get("arguments")
        shown = args if isinstance(args, str) else orjson.dumps(args).decode()
        c.print(f"  [magenta]tool call[/magenta] {escape(str(call.get('name')))}({escape(shown)})")
    if summary.get("error"):
        c.print(f"  [red]error[/red]: {escape(orjson.dumps(summary['error']).decode())}")
    extra = [f"{k} {summary[k]}" for k in ("stop_reason",) if summary.get(k)]
    if summary.get("usage"):
        extra.append("usage " + orjson.dumps(summary["usage"]).decode())
    if extra:
        c.print("  " + escape("; ".join(extra)), style="dim")


def _remove(store: TapeStore, rows: list[Any], dry_run: bool, verb: str) -> None:
    for row in rows:
        if not dry_run:
            store.delete(row.name)
        click.echo(f"{'would remove' if dry_run else 'removed'} {row.id} {row.name}.json")
    click.echo(f"{len(rows)} tape{'s' if len(rows) != 1 else ''} {verb}"
               + (" (dry run)" if dry_run else ""))


@tapes.command()
@TAPES_DIR
@click.argument("idents", nargs=-1, metavar="[ID]...")
@FILTER
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
def rm(tapes_dir: str | None, idents: tuple[str, ...], filters: tuple[str, ...],
       dry_run: bool) -> None:
    """Remove tapes by id (or key prefix), or every tape matching --filter."""
    from replaydeck.tapetools.catalog import find, parse_filters, scan, select

    if not idents and not filters:
        raise click.UsageError("give tape ids or --filter FIELD=PATTERN")
    store = _store(tapes_dir)
    try:
        rows = scan(store)
        chosen = select(rows, parse_filters(filters)) if filters else []
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    for ident in idents:
        found = find(rows, ident)
        if not found:
            raise click.ClickException(f"no tape {ident!r} in {store.root}")
        if len(found) > 1:
            raise click.ClickException(f"{ident!r} names {len(found)} tapes: "
                                       + ", ".join(r.name[:16] for r in found))
        if filters:
            found = [r for r in found if r in chosen]
        chosen.extend(r for r in found if r not in chosen)
    _remove(store, chosen, dry_run, "removed" if not dry_run else "selected")


@tapes.command()
@TAPES_DIR
@click.option("--unused-since", "since", required=True, metavar="DATE",
              help="YYYY-MM-DD, an ISO date-time, or an age such as 30d.")
@FILTER
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
def prune(tapes_dir: str | None, since: str, filters: tuple[str, ...], dry_run: bool) -> None:
    """Remove tapes no request has used since DATE (replays counted in .usage.json)."""
    from replaydeck.tapetools.catalog import parse_filters, parse_since, scan, select, unused_since

    store = _store(tapes_dir)
    try:
        when = parse_since(since, datetime.now(UTC))
        rows = unused_since(select(scan(store), parse_filters(filters)), when)
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    _remove(store, rows, dry_run, "pruned" if not dry_run else "selected")


@tapes.command()
@TAPES_DIR
def verify(tapes_dir: str | None) -> None:
    """Check every tape's format, structure and that no secret was stored (for CI)."""
    from replaydeck.redaction import Redactor
    from replaydeck.tapetools.verify import verify_dir

    s = _settings(tapes_dir)
    report = verify_dir(Path(s.tapes_dir),
                        Redactor(s.redact_headers, s.redact_query, s.redact_patterns))
    for finding in report.findings:
        click.echo(str(finding))
    if not report.ok:
        click.echo(f"{len(report.findings)} problem{'s' if len(report.findings) != 1 else ''} "
                   f"in {report.files_with_problems} of {report.checked} tapes", err=True)
        sys.exit(1)
    click.echo(f"{report.checked} tape{'s' if report.checked != 1 else ''} OK "
               f"({s.tapes_dir})")


@tapes.command("import")
@TAPES_DIR
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--request", "request", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The request an asgi-replay log answers (REQUEST.json).")
@click.option("--overwrite", is_flag=True, help="Replace tapes that already exist.")
def import_(tapes_dir: str | None, paths: tuple[Path, ...], request: Path | None,
            overwrite: bool) -> None:
    """Import HAR files, asgi-replay logs and playingpack tapes/cache files."""
    from replaydeck.tapetools.importers import import_paths
    from replaydeck.tapetools.requests import load_spec

    app = _app(tapes_dir)
    try:
        spec = load_spec(request) if request is not None else None
        done, failed = import_paths(app, list(paths), spec, overwrite)
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    for item in done:
        state = "imported" if item.written else "skipped"
        line = f"{state} {item.source} ({item.kind}) -> {item.key}.json, tape {item.tape_id}"
        click.echo(line + (f": {item.note}" if item.note else ""))
    for fail in failed:
        click.echo(f"error: {fail.problem}", err=True)
    if failed:
        sys.exit(1)


@tapes.command()
@TAPES_DIR
@click.argument("request", metavar="REQUEST.json|ID")
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON.")
def why(tapes_dir: str | None, request: str, as_json: bool) -> None:
    """Explain which tape a request would replay, or why none matches.

    REQUEST.json is a request body (for POST /v1/chat/completions), an object with
    method, path, headers and body, or a tape (its request); ID is a request id from
    the history (as the dashboard shows it). Exits 1 on a miss."""
    from replaydeck.tapetools.requests import load_from_history, load_spec
    from replaydeck.tapetools.why import why as explain

    app = _app(tapes_dir)
    then = None
    try:
        if Path(request).exists() or request.endswith(".json"):
            spec = load_spec(Path(request))
        else:
            spec, then = load_from_history(Path(app.settings.history_path), request)
        answer = explain(app, spec)
    except ReplaydeckError as exc:
        raise click.ClickException(str(exc)) from None
    if then is not None and then != answer.key and not as_json:
        click.echo(f"note: the history keeps the request redacted; it had key {then[:12]} "
                   f"when it was sent, this explanation is for key {answer.key[:12]}", err=True)
    if as_json:
        click.echo(orjson.dumps({
            "key": answer.key, "provider": answer.provider, "method": answer.method,
            "path": answer.path, "tape": answer.tape.id if answer.tape else None,
            "message": answer.message or None, "nearest": [n.to_json() for n in answer.near],
        }, option=orjson.OPT_INDENT_2))
    elif answer.tape is not None:
        t = answer.tape
        click.echo(f"{answer.method} {answer.path} (key {answer.key[:12]}) replays tape {t.id}: "
                   f"{t.model or '-'}, recorded {_when(t.recorded_at)}, status {t.status}")
    else:
        click.echo(answer.message)
        for near in answer.near:
            click.echo(f"  tape {near.tape_id} ({near.key[:12]}, {near.path}):")
            for d in near.differences:
                click.echo(f"    {d.path}: request {_json(d.ours)} | tape {_json(d.theirs)}")
    if answer.tape is None:
        sys.exit(1)


def _json(value: Any) -> str:
    text = orjson.dumps(value).decode() if value is not None else "(absent)"
    return text if len(text) <= 70 else text[:69] + "…"


@tapes.command()
@TAPES_DIR
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
def migrate(tapes_dir: str | None, dry_run: bool) -> None:
    """Upgrade tapes of an older format (and playingpack tapes) in place."""
    from replaydeck.tapetools.migrate import migrate_dir

    s = _settings(tapes_dir)
    outcomes = migrate_dir(_app(tapes_dir), Path(s.tapes_dir), dry_run)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
        if o.status == "current":
            continue
        line = f"{o.status}: {o.file}" + (f": {o.detail}" if o.detail else "")
        click.echo(line, err=o.status == "error")
    total = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no tapes"
    click.echo(total + (" (dry run)" if dry_run else ""))
    if counts.get("error"):
        sys.exit(1)
