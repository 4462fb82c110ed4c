"""`replaydeck record` / `replay` / `export` as a user runs them: subprocesses on loopback,
the real openai SDK as the client, the fake upstream as the API."""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import sys
import textwrap
import time
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from tests.cli.procs import run, serving
from tests.fakes.upstream import FakeUpstream, chat_text_chunks
from tests.support import FAKE_KEYS, running

KEY = FAKE_KEYS[0]


def stream_text(url: str, text: str, **headers: str) -> str:
    c = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, default_headers=headers)
    parts = []
    for chunk in c.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": text}], stream=True
    ):
        parts.extend(ch.delta.content or "" for ch in chunk.choices)
    return "".join(parts)


def test_record_then_replay_with_the_openai_sdk_streaming(tmp_path: Path) -> None:
    fake = FakeUpstream()
    out = tmp_path / "interaction.json"
    with running(fake) as up:
        with serving("record", up.url, str(out), "--port", "0") as rec:
            text = stream_text(rec.url, "hello tape", **{"x-fake-gap-ms": "40"})
            lines = rec.wait_stdout(1)
    assert text == "You said: hello tape"
    assert lines == [f"POST /v1/chat/completions written to {out}"], rec.stderr
    assert rec.proc.returncode == 0 and "Aborted" not in "\n".join(rec.stderr)
    tape = orjson.loads(out.read_bytes())
    assert tape["version"] == 1 and tape["response"]["headers"]["content-type"].startswith(
        "text/event-stream")
    assert tape["meta"]["summary"]["text"] == "You said: hello tape"
    assert "authorization" not in tape["request"]["headers"]
    gaps = [c["d"] for c in tape["response"]["chunks"][1:]]
    assert max(gaps) >= 30  # the upstream's 40 ms gaps were recorded

    # the upstream is gone: replay answers from the file, with any prompt (no matching)
    with serving("replay", str(out), "--port", "0", "--timing", "instant") as rep:
        assert stream_text(rep.url, "something else entirely") == "You said: hello tape"
        r = httpx.get(rep.url + "/anything")
        assert r.status_code == 200 and r.headers["x-replaydeck-source"] == "tape"
    assert len(fake.calls) == 1


def test_replay_keeps_the_recorded_timing(tmp_path: Path) -> None:
    fake = FakeUpstream()
    out = tmp_path / "slow.json"
    with running(fake) as up, serving("record", up.url, str(out), "--port", "0") as rec:
        stream_text(rec.url, "a b c d", **{"x-fake-gap-ms": "60"})
        rec.wait_stdout(1)
    recorded = sum(c["d"] for c in orjson.loads(out.read_bytes())["response"]["chunks"][1:])
    with serving("replay", str(out), "--port", "0") as rep:
        with httpx.stream("POST", rep.url + "/v1/chat/completions", json={}) as r:
            arrivals = []
            t0 = time.monotonic()
            for _ in r.iter_raw():
                arrivals.append(time.monotonic() - t0)
    # paced, not dumped at once: the span covers most of the recorded gaps (loose bound
    # because the machine is shared)
    assert arrivals[-1] * 1000 >= recorded * 0.6


def test_increment_writes_one_file_per_request(tmp_path: Path) -> None:
    fake = FakeUpstream()
    base = tmp_path / "calls.json"
    with running(fake) as up, serving("record", up.url, str(base), "--port", "0",
                                      "--increment") as rec:
        httpx.get(rec.url + "/v1/models")
        httpx.post(rec.url + "/v1/chat/completions",
                   json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
        lines = rec.wait_stdout(2)
    assert lines == [f"GET /v1/models written to {tmp_path / 'calls-0.json'}",
                     f"POST /v1/chat/completions written to {tmp_path / 'calls-1.json'}"]
    assert not base.exists()
    assert orjson.loads((tmp_path / "calls-0.json").read_bytes())["request"]["path"] == "/v1/models"


def test_record_overwrites_file_on_each_request(tmp_path: Path) -> None:
    fake = FakeUpstream()
    out = tmp_path / "last.json"
    with running(fake) as up, serving("record", up.url, str(out), "--port", "0") as rec:
        for word in ("first", "second"):
            httpx.post(rec.url + "/v1/chat/completions",
                       json={"model": "m", "messages": [{"role": "user", "content": word}]})
        rec.wait_stdout(2)
    assert orjson.loads(out.read_bytes())["meta"]["summary"]["text"] == "You said: second"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".json") == ["last.json"]


def asgi_replay_log(chunks: list[bytes]) -> str:
    """A log in asgi-replay's documented structure (its CustomEncoder writes bytes this way)."""
    def b(data: bytes) -> dict[str, str]:
        return {"$base64": base64.b64encode(data).decode()}

    lines = [{"type": "http.response.start", "status": 200,
              "headers": [[b(b"content-type"), b(b"text/event-stream")]]}]
    lines += [{"type": "http.response.body", "body": b(c), "more_body": True} for c in chunks]
    lines.append({"type": "http.response.body", "body": b(b""), "more_body": False})
    return "".join(json.dumps(x) + "\n" for x in lines)


