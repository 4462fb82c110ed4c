"""The dashboard in real headless Chromium (Playwright), fed by the real openai SDK.

One browser for the module; each test gets its own proxy, tapes and history."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.support import ThreadServer, tape_files

from .conftest import dash, sdk, wait_for

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page that records console errors and uncaught exceptions."""

    def __init__(self, browser: Any, url: str) -> None:
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 860})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url + "/")
        self.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=10_000)

    def close(self) -> None:
        assert self.errors == []
        self.page.close()


def row_for(page: Any, text: str) -> Any:
    return page.locator(".row", has_text=text)


def test_live_list_streaming_detail_and_keyboard(browser: Any, tmp_path: Path,
                                                  upstream: ThreadServer) -> None:
    with dash(tmp_path, upstream.url) as px:
        p = Page(browser, px.url)
        page = p.page
        assert page.title() == "replaydeck"
        page.wait_for_selector("#conn.on")
        words = "the lighthouse keeper counted every wave that broke on the black rocks tonight"
        slow = sdk(px.url, default_headers={"x-fake-gap-ms": "120"})
        result: list[str] = []

        def ask() -> None:
            parts = []
            for chunk in slow.chat.completions.create(
                    model="gpt-stream", stream=True, messages=[{"role": "user", "content": words}]):
                parts.extend(c.delta.content or "" for c in chunk.choices)
            result.append("".join(parts))

        t0 = time.monotonic()
        worker = threading.Thread(target=ask)
        worker.start()
        # the request shows up within a second of reaching the proxy (``data-ts`` is when the
        # proxy started it), while its reply is still streaming
        live_row = page.wait_for_selector(".row.rs-streaming, .row.rs-pending", timeout=5000)
        seen = time.time()
        assert live_row is not None
        assert seen - float(live_row.get_attribute("data-ts") or 0) < 1.0
        seen: list[str] = []
        while worker.is_alive() and time.monotonic() - t0 < 10:
            # read in one step: the row can finish streaming between a count and a read
            text = page.evaluate(
                "() => document.querySelector('.row.rs-streaming .preview')?.innerText ?? ''")
            if text and (not seen or text != seen[-1]):
                seen.append(text)
            time.sleep(0.03)
        worker.join()
        final = result[0]
        assert final == "You said: " + words
        # the text grew in steps, each one a beginning of the final reply
        partial = [s for s in seen if s and s != final]
        assert len(partial) >= 2, seen
        assert all(final.startswith(s.rstrip()) for s in partial), seen
        row = row_for(page, final)
        row.locator(".badge.st-complete").wait_for(timeout=5000)
        assert "gpt-stream" in row.inner_text() and "upstream" in row.inner_text()

        # a tool call: the detail view shows its arguments as JSON
        tools = sdk(px.url, default_headers={"x-fake-fixture": "openai_chat_stream_toolcall.sse"})
        for _ in tools.chat.completions.create(model="gpt-4o", stream=True, messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "weather in New York?"}],
                tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {
                    "type": "object", "properties": {"city": {"type": "string"}}}}}]):
            pass
        page.locator(".row .chip", has_text="get_weather").first.wait_for(timeout=5000)
        # keyboard: the newest row is first; down selects it, enter opens it
        page.locator("#list").focus()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        detail = page.locator("#detail .detail")
        detail.locator(".toolcall .chip", has_text="get_weather").wait_for(timeout=5000)
        args = detail.locator(".msg.reply .toolcall pre.json").inner_text()
        assert '"city"' in args and "New York" in args
        assert detail.locator(".role-system").inner_text().endswith("You are terse.")
        assert "get_weather" in detail.locator("details.tools summary").inner_text()
        # down again and enter: the streamed request opens, transcript and waterfall
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        detail.locator(".msg.reply", has_text=final).wait_for(timeout=5000)
        detail.locator(".dtab[data-tab=Timing]").click()
        assert detail.locator("svg.waterfall .w-gap").count() >= 10
        detail.locator(".dtab[data-tab=Headers]").click()
        assert "secret, masked" in detail.inner_text()
        p.close()


