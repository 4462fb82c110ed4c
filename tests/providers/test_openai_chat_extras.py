"""OpenAI Chat beyond the basics: Azure (``api-key``, ``api-version``), legacy
``function_call`` and parallel tool calls, recorded streamed and replayed both ways."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from tests.fakes.providers import ProviderUpstream
from tests.providers.sdks import OPENAI_KEY, WEATHER
from tests.providers.test_sdk_matrix import closed_port_url
from tests.support import proxy, running, tape_files

MSGS: Any = [{"role": "user", "content": "weather?"}]


def wait_tape(tmp: Path, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(tape_files(tmp)) < n:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_azure_api_key_and_api_version(tmp_path: Path) -> None:
    fake = ProviderUpstream()

    def azure(url: str, version: str) -> openai.AzureOpenAI:
        return openai.AzureOpenAI(azure_endpoint=url, api_key=OPENAI_KEY, api_version=version,
                                  max_retries=0)

    with running(fake) as up, proxy(tmp_path, upstream=up.url) as px:
        first = azure(px.url, "2024-06-01").chat.completions.create(model="gpt-4o", messages=MSGS)
        call = fake.calls[-1]
        assert call["path"] == "/openai/deployments/gpt-4o/chat/completions"
        assert call["query"] == "api-version=2024-06-01" and call["headers"]["api-key"] == OPENAI_KEY
        wait_tape(tmp_path, 1)
    with proxy(tmp_path, upstream=closed_port_url(), record="replay-only") as px:
        again = azure(px.url, "2024-06-01").chat.completions.create(model="gpt-4o", messages=MSGS)
        assert again.choices[0].message.content == first.choices[0].message.content == "Hello there!"
        with pytest.raises(openai.NotFoundError) as info:
            azure(px.url, "2025-01-01").chat.completions.create(model="gpt-4o", messages=MSGS)
        assert '"2025-01-01" vs tape "2024-06-01"' in str(info.value)
    [path] = tape_files(tmp_path)
    tape = orjson.loads(path.read_bytes())
    assert "api-key" not in tape["request"]["headers"]
    assert tape["request"]["query"] == "api-version=2024-06-01"
    assert tape["meta"]["provider"] == "openai-chat"


def _calls(msg: Any) -> list[tuple[str | None, str, Any]]:
    out = [(t.id, t.function.name, json.loads(t.function.arguments)) for t in msg.tool_calls or []]
    if msg.function_call:
        out.append((None, msg.function_call.name, json.loads(msg.function_call.arguments)))
    return out


@pytest.mark.parametrize(("fixture", "finish", "expected"), [
    ("openai_chat_stream_legacy_function_call.sse", "function_call",
     [(None, "get_weather", {"city": "Paris"})]),
    ("openai_chat_stream_parallel_toolcalls.sse", "tool_calls",
     [("call_aaa111", "get_weather", {"city": "Paris"}), ("call_bbb222", "get_time", {"zone": "CET"})]),
])
def test_legacy_and_parallel_calls_record_and_convert(tmp_path: Path, fixture: str, finish: str,
                                                      expected: list[Any]) -> None:
    fake = ProviderUpstream()
    kw: dict[str, Any] = {"model": "gpt-4o", "messages": MSGS}
    if "legacy" in fixture:
        kw["functions"] = [{"name": "get_weather", "parameters": WEATHER}]
    else:
        kw["tools"] = [{"type": "function", "function": {"name": n, "parameters": WEATHER}}
                       for n in ("get_weather", "get_time")]
    with running(fake) as up, proxy(tmp_path, upstream=up.url) as px:
        c = openai.OpenAI(base_url=px.url + "/v1", api_key=OPENAI_KEY, max_retries=0,
                          default_headers={"x-fake-fixture": fixture})
        with c.chat.completions.stream(**kw) as s:
            for _ in s:
                pass
            streamed = s.get_final_completion()
        wait_tape(tmp_path, 1)
    assert _calls(streamed.choices[0].message) == expected
    assert streamed.choices[0].finish_reason == finish
    with proxy(tmp_path, upstream=closed_port_url(), record="replay-only") as px:
        c = openai.OpenAI(base_url=px.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        plain = c.chat.completions.create(**kw)  # recorded streamed, replayed whole
        with c.chat.completions.stream(**kw) as s:  # and as recorded
            for _ in s:
                pass
            replayed = s.get_final_completion()
    assert _calls(plain.choices[0].message) == expected and plain.choices[0].finish_reason == finish
    assert _calls(replayed.choices[0].message) == expected
    [path] = tape_files(tmp_path)
    summary = orjson.loads(path.read_bytes())["meta"]["summary"]
    assert [(t["id"], t["name"], t["arguments"]) for t in summary["tool_calls"]] == expected
    assert summary["stop_reason"] == finish


def test_streamed_logprobs_accumulate_in_order_without_touching_the_chunks() -> None:
    from replaydeck.providers.openai_chat import ChatAccumulator

    def chunk(i: int) -> dict[str, Any]:
        lp = {"content": [{"token": f"t{i}", "logprob": -0.1 * i, "top_logprobs": []}]}
        return {"id": "c", "object": "chat.completion.chunk", "model": "m",
                "choices": [{"index": 0, "delta": {"content": f"t{i}"}, "logprobs": lp,
                             "finish_reason": None}]}

    acc = ChatAccumulator()
    chunks = [chunk(i) for i in range(5)]
    for c in chunks:
        acc.add(c)
    tokens = [t["token"] for t in acc.choices[0]["logprobs"]["content"]]
    assert tokens == ["t0", "t1", "t2", "t3", "t4"]
    # the first chunk's own list is not the accumulator's (it was copied, then extended)
    assert len(chunks[0]["choices"][0]["logprobs"]["content"]) == 1
