"""Gemini's ``?key=`` reaches the upstream and nothing else: not the tape, the tape key,
the request log, a miss explanation, or the dashboard events."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from replaydeck.events import EventBus
from replaydeck.logs import RequestLog
from replaydeck.proxy.app import ProxyApp
from tests.fakes.providers import ProviderUpstream
from tests.providers.sdks import GOOGLE_KEY
from tests.support import make_settings, running, tape_files

PATH = "/gemini/v1beta/models/gemini-2.5-flash"
BODY = {"contents": [{"role": "user", "parts": [{"text": "secret in the query"}]}]}


def test_query_key_stays_out_of_tape_key_log_miss_and_events(tmp_path: Path) -> None:
    fake = ProviderUpstream()
    out = io.StringIO()
    events: list[dict[str, Any]] = []
    with running(fake) as up:
        settings = make_settings(tmp_path, upstream=up.url, routes={"/gemini": up.url},
                                 quiet=False, log_format="json")
        bus = EventBus()
        app = ProxyApp(settings, log=RequestLog("json", False, stream=out), bus=bus)
        sub = bus.subscribe(10_000)  # what the dashboard would receive
        with running(app) as px, httpx.Client() as h:
            first = h.post(f"{px.url}{PATH}:streamGenerateContent?alt=sse&key={GOOGLE_KEY}",
                           json=BODY)
            assert first.status_code == 200
            assert fake.calls[-1]["query"] == f"alt=sse&key={GOOGLE_KEY}"
            deadline = time.monotonic() + 10
            while not tape_files(tmp_path):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            # another key, other URL: the same tape, converted to one JSON reply
            whole = h.post(f"{px.url}{PATH}:generateContent",
                           json=BODY, headers={"x-goog-api-key": GOOGLE_KEY})
            assert whole.headers["x-replaydeck-source"] == "tape"
            assert whole.json()["candidates"][0]["content"]["parts"] == [{"text": "Hello there!"}]
            app.runtime.mode = type(app.runtime.mode)("replay-only")
            miss = h.post(f"{px.url}{PATH}:generateContent?key={GOOGLE_KEY}",
                          json={"contents": []})
    while not sub.queue.empty():
        events.append(sub.queue.get_nowait())
    assert miss.status_code == 404 and miss.json()["error"]["status"] == "NOT_FOUND"
    assert GOOGLE_KEY not in miss.text
    log = out.getvalue()
    assert log.count("\n") >= 3 and "key=REDACTED" in log
    assert GOOGLE_KEY not in log
    assert events and GOOGLE_KEY not in orjson.dumps(events, default=str).decode()
    [tape] = tape_files(tmp_path)
    assert GOOGLE_KEY not in tape.read_text()
