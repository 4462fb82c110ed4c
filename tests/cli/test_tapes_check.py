"""`tapes verify`, `import`, `migrate` and `why`, checked against a real replay-only proxy
and the real openai SDK: an imported tape is right when the SDK's own request replays it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import openai
import orjson
import pytest
from click.testing import CliRunner, Result

from replaydeck.cli import cli
from replaydeck.matching import legacy_playingpack_hash
from tests.fakes.upstream import FakeUpstream, chat_text_body, chat_text_chunks
from tests.support import FAKE_KEYS, proxy, running, tape_files

KEY = FAKE_KEYS[0]
PLANTED = "sk-proj-PLANTEDkey0123456789ABCDEFGH"  # not a FAKE_KEY: the suite's scan allows it
DEAD = "http://127.0.0.1:9"  # nothing listens: replay-only must never need it


def tapes(tmp: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["tapes", args[0], "--tapes-dir", str(tmp / "tapes"),
                                    *args[1:]], catch_exceptions=False)


def body(text: str, model: str = "gpt-4o-mini", **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def sdk_text(url: str, text: str, stream: bool, **extra: object) -> str:
    c = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    req = body(text, **extra)
    if stream:
        return "".join(ch.delta.content or "" for chunk in c.chat.completions.create(
            **req, stream=True) for ch in chunk.choices)  # type: ignore[call-overload]
    r = c.chat.completions.create(**req)  # type: ignore[call-overload]
    return r.choices[0].message.content or ""


def sse_text(text: str, model: str = "gpt-4o-mini") -> str:
    return "".join(c.decode() for c in chat_text_chunks(text, model, False))


# ---------------------------------------------------------------- verify


def record_one(tmp: Path) -> Path:
    with running(FakeUpstream()) as up, proxy(tmp, upstream=up.url) as px:
        sdk_text(px.url, "verify me", stream=True)
    [path] = tape_files(tmp)
    return path


def test_verify_passes_clean_tapes_and_fails_on_planted_secrets(tmp_path: Path) -> None:
    path = record_one(tmp_path)
    ok = tapes(tmp_path, "verify")
    assert ok.exit_code == 0 and "1 tape OK" in ok.output
    data = orjson.loads(path.read_bytes())
    data["request"]["body"]["messages"][0]["content"] = f"my key is {PLANTED}"
    data["request"]["headers"]["authorization"] = "Bearer abc"
    data["request"]["query"] = "api-version=1&api_key=hunter2"
    chunk = data["response"]["chunks"][1]
    chunk["c"] = {"$base64": base64.b64encode(f"data: {PLANTED}\n\n".encode()).decode()}
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    res = tapes(tmp_path, "verify")
    assert res.exit_code == 1
    lines = res.output.splitlines()
    name = path.name
    assert f"{name}: request.body.messages[0].content: API key or token: sk-pro… ({len(PLANTED)} chars)" in lines
    assert f"{name}: request.headers.authorization: secret header stored: Bearer… (10 chars)" in lines
    assert f"{name}: request.query.api_key: secret parameter stored: hunter… (7 chars)" in lines
    assert f"{name}: response.chunks[1].c: API key or token: sk-pro… ({len(PLANTED)} chars)" in lines
    assert "4 problems in 1 of 1 tapes" in res.output
    assert PLANTED not in res.output  # the report is safe to print in a CI log


def test_verify_checks_version_and_structure(tmp_path: Path) -> None:
    path = record_one(tmp_path)
    tapes_dir = path.parent
    good = orjson.loads(path.read_bytes())
    (tapes_dir / ("0" * 64 + ".json")).write_bytes(orjson.dumps(good))  # wrong file name
    newer = dict(good, version=7)
    (tapes_dir / "newer.json").write_bytes(orjson.dumps(newer))
    broken = json.loads(json.dumps(good))
    broken["response"]["chunks"][0]["d"] = -5
    broken["response"]["status"] = 42
    (tapes_dir / f"{good['meta']['hash']}-1.json").write_bytes(orjson.dumps(
        dict(broken, meta=dict(broken["meta"], sequence=1))))
    (tapes_dir / "junk.json").write_text("{not json")
    (tapes_dir / ("a" * 64 + ".json")).write_bytes(orjson.dumps(
        {"meta": {"hash": "a" * 64}, "request": {"body": body("x")},
         "response": {"status": 200, "chunks": [{"c": "{}", "d": 0}]}}))
    res = tapes(tmp_path, "verify")
    assert res.exit_code == 1
    out = res.output
    assert f"{'0' * 64}.json: meta.hash: file name does not match the tape's key" in out
    assert "newer.json: version: format version 7 is newer than this replaydeck" in out
    assert f"{good['meta']['hash']}-1.json: response.status: 42 is not an HTTP status" in out
    assert f"{good['meta']['hash']}-1.json: response.chunks[0].d: -5 is not a delay" in out
    assert "junk.json: not JSON" in out
    assert f"{'a' * 64}.json: version: old format (playingpack-0.3): run `replaydeck tapes migrate`" in out
    assert not any(line.startswith(path.name) for line in out.splitlines())  # nothing to report


# ---------------------------------------------------------------- import


def pp03_tape(req: dict[str, object], chunks: list[str]) -> dict[str, object]:
    """playingpack 0.2/0.3's tape layout (see the playingpack reference, section 4.1)."""
    return {"meta": {"id": "6f1c2a9e-1b7d-4c55-9a0e-3d2f1e0b9c77", "hash": legacy_playingpack_hash(req),
                     "timestamp": "2025-03-01T10:00:00.000Z", "model": req["model"],
                     "endpoint": "/v1/chat/completions"},
            "request": {"body": req},
            "response": {"status": 200, "chunks": [{"c": c, "d": 0 if i == 0 else 20}
                                                   for i, c in enumerate(chunks)]}}