def test_search_after_restart_delete_tape_and_toggle_mode(browser: Any, tmp_path: Path,
                                                          upstream: ThreadServer,
                                                          fake: FakeUpstream) -> None:
    with dash(tmp_path, upstream.url) as px:
        sdk(px.url).chat.completions.create(model="gpt-test", messages=[
            {"role": "user", "content": "remember the zebra crossing"}])
        sdk(px.url).chat.completions.create(model="gpt-test", messages=[
            {"role": "user", "content": "something else entirely"}])
        wait_for(lambda: len(tape_files(tmp_path)) == 2)
    # a new process: the history came back from disk
    with dash(tmp_path, upstream.url) as px:
        p = Page(browser, px.url)
        page = p.page
        page.wait_for_selector(".row")
        page.fill("#search", "zebr")
        sync_api.expect(page.locator(".row")).to_have_count(1)
        assert "zebra crossing" in page.locator(".row").inner_text()

        # the tape browser: open the zebra tape, delete it (two clicks), gone from disk
        page.click(".tab[data-view=tapes]")
        page.locator(".tapetable tr[data-key]", has_text="zebra").click()
        page.locator("#tape-detail .dtitle", has_text="POST").wait_for()
        key = page.locator(".tapetable tr.open").get_attribute("data-key")
        assert (tmp_path / "tapes" / f"{key}.json").exists()
        page.click("#tape-detail button.danger")
        page.click("#tape-detail button.danger")
        page.locator("#tape-detail .empty", has_text="deleted").wait_for()
        assert not (tmp_path / "tapes" / f"{key}.json").exists()
        assert len(tape_files(tmp_path)) == 1
        sync_api.expect(page.locator(".tapetable tr[data-key]")).to_have_count(1)

        # the record-mode toggle changes what the proxy does
        calls = len(fake.calls)
        page.click(".segbtn[data-mode='replay-only']")
        page.wait_for_selector(".segbtn.active[data-mode='replay-only']")
        with pytest.raises(openai.NotFoundError):
            sdk(px.url).chat.completions.create(model="gpt-test", messages=[
                {"role": "user", "content": "remember the zebra crossing"}])
        assert len(fake.calls) == calls
        page.click(".tab[data-view=requests]")
        page.fill("#search", "")
        page.locator(".row .badge.src-miss").first.wait_for(timeout=5000)
        page.click(".segbtn[data-mode='auto']")
        page.wait_for_selector(".segbtn.active[data-mode='auto']")
        sdk(px.url).chat.completions.create(model="gpt-test", messages=[
            {"role": "user", "content": "remember the zebra crossing"}])
        assert len(fake.calls) == calls + 1
        p.close()


def test_a_long_history_is_paged_and_virtualized(browser: Any, tmp_path: Path,
                                                 upstream: ThreadServer) -> None:
    from replaydeck.history import History, merge

    now = time.time()
    h = History(tmp_path / ".replaydeck" / "history.db")
    h.add([merge({"type": "request.started", "id": f"old-{i:04d}", "ts": now - 1000 + i / 10,
                  "method": "POST", "path": "/v1/chat/completions", "provider": "openai-chat",
                  "model": "gpt-old", "request_body": {"messages": [{"content": f"entry {i}"}]}},
                 {"type": "request.completed", "id": f"old-{i:04d}", "source": "tape",
                  "status": 200, "duration_ms": 5.0, "summary": {"text": f"reply {i}"}})
           for i in range(1000)])
    h.close()
    with dash(tmp_path, upstream.url) as px:
        p = Page(browser, px.url)
        page = p.page
        sync_api.expect(page.locator("#list-foot")).to_contain_text("200 shown of 1000")
        # only the rows in view are in the page, whatever the list length
        assert page.locator(".row").count() < 60
        page.locator("#list").hover()
        for _ in range(40):
            page.mouse.wheel(0, 4000)
            if "400 shown" in page.locator("#list-foot").inner_text():
                break
            time.sleep(0.05)
        sync_api.expect(page.locator("#list-foot")).to_contain_text("of 1000")
        assert page.locator(".row").count() < 60
        assert int(page.locator("#list-foot").inner_text().split()[0]) >= 400  # next pages loaded
        p.close()
