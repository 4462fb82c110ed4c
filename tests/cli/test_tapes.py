"""`replaydeck tapes ...` on tapes recorded by a real proxy with the real openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import orjson
import pytest
from click.testing import CliRunner, Result

from replaydeck.cli import cli
from tests.fakes.upstream import FakeUpstream
from tests.support import FAKE_KEYS, proxy, running, tape_files

KEY = FAKE_KEYS[0]


def tapes(tmp: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["tapes", args[0], "--tapes-dir", str(tmp / "tapes"),
                                    *args[1:]], catch_exceptions=False)


def chat(url: str, text: str, model: str = "gpt-test", stream: bool = False) -> str:
    c = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]
    if stream:
        out = []
        for chunk in c.chat.completions.create(model=model, messages=msgs,  # type: ignore[arg-type]
                                               stream=True):
            out.extend(ch.delta.content or "" for ch in chunk.choices)
        return "".join(out)
    r = c.chat.completions.create(model=model, messages=msgs)  # type: ignore[arg-type]
    return r.choices[0].message.content or ""


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    with running(fake) as up, proxy(tmp_path, upstream=up.url) as px:
        chat(px.url, "first question", model="gpt-alpha", stream=True)
        chat(px.url, "second question", model="gpt-beta")
    yield fake


def ids(tmp: Path) -> dict[str, str]:
    rows = orjson.loads(tapes(tmp, "ls", "--json").output)
    return {r["model"]: r["id"] for r in rows}


def test_ls_table_json_and_filters(tmp_path: Path, recorded: FakeUpstream) -> None:
    table = tapes(tmp_path, "ls")
    assert table.exit_code == 0
    for col in ("id", "provider", "model", "endpoint", "recorded at", "size", "hits",
                "last used"):
        assert col in table.output
    assert "gpt-alpha" in table.output and "POST /v1/chat/completions" in table.output
    rows = orjson.loads(tapes(tmp_path, "ls", "--json").output)
    assert sorted(r["model"] for r in rows) == ["gpt-alpha", "gpt-beta"]
    assert {r["provider"] for r in rows} == {"openai-chat"}
    assert all(r["hits"] == 0 and r["last_used"] is None and r["size"] > 0 for r in rows)
    only = orjson.loads(tapes(tmp_path, "ls", "--json", "--filter", "model=*ALPHA").output)
    assert [r["model"] for r in only] == ["gpt-alpha"]
    neg = orjson.loads(tapes(tmp_path, "ls", "--json", "--filter", "model!=gpt-alpha").output)
    assert [r["model"] for r in neg] == ["gpt-beta"]
    bad = tapes(tmp_path, "ls", "--filter", "colour=red")
    assert bad.exit_code == 1 and "FIELD=PATTERN" in bad.output


def test_show_conversation_reply_and_raw(tmp_path: Path, recorded: FakeUpstream) -> None:
    tape_id = ids(tmp_path)["gpt-alpha"]
    shown = tapes(tmp_path, "show", tape_id)
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "system: be brief" in out and "user: first question" in out
    assert "assistant: You said: first question" in out
    assert "stop_reason stop" in out and "openai-chat" in out
    raw = tapes(tmp_path, "show", tape_id, "--raw")
    path = next(p for p in tape_files(tmp_path) if tape_id in p.read_text())
    assert raw.output == path.read_text()
    assert tapes(tmp_path, "show", "nope0000").exit_code == 1


def test_rm_by_id_and_by_filter(tmp_path: Path, recorded: FakeUpstream) -> None:
    both = ids(tmp_path)
    assert tapes(tmp_path, "rm", "--filter", "model=gpt-beta", "--dry-run").exit_code == 0
    assert len(tape_files(tmp_path)) == 2
    res = tapes(tmp_path, "rm", both["gpt-alpha"])
    assert res.exit_code == 0 and f"removed {both['gpt-alpha']}" in res.output
    assert list(ids(tmp_path)) == ["gpt-beta"]
    assert tapes(tmp_path, "rm", "--filter", "model=gpt-*").exit_code == 0
    assert tape_files(tmp_path) == []
    assert tapes(tmp_path, "rm").exit_code == 2  # neither ids nor a filter
    assert tapes(tmp_path, "rm", "abcdef12").exit_code == 1


def test_prune_uses_replay_hits_without_rewriting_tapes(tmp_path: Path,
                                                       recorded: FakeUpstream) -> None:
    # pretend both were recorded long ago (the key and file name stay the same)
    for path in tape_files(tmp_path):
        data = orjson.loads(path.read_bytes())
        data["meta"]["timestamp"] = "2020-01-01T00:00:00.000Z"
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    before = {p.name: p.read_bytes() for p in tape_files(tmp_path)}
    # a new run replays one of them (hits are flushed to .usage.json at shutdown)
    with proxy(tmp_path, upstream="http://127.0.0.1:9", record="replay-only") as px:
        assert chat(px.url, "second question", model="gpt-beta") == "You said: second question"
    assert {p.name: p.read_bytes() for p in tape_files(tmp_path)} == before
    rows = {r["model"]: r for r in orjson.loads(tapes(tmp_path, "ls", "--json").output)}
    assert rows["gpt-beta"]["hits"] == 1 and rows["gpt-beta"]["last_used"]
    dry = tapes(tmp_path, "prune", "--unused-since", "2025-06-01", "--dry-run")
    assert dry.exit_code == 0 and "1 tape selected (dry run)" in dry.output
    res = tapes(tmp_path, "prune", "--unused-since", "2025-06-01")
    assert res.exit_code == 0 and rows["gpt-alpha"]["id"] in res.output
    assert list(ids(tmp_path)) == ["gpt-beta"]
    # an age works too; nothing used in the last 30 days is left to prune
    assert "0 tapes pruned" in tapes(tmp_path, "prune", "--unused-since", "30d").output
    bad = tapes(tmp_path, "prune", "--unused-since", "last tuesday")
    assert bad.exit_code == 1 and "not a date" in bad.output


def test_tapes_dir_comes_from_the_same_config_as_start(tmp_path: Path,
                                                       recorded: FakeUpstream) -> None:
    (tmp_path / "replaydeck.toml").write_text('tapes-dir = "tapes"\n')
    res = CliRunner().invoke(cli, ["tapes", "ls", "--json"])
    assert len(orjson.loads(res.output)) == 2
    (tmp_path / "replaydeck.toml").write_text('tapes-dri = "tapes"\n')
    res = CliRunner().invoke(cli, ["tapes", "verify"])
    assert res.exit_code == 1 and "unknown key 'tapes-dri'" in res.output