def pp05_cache(req: dict[str, object], chunks: list[str]) -> dict[str, object]:
    """playingpack 0.5+'s cache file: only model and messages are saved (section 4.2)."""
    return {"hash": legacy_playingpack_hash(req), "timestamp": "2025-09-01T10:00:00.000Z",
            "request": {"model": req["model"], "messages": req["messages"]},
            "response": {"status": 200, "chunks": [{"data": c, "delay": 5} for c in chunks]}}


def test_import_playingpack_tapes_of_both_formats(tmp_path: Path) -> None:
    src = tmp_path / "pp"
    src.mkdir()
    req03 = body("old tape", stream=True)
    (src / "a.json").write_bytes(orjson.dumps(pp03_tape(req03, [sse_text("from 0.3")])))
    req05 = body("cache file")
    (src / "b.json").write_bytes(orjson.dumps(pp05_cache(req05, [chat_text_body("from 0.5", "gpt-4o-mini").decode()])))
    # a 0.5 file whose request had more than model and messages (playingpack hashed them
    # but did not save them): kept under playingpack's key
    req05_tools = body("with temperature", temperature=0.2)
    (src / "c.json").write_bytes(orjson.dumps(pp05_cache(req05_tools, [sse_text("from 0.5 too")])))
    res = tapes(tmp_path, "import", str(src / "a.json"), str(src / "b.json"), str(src / "c.json"))
    assert res.exit_code == 0, res.output
    assert "(playingpack 0.2/0.3 tape)" in res.output and "tape 6f1c2a9e" in res.output
    assert "kept under playingpack's key" in res.output
    assert len(tape_files(tmp_path)) == 3
    with proxy(tmp_path, upstream=DEAD, record="replay-only") as px:
        assert sdk_text(px.url, "old tape", stream=True) == "from 0.3"
        assert sdk_text(px.url, "old tape", stream=False) == "from 0.3"  # converted
        assert sdk_text(px.url, "cache file", stream=False) == "from 0.5"
        assert sdk_text(px.url, "with temperature", stream=True, temperature=0.2) == "from 0.5 too"
    again = tapes(tmp_path, "import", str(src / "a.json"))
    assert again.exit_code == 0 and again.output.startswith("skipped") and "--overwrite" in again.output
    verify = tapes(tmp_path, "verify")
    assert "old format (playingpack-0.5)" in verify.output  # only the kept one