def test_replay_an_asgi_replay_log_built_from_its_format(tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    log.write_text(asgi_replay_log(chat_text_chunks("from the log", "gpt-test", False)))
    with serving("replay", str(log), "--port", "0") as rep:
        assert stream_text(rep.url, "anything") == "from the log"


def test_replay_a_log_written_by_asgi_replay_itself(tmp_path: Path) -> None:
    pytest.importorskip("asgi_replay")
    import socket

    fake = FakeUpstream()
    log = tmp_path / "real.json"
    with running(fake) as up:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        script = textwrap.dedent(f"""
            import sys
            from asgi_replay import asgi_replay
            print("listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
            sys.argv = ["asgi-replay", "record", {up.url!r}, {str(log)!r}, "--port", "{port}"]
            asgi_replay()
        """)
        with serving(command=[sys.executable, "-c", script]) as rec:
            for _ in range(100):  # its banner comes before uvicorn listens
                try:
                    text = stream_text(rec.url, "real log")
                    break
                except openai.APIConnectionError:
                    time.sleep(0.05)
            rec.wait_stdout(1)
    assert text == "You said: real log"
    assert log.read_text().startswith('{"type": "http.response.start"')
    with serving("replay", str(log), "--port", "0") as rep:
        assert stream_text(rep.url, "x") == "You said: real log"


def test_replay_errors_are_clear(tmp_path: Path) -> None:
    missing = run("replay", str(tmp_path / "nope.json"), "--port", "0")
    assert missing.returncode == 1 and "no such file" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "http.response.body", "body": "x"}\n')
    res = run("replay", str(bad), "--port", "0")
    assert res.returncode == 1 and "body before the response start" in res.stderr
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"version": 99, "meta": {}, "request": {}, "response": {}}))
    res = run("export", str(newer), "-o", str(tmp_path / "x.py"))
    assert res.returncode == 1 and "newer than this replaydeck" in res.stderr
    assert "Traceback" not in res.stderr


BLOCKED = """
import socket, sys
sys.modules["replaydeck"] = None  # any `import replaydeck` now raises ImportError
sys.path.insert(0, ".")
import uvicorn
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(64)  # connections queue from now on, before uvicorn takes the socket
print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
config = uvicorn.Config("served:app", log_level="warning", lifespan="on")
uvicorn.Server(config).run(sockets=[sock])
"""


def test_exported_app_runs_without_replaydeck(tmp_path: Path) -> None:
    fake = FakeUpstream()
    out = tmp_path / "rec.json"
    with running(fake) as up, serving("record", up.url, str(out), "--port", "0") as rec:
        stream_text(rec.url, "export me", **{"x-fake-gap-ms": "5"})
        rec.wait_stdout(1)
    clean = tmp_path / "deploy"
    clean.mkdir()
    res = run("export", str(out), "-o", str(clean / "served.py"))
    assert res.returncode == 0, res.stderr
    source = (clean / "served.py").read_text()
    imported = {n.names[0].name.split(".")[0] for n in ast.walk(ast.parse(source))
                if isinstance(n, ast.Import)}
    imported |= {n.module.split(".")[0] for n in ast.walk(ast.parse(source))
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert imported and imported <= set(sys.stdlib_module_names)
    # isolated mode (no PYTHONPATH, no user site), a clean cwd and replaydeck blocked
    with serving(command=[sys.executable, "-I", "-c", BLOCKED], cwd=clean,
                 extra_env={"PYTHONPATH": "", "REPLAY_TIMING": "instant"}) as app:
        assert stream_text(app.url, "whatever") == "You said: export me"
        plain = httpx.get(app.url + "/")
        assert plain.status_code == 200 and plain.headers["content-type"].startswith(
            "text/event-stream")


class SlowToClose:
    """An upstream that sends a whole stream ([DONE] included) and then waits before ending
    the body: the openai SDK hangs up after [DONE], before the upstream's end."""

    async def __call__(self, scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                    "headers": [(b"content-type", b"text/event-stream")]})
        for chunk in chat_text_chunks("whole before the end", "gpt-test", False):
            await send({"type": "http.response.body", "body": chunk,  # type: ignore[operator]
                        "more_body": True})
        await asyncio.sleep(0.5)
        await send({"type": "http.response.body", "body": b"", "more_body": False})  # type: ignore[operator]


def test_record_keeps_a_stream_the_client_left_after_its_end_marker(tmp_path: Path) -> None:
    out = tmp_path / "whole.json"
    with running(SlowToClose()) as up, serving("record", up.url, str(out), "--port", "0") as rec:
        assert stream_text(rec.url, "x") == "whole before the end"
        rec.wait_stdout(1)
    assert orjson.loads(out.read_bytes())["meta"]["summary"]["text"] == "whole before the end"
