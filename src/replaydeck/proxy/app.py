"""The proxy's ASGI app: the one module that awaits the client, the upstream and the store.

One request, start to end:
    read the body -> route -> provider -> key -> engine.decide(mode, tape?, in flight?)
    Replay  -> prepared tape reply (converted if the client's stream flag differs), paced
    Join    -> follow the in-flight recording of the same key (or replay it once saved)
    Forward -> upstream, relayed chunk by chunk as it arrives, recorded on a clean end
    Miss    -> provider-shaped 404 naming the nearest tape and the fields that differ

Raw ASGI on the hot path: no framework router between a replayed tape and the socket.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import asdict
from typing import Any

import orjson

from replaydeck import _aio
from replaydeck.engine import REPLAY, Forward, Join, Miss, decide
from replaydeck.errors import ReplaydeckError, TapeError, UpstreamError
from replaydeck.events import EventBus
from replaydeck.logs import RequestLog
from replaydeck.matching import (
    NearMiss,
    legacy_playingpack_hash,
)
from replaydeck.models import Tape
from replaydeck.providers import Provider, Registry, default_registry
from replaydeck.proxy import misses, report
from replaydeck.proxy.asgi import end_broken_stream, send_error, send_json
from replaydeck.proxy.control import host_allowed
from replaydeck.proxy.flight import Flight
from replaydeck.proxy.keys import Keyer, Prepared_Request
from replaydeck.proxy.relay import relay
from replaydeck.proxy.replay import prepare, send_prepared
from replaydeck.proxy.upstream import (
    Route,
    Router,
    make_client,
    request_target,
)
from replaydeck.proxy.upstream_client import UpstreamClient
from replaydeck.redaction import Redactor
from replaydeck.settings import Mode, Settings, Timing
from replaydeck.storage.filesystem import Entry, TapeStore
from replaydeck.wire.http import (
    forward_request_headers,
    is_event_stream,
    is_ndjson,
)

CONTROL_PREFIX = "/__replaydeck"

_ids = itertools.count(1)
#: a plain relay starts watching for its client hanging up after this long (seconds)
_WATCH_AFTER = 0.02
#: a finished recording is built and written this long after its answer ended (seconds)
_RECORD_AFTER = 0.005


class Runtime:
    """The settings that can change while the proxy runs (from the dashboard/API)."""

    def __init__(self, settings: Settings) -> None:
        self.mode: Mode = settings.record
        self.timing: Timing = settings.timing


class ProxyApp:
    def __init__(
        self,
        settings: Settings,
        *,
        store: TapeStore | None = None,
        registry: Registry | None = None,
        bus: EventBus | None = None,
        log: RequestLog | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        self.store = store or TapeStore(settings.tapes_dir, settings.tape_cache_size)
        self.registry = registry or default_registry()
        self.bus = bus or EventBus()
        self.log = log or RequestLog(settings.log_format, settings.quiet)
        self.router = Router(settings.upstream, settings.all_routes())
        self.redactor = Redactor(
            settings.redact_headers, settings.redact_query, settings.redact_patterns
        )
        self.keyer = Keyer(self.registry, self.router, tuple(settings.volatile_fields),
                           tuple(settings.key_headers), self.redactor.query)
        self.flights: dict[str, Flight] = {}
        self._hosts_seen: dict[bytes, bool] = {}
        self._epoch_no = 0
        self._epoch_loop: asyncio.AbstractEventLoop | None = None
        self.sequences: dict[str, list[Any]] = {}  # key -> [recorded, recording, next index]
        self.client: UpstreamClient | None = None
        self.control: Any = None  # the control-plane ASGI app, set by the server
        #: objects with async start()/stop(), run with the server's lifespan (history writer)
        self.services: list[Any] = []
        #: tape keys marked for re-recording: in auto mode the next match goes upstream
        self.rerecord: set[str] = set()
        self.upstream_calls = 0

    # ------------------------------------------------------------ lifecycle

    def http(self) -> UpstreamClient:
        if self.client is None:
            self.client = make_client(self.settings.connect_timeout, self.settings.read_timeout)
        return self.client

    async def aclose(self) -> None:
        try:
            self.store.usage.flush()
        except OSError as exc:
            self.log.warn(f"could not save tape usage: {exc}")
        pending = [f for f in self.flights.values() if f.task is not None and not f.task.done()]
        if pending:
            # let recordings whose clients are served finish their write; a stuck one is cut
            await asyncio.wait([f.task for f in pending if f.task is not None], timeout=5)
        for flight in list(self.flights.values()):
            if flight.task is not None:
                flight.task.cancel()
        if self.client is not None:
            await self.client.close()
            self.client = None
        self.log.flush()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            path: str = scope["path"]
            if path.startswith(CONTROL_PREFIX) or path == "/health" or (
                path == "/" and scope["method"] in ("GET", "HEAD") and _wants_html(scope)
            ):
                if self.control is not None:
                    await self.control(scope, receive, send)
                    return
            if not self._host_ok(scope["headers"]):
                # DNS rebinding: a web page that rebinds its name to 127.0.0.1 must not read
                # replayed tapes or miss explanations through the proxied paths either
                provider = self.registry.for_request(scope["method"], path)
                await send_json(send, 403, provider.error_body(
                    403, "forbidden Host header: replaydeck answers only requests addressed to it",
                    "forbidden_host"), [(b"x-should-retry", b"false")])
                return
            await self.handle(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket" and self.control is not None:
            await self.control(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    def _host_ok(self, raw_headers: list[tuple[bytes, bytes]]) -> bool:
        """The Host check of every proxied request, remembered per Host value (a client
        sends the same one every time; the set is bounded)."""
        host = None
        for k, v in raw_headers:
            if k == b"host":
                if host is not None:
                    return False  # two Hosts: refuse, never guess
                host = v
        if host is None:
            return False
        ok = self._hosts_seen.get(host)
        if ok is None:
            ok = host_allowed(host.decode("latin-1"), self.settings.host)
            if len(self._hosts_seen) < 256:
                self._hosts_seen[host] = ok
        return ok

    async def _lifespan(self, receive: Any, send: Any) -> None:
        flusher = None
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                for service in self.services:
                    await service.start()
                flusher = _aio.create_task(self._flush_usage_every(2.0), name="replaydeck-usage")
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                if flusher is not None:
                    flusher.cancel()
                for service in reversed(self.services):
                    await service.stop()
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _flush_usage_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            if self.store.usage.dirty:
                try:
                    await asyncio.to_thread(self.store.usage.flush)
                except OSError as exc:
                    self.log.warn(f"could not save tape usage: {exc}")

    # ------------------------------------------------------------ request

    def build(self, method: str, route: Route, path: str, query: str,
              headers: tuple[tuple[str, str], ...], body: bytes) -> Prepared_Request:
        return self.keyer.build(method, route, path, query, headers, body)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        raw_path: str = scope["path"]
        body = await _read_body(receive)
        if body is None:
            return  # client went away before sending its body
        route, req = self.keyer.from_scope(method, raw_path, scope.get("query_string", b""),
                                           scope["headers"], body, scope.get("raw_path"))
        query = req.record.query
        rid = f"{next(_ids):x}"
        log_path = raw_path + (f"?{self.redactor.query_string(query)}" if query else "")
        mode = self.runtime.mode

        entry: Entry | None = None
        seq: int | None = None  # position in a series (--sequence), else None
        if mode is not Mode.OFF:
            try:
                if self.settings.sequence:
                    entry, seq = self.sequence_lookup(req, mode)
                else:
                    entry = self.lookup(req)
            except TapeError as exc:
                await self._error(send, req.provider, 500, str(exc), "tape_corrupt")
                self.log.warn(str(exc))
                self.log.line(method=method, path=log_path, source="error", status=500,
                              duration_ms=_ms(started), note="corrupt tape")
                return
        # a series records each repeat separately, so it never joins another flight
        decision = decide(mode, entry is not None, seq is None and req.key in self.flights)
        if self.bus.active:
            self._publish_start(rid, req, route, type(decision).__name__.lower())

        if decision is REPLAY:
            assert entry is not None
            tape = entry.tape
            self.store.usage.hit(self.store.seq_key(tape.key, tape.sequence))
            await self.replay(entry, req, receive, send, arrived=started)
            self._done(rid, req, log_path, "tape", tape.status, started, tape)
        elif isinstance(decision, Miss):
            status = await self.miss(req, send)
            self._done(rid, req, log_path, "miss", status, started, None)
        elif isinstance(decision, Join):
            flight = self.flights.get(req.key)
            if flight is None:  # finished between the check and now: start over
                await self.handle_forward(rid, req, route, receive, send, True, log_path, started)
            else:
                await self.join(rid, flight, req, receive, send, log_path, started)
        elif isinstance(decision, Forward):
            await self.handle_forward(rid, req, route, receive, send, decision.record, log_path,
                                      started, sequence=seq)

    def sequence_lookup(self, req: Prepared_Request, mode: Mode) -> tuple[Entry | None, int | None]:
        """Which recording of a series answers this request, or which index to record.

        Within one run (until ``reset_sequences``): if the key had recordings when it
        was first seen, they replay in order and the last one repeats; if it had none
        (and the mode records), every repeat goes upstream and extends the series.
        """
        state = self.sequences.get(req.key)
        if state is None:
            length = self.store.sequence_length(req.key)
            state = self.sequences[req.key] = [length, length == 0, 0]
        recorded, recording, index = state
        state[2] += 1
        if recording and mode is Mode.AUTO:
            return None, index
        if recorded == 0:
            return None, 0
        entry = self.store.get_entry(self.store.seq_key(req.key, min(index, recorded - 1)))
        return entry, index

    def reset_sequences(self) -> None:
        """Start every series from its first recording again (a new run)."""
        self.sequences.clear()

    def _epoch(self) -> int | None:
        """The number of the current event-loop iteration, as far as lookups care.

        A request handled in this iteration was received before it began, so it is
        concurrent with any file change made meanwhile; a request sent after a change
        is handled in a later iteration and checks the file again. Concurrent
        requests for one tape so share one ``stat`` (get_entry). None outside a loop
        (tape tools): every lookup checks the file."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        if self._epoch_loop is not loop:
            # also when a loop closed before its callback ran: never stuck on one epoch
            self._epoch_loop = loop
            self._epoch_no += 1
            loop.call_soon(self._next_epoch)
        return self._epoch_no

    def _next_epoch(self) -> None:
        self._epoch_no += 1
        self._epoch_loop = None

    def lookup(self, req: Prepared_Request) -> Entry | None:
        if req.key in self.rerecord and self.runtime.mode is Mode.AUTO:
            return None  # marked in the dashboard: record it again (the put replaces the file)
        entry = self.store.get_entry(req.key, self._epoch())
        if entry is None and req.is_json:
            # tapes written by playingpack live under its body-only hash
            legacy = legacy_playingpack_hash(req.body_value)
            if legacy is not None:
                entry = self.store.get_entry(legacy)
                if entry is not None and entry.tape.legacy is None:
                    entry = None  # a real tape of ours under that name: not a legacy match
        return entry

    # ------------------------------------------------------------ replay

    async def replay(self, entry: Entry, req: Prepared_Request, receive: Any, send: Any,
                     arrived: float | None = None) -> None:
        """``arrived``: perf_counter when the request came in; the recorded TTFB counts
        from there, so our own parsing and lookup do not add to it."""
        last = req.reply
        if last is not None and last[0] is entry:
            prepared = last[1]
        else:
            prepared = prepare(entry, req.provider, req.want_stream, req.body_value)
            req.reply = (entry, prepared)
        timing = self.runtime.timing
        if timing.kind == "instant" or not prepared.chunks:
            # the common case, inline: two sends of pre-encoded bytes
            await send({"type": "http.response.start", "status": prepared.status,
                        "headers": prepared.whole_headers})
            await send({"type": "http.response.body", "body": prepared.body, "more_body": False})
            return
        await self._guarded(send_prepared(prepared, send, timing.scale, arrived), receive)

    async def _guarded(self, coro: Any, receive: Any, after: float = 0.0) -> bool:
        """Run a long response while watching for the client going away.

        ``after``: start watching only once the response has run that long (seconds).
        A relayed answer that is back within it never pays for a watcher task, and a
        client that hangs up is still noticed within that time.
        Returns False when the client disconnected (the work was cancelled)."""
        task = asyncio.current_task()
        assert task is not None
        state = [False, False]  # done, gone
        watcher: asyncio.Task[None] | None = None

        async def watch() -> None:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    if not state[0]:
                        state[1] = True
                        task.cancel()
                    return

        def start() -> None:
            nonlocal watcher
            if not state[0]:
                watcher = _aio.create_task(watch(), name="replaydeck-disconnect-watch")

        timer = asyncio.get_running_loop().call_later(after, start) if after else None
        if timer is None:
            start()
        try:
            await coro
            return True
        except asyncio.CancelledError:
            if state[1]:
                task.uncancel()
                return False
            raise
        finally:
            state[0] = True
            if timer is not None:
                timer.cancel()
            if watcher is not None:
                watcher.cancel()

    # ------------------------------------------------------------ miss

    async def miss(self, req: Prepared_Request, send: Any) -> int:
        message, near = await asyncio.to_thread(self.explain, req)
        body = req.provider.error_body(404, message, "replaydeck_tape_not_found")
        extra = orjson.loads(body)
        if isinstance(extra, dict):
            extra["replaydeck"] = {"key": req.key, "nearest": [n.to_json() for n in near]}
            body = orjson.dumps(extra)
        await send_json(send, 404, body, [(b"x-should-retry", b"false"),
                                           (b"x-replaydeck-source", b"miss")])
        return 404

    def explain(self, req: Prepared_Request) -> tuple[str, list[NearMiss]]:
        """Why no tape answers ``req`` (blocking I/O): see proxy/misses.py."""
        return misses.explain(self.keyer, self.store, req)

    def candidates(self) -> list[tuple[str, str, dict[str, Any]]]:
        return misses.candidates(self.keyer, self.store)

    def tape_material(self, tape: Tape) -> dict[str, Any]:
        return self.keyer.tape_material(tape)

    # ------------------------------------------------------------ forward

    async def handle_forward(self, rid: str, req: Prepared_Request, route: Route, receive: Any,
                             send: Any, record: bool, log_path: str, started: float,
                             sequence: int | None = None) -> None:
        flight = Flight(req.key)
        if not record and not self.bus.wants("request.delta"):
            # nobody records or watches it live: read it in this task (proxy/relay.py)
            self.upstream_calls += 1
            status = await relay(self.http(), route, req, flight, send,
                                 lambda coro: self._guarded(coro, receive, _WATCH_AFTER))
            self._done(rid, req, log_path, "passthrough", status, started, None,
                       error=flight.error, flight=flight)
            return
        if record and sequence is None:
            self.flights[req.key] = flight
        flight.task = _aio.create_task(
            self._run_flight(rid, flight, req, route, record, sequence or 0),
            name=f"replaydeck-upstream-{rid}",
        )
        source = "upstream" if record else "passthrough"
        status = await self.follow(flight, req, receive, send, route, source)
        self._done(rid, req, log_path, source, status, started, None,
                   error=flight.error, flight=flight)

    async def join(self, rid: str, flight: Flight, req: Prepared_Request, receive: Any, send: Any,
                   log_path: str, started: float) -> None:
        # counted as a follower from the start: if the first client hangs up while this
        # one waits for the head or the tape, the upstream call must go on
        flight.attach()
        try:
            await self._join(rid, flight, req, receive, send, log_path, started)
        finally:
            flight.detach()

    async def _join(self, rid: str, flight: Flight, req: Prepared_Request, receive: Any, send: Any,
                    log_path: str, started: float) -> None:
        recorded_stream = None
        await flight.wait_head()
        if flight.head_ready:
            recorded_stream = _is_stream_ct(dict(flight.headers).get("content-type", ""))
        other_framing = (req.want_stream is not None and recorded_stream is not None
                         and req.want_stream != recorded_stream)
        if other_framing or flight.finished:
            # the other framing, or a response already complete: wait for the recording
            # (a file write), then replay it like any tape
            await flight.settled.wait()
            entry = self.store.get_entry(req.key)
            if entry is not None:
                await self.replay(entry, req, receive, send)
                self._done(rid, req, log_path, "tape", entry.tape.status, started, entry.tape)
                return
        route, _ = self.router.match(req.record.route + req.record.path)
        status = await self.follow(flight, req, receive, send, route)
        self._done(rid, req, log_path, "joined", status, started, None, error=flight.error, flight=flight)

    async def follow(self, flight: Flight, req: Prepared_Request, receive: Any, send: Any,
                     route: Route, source: str = "upstream") -> int:
        """Relay a flight to this client as it arrives. Returns the status sent."""
        flight.attach()
        try:
            ok = True
            status = 0

            async def relay() -> None:
                nonlocal status
                await flight.wait_head()
                if not flight.head_ready:
                    err = flight.error or UpstreamError("upstream failed", route.display)
                    status = getattr(err, "status", 502)
                    await self._error(send, req.provider, status, str(err),
                                      getattr(err, "error_type", "upstream_error"))
                    return
                status = flight.status
                headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in flight.headers]
                headers.append((b"x-replaydeck-source", source.encode()))
                await send({"type": "http.response.start", "status": status, "headers": headers})
                ended = False
                async for data, ended in flight.follow():
                    # a reply already complete goes out with its end: one write, not two
                    await send({"type": "http.response.body", "body": data, "more_body": not ended})
                if ended:
                    return
                if flight.error is not None:
                    await end_broken_stream(send, req.provider, flight, flight.error)
                    return
                await send({"type": "http.response.body", "body": b"", "more_body": False})

            ok = await self._guarded(relay(), receive)
            # SDKs hang up as soon as they read the stream's end marker ([DONE] and the
            # like), sometimes before our closing empty chunk: that is a finished reply
            return status if ok or flight.whole else 499
        finally:
            flight.detach()

    async def _run_flight(self, rid: str, flight: Flight, req: Prepared_Request, route: Route,
                          record: bool, sequence: int = 0) -> None:
        rec = req.record
        target = request_target(route, rec.path, rec.query, rec.wire_path)
        client = self.http()
        # delays are taken with perf_counter: uvloop's loop.time() ticks in whole
        # milliseconds, which rounded every recorded gap and TTFB to 1 ms
        clock = time.perf_counter
        parser = None
        try:
            self.upstream_calls += 1
            t0 = clock()
            response = await client.request(route.base, rec.method, target,
                                            forward_request_headers(rec.headers), rec.body,
                                            route.display)
            try:
                flight.set_head(response.status, response.relayed_headers())
                live = self.bus.wants("request.delta")  # a browser is watching
                # the parser serves the recording and the live view (a viewer who left
                # since the request came in: the dashboard's summary is made from the
                # chunks later)
                if record or live:
                    parser = req.provider.parser(response.status, response.header(b"content-type"))
                last = t0
                was_complete = parser is None or parser.complete()
                # each piece as soon as it is read (decoded), cut at the upstream's
                # HTTP chunk ends, so events sent back to back stay separate on the tape
                read = response.read
                while data := await read():
                    now = clock()
                    flight.append(data, (now - last) * 1000.0)
                    last = now
                    if parser is None:
                        continue
                    events = parser.feed(data)
                    if not was_complete and parser.complete():
                        # the stream's own end marker (e.g. [DONE]) arrived: a client
                        # that hangs up now (SDKs do) must not cost us the recording
                        was_complete = flight.whole = True
                    if live and events:
                        self.bus.publish({"type": "request.delta", "id": rid,
                                          "events": [asdict(e) for e in events]})
                if parser is not None:
                    parser.end()
            finally:
                response.close()
        except ReplaydeckError as exc:
            flight.finish(exc)
            self._forget(flight)
            return
        except asyncio.CancelledError:
            flight.finish(UpstreamError("client disconnected; upstream request cancelled", route.display))
            self._forget(flight)
            raise
        except Exception as exc:  # never let a bug in a parser kill the proxy
            flight.finish(UpstreamError(f"internal error while relaying: {exc!r}", route.display))
            self._forget(flight)
            return
        flight.finish()
        try:
            if record and self._recordable(flight, parser):
                # the followers send the answer's end first, and the tape is built a
                # moment later: an agent sends its next call as soon as it has this
                # answer, and that call should leave for the upstream before this
                # bookkeeping runs on the same core (the flight stays registered
                # meanwhile, so an identical request still joins it)
                await asyncio.sleep(_RECORD_AFTER)
                tape = self._make_tape(flight, req, parser, sequence)
                await asyncio.to_thread(self.store.put, tape)
                self.rerecord.discard(req.key)
                flight.tape = tape
        except Exception as exc:  # a failed write is reported, the client already has its answer
            self.log.warn(f"could not save tape {req.key[:12]}: {exc}")
        finally:
            self._forget(flight)

    def _forget(self, flight: Flight) -> None:
        if self.flights.get(flight.key) is flight:
            del self.flights[flight.key]
        flight.settled.set()

    def _recordable(self, flight: Flight, parser: Any) -> bool:
        if flight.error is not None:
            return False
        ok_status = 200 <= flight.status < 300
        if not ok_status and not self.settings.record_errors:
            return False
        if parser is not None and not parser.complete():
            return False
        if parser is not None and ok_status and not self.settings.record_errors:
            # a 200 stream that carried an error event is an error too
            if getattr(parser, "stream_error", None):
                return False
        return True

    def _make_tape(self, flight: Flight, req: Prepared_Request, parser: Any,
                   sequence: int = 0) -> Tape:
        return report.make_tape(self.redactor, flight, req, parser, sequence)

    # ------------------------------------------------------------ helpers

    async def _error(self, send: Any, provider: Provider, status: int, message: str, etype: str) -> None:
        await send_error(send, provider, status, message, etype)

    def _publish_start(self, rid: str, req: Prepared_Request, route: Route, decision: str) -> None:
        self.bus.publish(report.started_event(self.redactor, rid, req, route, decision))

    def _done(self, rid: str, req: Prepared_Request, log_path: str, source: str, status: int,
              started: float, tape: Tape | None, *, error: ReplaydeckError | None = None,
              flight: Flight | None = None) -> None:
        duration = (time.perf_counter() - started) * 1000.0
        if error is None:
            self.log.line(method=req.record.method, path=log_path, source=source, status=status,
                          duration_ms=duration, tape=tape.id if tape else None)
        else:
            self.log.line(method=req.record.method, path=log_path,
                          source="error" if source != "joined" else source, status=status,
                          duration_ms=duration, tape=tape.id if tape else None, note=str(error))
        if self.bus.active:
            self.bus.publish(self._completed_event(rid, req, source, status, duration, tape,
                                                   error, flight))

    def _completed_event(self, rid: str, req: Prepared_Request, source: str, status: int,
                         duration: float, tape: Tape | None, error: ReplaydeckError | None,
                         flight: Flight | None) -> dict[str, Any]:
        return report.completed_event(self, rid, req, source, status, duration, tape, error, flight)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _is_stream_ct(ct: str) -> bool:
    return is_event_stream(ct) or is_ndjson(ct)


def _wants_html(scope: dict[str, Any]) -> bool:
    for k, v in scope["headers"]:
        if k == b"accept":
            return b"text/html" in v
    return False


async def _read_body(receive: Any) -> bytes | None:
    msg = await receive()
    if msg["type"] == "http.disconnect":
        return None
    if not msg.get("more_body", False):
        return msg.get("body", b"")  # type: ignore[no-any-return]  # the usual: one message
    chunks: list[bytes] = [msg.get("body", b"")]
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body", False):
            break
    return b"".join(chunks)