def test_import_har_maps_hosts_to_routes(tmp_path: Path) -> None:
    def entry(url: str, req: dict[str, object], mime: str, text: str) -> dict[str, object]:
        return {"startedDateTime": "2025-05-05T12:00:00.000Z",
                "request": {"method": "POST", "url": url,
                            "headers": [{"name": "Authorization", "value": f"Bearer {PLANTED}"},
                                        {"name": "Content-Type", "value": "application/json"}],
                            "postData": {"mimeType": "application/json", "text": json.dumps(req)}},
                "response": {"status": 200, "headers": [{"name": "Content-Type", "value": mime},
                                                        {"name": "Content-Encoding", "value": "br"}],
                             "content": {"mimeType": mime, "text": text}},
                "timings": {"wait": 150, "receive": 90}}

    har = {"log": {"version": "1.2", "entries": [
        entry("https://api.openai.com/v1/chat/completions", body("from a browser", stream=True),
              "text/event-stream", sse_text("har stream")),
        entry("https://api.anthropic.com/v1/messages",
              {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
              "application/json", '{"type": "message", "content": []}'),
    ]}}
    path = tmp_path / "session.har"
    path.write_text(json.dumps(har))
    res = tapes(tmp_path, "import", str(path))
    assert res.exit_code == 0, res.output
    rows = {r["endpoint"]: r for r in orjson.loads(tapes(tmp_path, "ls", "--json").output)}
    assert set(rows) == {"/v1/chat/completions", "/anthropic/v1/messages"}
    stream_tape = orjson.loads((tmp_path / "tapes" / f"{rows['/v1/chat/completions']['key']}.json").read_bytes())
    chunks = stream_tape["response"]["chunks"]
    assert chunks[0]["d"] == 150 and len(chunks) > 3  # split into events, TTFB kept
    assert "content-encoding" not in stream_tape["response"]["headers"]
    assert tapes(tmp_path, "verify").exit_code == 0  # the bearer token was not imported
    with proxy(tmp_path, upstream=DEAD, record="replay-only") as px:
        assert sdk_text(px.url, "from a browser", stream=True) == "har stream"


def test_import_asgi_replay_log_needs_the_request(tmp_path: Path) -> None:
    def b(data: bytes) -> dict[str, str]:
        return {"$base64": base64.b64encode(data).decode()}

    log = tmp_path / "log.json"
    msgs = [{"type": "http.response.start", "status": 200,
             "headers": [[b(b"content-type"), b(b"text/event-stream")]]}]
    msgs += [{"type": "http.response.body", "body": b(c), "more_body": True}
             for c in chat_text_chunks("logged answer", "gpt-4o-mini", False)]
    log.write_text("".join(json.dumps(m) + "\n" for m in msgs))
    res = tapes(tmp_path, "import", str(log))
    assert res.exit_code == 1 and "pass --request REQUEST.json" in res.output
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"method": "POST", "path": "/v1/chat/completions",
                               "body": body("which request?", stream=True)}))
    res = tapes(tmp_path, "import", str(log), "--request", str(req))
    assert res.exit_code == 0 and "(asgi-replay log)" in res.output
    with proxy(tmp_path, upstream=DEAD, record="replay-only") as px:
        assert sdk_text(px.url, "which request?", stream=True) == "logged answer"


def test_import_rejects_unknown_files(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}')
    res = tapes(tmp_path, "import", str(other), str(tmp_path / "missing.json"))
    assert res.exit_code == 1
    assert "not a HAR file, asgi-replay log, playingpack tape or replaydeck tape" in res.output
    assert "missing.json: no such file" in res.output


# ---------------------------------------------------------------- migrate


def test_migrate_upgrades_playingpack_tapes_in_place(tmp_path: Path) -> None:
    record_one(tmp_path)
    tapes_dir = tmp_path / "tapes"
    current = {p.name: p.stat().st_mtime_ns for p in tape_files(tmp_path)}
    req = body("migrate me", stream=True)
    old = pp03_tape(req, [sse_text("migrated")])
    old_path = tapes_dir / f"{old['meta']['hash']}.json"  # type: ignore[index]
    old_path.write_bytes(orjson.dumps(old))
    dry = tapes(tmp_path, "migrate", "--dry-run")
    assert dry.exit_code == 0 and "(dry run)" in dry.output and old_path.exists()
    res = tapes(tmp_path, "migrate")
    assert res.exit_code == 0, res.output
    assert f"upgraded: {old_path.name}: playingpack-0.3 -> format 1, re-keyed as" in res.output
    assert not old_path.exists()
    after = {p.name: p for p in tape_files(tmp_path)}
    assert {n: after[n].stat().st_mtime_ns for n in current} == current  # untouched
    [new] = [p for n, p in after.items() if n not in current]
    assert orjson.loads(new.read_bytes())["version"] == 1
    assert tapes(tmp_path, "verify").exit_code == 0
    with proxy(tmp_path, upstream=DEAD, record="replay-only") as px:
        assert sdk_text(px.url, "migrate me", stream=True) == "migrated"
    old_path.write_bytes(orjson.dumps(old))  # the same request again, in the old format
    res = tapes(tmp_path, "migrate")
    assert res.exit_code == 0 and f"kept: {old_path.name}: {new.name} already answers" in res.output
    assert old_path.exists()
    (tapes_dir / "future.json").write_bytes(orjson.dumps({"version": 2, "meta": {}, "request": {},
                                                          "response": {"chunks": []}}))
    res = tapes(tmp_path, "migrate")
    assert res.exit_code == 1
    assert "error: future.json: tape format version 2 is newer than this replaydeck" in res.output


