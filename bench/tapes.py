"""Bench requests and tapes: the request bodies, and many tapes written straight to disk.

The scale scenario needs 100,000 tapes. Recording them through the proxy would
take minutes, so they are cloned from one tape the proxy really recorded: only
the request's last message changes, and each clone is filed under the key
replaydeck itself computes for that request (``ProxyApp.build``, the code the
proxy runs), so a replayed request finds its tape exactly as in real use. A
generated directory is kept and reused while its stamp (count, first and last
key) still matches what this checkout computes.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

PATH = "/v1/chat/completions"
MODEL = "gpt-4o-mini"


def chat_body(content: str, stream: bool = False) -> bytes:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": content},
        ],
        "temperature": 0,
    }
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def scale_body(i: int) -> bytes:
    return chat_body(f"scale request number {i}")


class KeyMaker:
    """replaydeck's own tape key for a request to the default upstream."""

    def __init__(self) -> None:
        from replaydeck.proxy.app import ProxyApp
        from replaydeck.settings import load_settings

        tmp = Path(tempfile.gettempdir())
        settings = load_settings({"tapes_dir": str(tmp / "replaydeck-bench-unused"),
                                  "upstream": "http://127.0.0.1:9", "quiet": True, "ui": False},
                                 cwd=tmp, environ={})
        self.app = ProxyApp(settings)
        self.route, _ = self.app.router.match(PATH)

    def key(self, body: bytes) -> str:
        headers = (("content-type", "application/json"),)
        return self.app.build("POST", self.route, PATH, "", headers, body).key


def generate(template: Path, out: Path, count: int, keys: KeyMaker) -> float:
    """Fill ``out`` with ``count`` clones of ``template``; returns seconds spent (0 = reused)."""
    first, last = keys.key(scale_body(0)), keys.key(scale_body(count - 1))
    stamp = out / ".bench-stamp"
    want = f"{count} {first} {last}"
    if stamp.is_file() and stamp.read_text() == want:
        return 0.0
    import shutil
    import time

    t0 = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    base = orjson.loads(template.read_bytes())
    for i in range(count):
        raw = scale_body(i)
        key = first if i == 0 else keys.key(raw)
        tape = copy.deepcopy(base)
        tape["meta"]["hash"] = key
        tape["meta"]["id"] = f"{i:08x}"
        tape["request"]["body"] = orjson.loads(raw)
        data = orjson.dumps(tape, option=orjson.OPT_INDENT_2)
        fd = os.open(out / f"{key}.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    stamp.write_text(want)
    return time.perf_counter() - t0