# ---------------------------------------------------------------- why


def test_why_says_the_same_as_the_replay_only_miss(tmp_path: Path) -> None:
    record_one(tmp_path)
    hit = tmp_path / "hit.json"
    hit.write_text(json.dumps(body("verify me", stream=False)))
    res = tapes(tmp_path, "why", str(hit))
    tape_id = orjson.loads(tapes(tmp_path, "ls", "--json").output)[0]["id"]
    assert res.exit_code == 0 and f"replays tape {tape_id}" in res.output
    near = tmp_path / "near.json"
    near.write_text(json.dumps(body("verify me!", temperature=0.5)))
    res = tapes(tmp_path, "why", str(near))
    assert res.exit_code == 1
    with proxy(tmp_path, upstream=DEAD, record="replay-only") as px:
        with pytest.raises(openai.NotFoundError) as err:
            sdk_text(px.url, "verify me!", stream=False, temperature=0.5)
    served = err.value.body["message"]  # type: ignore[index]
    assert res.output.splitlines()[0] == served
    assert f"Nearest tape {tape_id}" in served
    assert 'body.messages[0].content: request "verify me!" | tape "verify me"' in res.output
    assert "body.temperature: request 0.5 | tape (absent)" in res.output
    as_json = orjson.loads(tapes(tmp_path, "why", str(near), "--json").output)
    assert as_json["message"] == served and as_json["nearest"][0]["tape"] == tape_id
    assert as_json["nearest"] == err.value.response.json()["replaydeck"]["nearest"]


def test_why_reads_request_objects_and_tapes(tmp_path: Path) -> None:
    path = record_one(tmp_path)
    res = tapes(tmp_path, "why", str(path))  # a tape explains itself: it is its own match
    assert res.exit_code == 0 and "replays tape" in res.output
    obj = tmp_path / "req.json"
    obj.write_text(json.dumps({"method": "POST", "url": "http://x/anthropic/v1/messages",
                               "headers": {"anthropic-version": "2023-06-01"},
                               "body": {"model": "claude", "messages": []}}))
    res = tapes(tmp_path, "why", str(obj), "--json")
    answer = orjson.loads(res.output)
    assert res.exit_code == 1 and answer["path"] == "/anthropic/v1/messages"
    assert answer["nearest"][0]["differences"][0]["field"] == "body.messages[0]"
    bad = tapes(tmp_path, "why", str(tmp_path / "nope.json"))
    assert bad.exit_code == 1 and "no such file" in bad.output


def test_why_takes_a_request_id_from_the_history(tmp_path: Path) -> None:
    from replaydeck.history import Filters, History

    record_one(tmp_path)
    db = tmp_path / "history.db"
    with proxy(tmp_path, upstream=DEAD, record="replay-only", ui=True,
               history_path=str(db)) as px:
        with pytest.raises(openai.NotFoundError) as err:
            sdk_text(px.url, "verify me?", stream=True)
    history = History(db)
    rows, _ = history.query(Filters())
    history.close()
    [row] = rows
    res = CliRunner().invoke(cli, ["tapes", "why", str(row["id"]), "--tapes-dir",
                                   str(tmp_path / "tapes")], env={"REPLAYDECK_HISTORY_PATH": str(db)})
    assert res.exit_code == 1
    assert res.output.splitlines()[0] == err.value.body["message"]  # type: ignore[index]
    missing = CliRunner().invoke(cli, ["tapes", "why", "abc-1", "--tapes-dir", str(tmp_path / "tapes")],
                                 env={"REPLAYDECK_HISTORY_PATH": str(db)})
    assert missing.exit_code == 1 and "neither a file nor a request id" in missing.output


def test_import_a_replaydeck_tape_rekeys_it_with_the_current_settings(tmp_path: Path) -> None:
    path = record_one(tmp_path)
    loose = tmp_path / "recorded-elsewhere.json"
    data = orjson.loads(path.read_bytes())
    data["meta"]["hash"] = "not-our-key"  # e.g. written by `replaydeck record` under another config
    loose.write_bytes(orjson.dumps(data))
    path.unlink()
    res = tapes(tmp_path, "import", str(loose))
    assert res.exit_code == 0 and "(replaydeck tape)" in res.output
    [imported] = tape_files(tmp_path)
    assert imported.stem == orjson.loads(imported.read_bytes())["meta"]["hash"] != "not-our-key"
    with proxy(tmp_path, upstream=DEAD, record="replay-only") as px:
        assert sdk_text(px.url, "verify me", stream=True) == "You said: verify me"
