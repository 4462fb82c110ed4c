"""The JSON control API against a real proxy, real openai SDK traffic and a fake upstream."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from replaydeck.dashboard.openapi import SPEC
from tests.fakes.upstream import FakeUpstream
from tests.support import FAKE_KEYS, ThreadServer, settle, tape_files

from .conftest import dash, sdk, wait_for

API = "/__replaydeck/api"


def no_secrets(text: str) -> None:
    for key in FAKE_KEYS:
        assert key not in text


def history(c: httpx.Client, **params: Any) -> dict[str, Any]:
    r = c.get(API + "/requests", params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_history_detail_curl_and_nearest(tmp_path: Path, upstream: ThreadServer) -> None:
    with dash(tmp_path, upstream.url) as px, httpx.Client(base_url=px.url) as c:
        oa = sdk(px.url, default_headers={"x-api-key": FAKE_KEYS[1]})
        oa.chat.completions.create(model="gpt-test", messages=[
            {"role": "user", "content": f"hello curl {FAKE_KEYS[2]}"}])
        settle(px)  # the tape is written just after the reply
        items = wait_for(lambda: history(c)["items"])
        row = items[0]
        assert row["model"] == "gpt-test" and row["source"] == "upstream" and row["state"] == "complete"
        detail = c.get(f"{API}/requests/{row['id']}").json()
        assert detail["request_headers"]["authorization"] == "REDACTED"
        assert detail["summary"]["text"].startswith("You said: hello curl")
        assert detail["tape_exists"] is True
        curl = c.get(f"{API}/requests/{row['id']}/curl").json()["curl"]
        assert '-H "Authorization: Bearer $OPENAI_API_KEY"' in curl
        assert "x-api-key: $OPENAI_API_KEY" in curl and "/v1/chat/completions" in curl
        near = c.get(f"{API}/requests/{row['id']}/nearest").json()
        assert near["exact"] is not None  # its own tape replays it
        # a second, slightly different request: its nearest tape is the first one
        oa.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hello other"}],
                                   temperature=0.5)
        settle(px)
        second = wait_for(lambda: [r for r in history(c)["items"] if r["id"] != row["id"]])[0]
        second_key = c.get(f"{API}/requests/{second['id']}").json()["key"]
        c.delete(f"{API}/tapes/{second_key}")
        near = c.get(f"{API}/requests/{second['id']}/nearest").json()
        assert near["exact"] is None
        fields = {d["field"] for d in near["nearest"][0]["differences"]}
        assert "body.temperature" in fields and "body.messages[0].content" in fields
        assert "Nearest tape" in near["explanation"]
        for path in ("/requests", f"/requests/{row['id']}", f"/requests/{row['id']}/curl", "/tapes",
                     "/settings", "/facets", "/series"):
            no_secrets(c.get(API + path).text)
        assert c.get(f"{API}/requests/nope").status_code == 404
        assert c.get(f"{API}/requests", params={"limit": "x"}).status_code == 400
        assert c.get(f"{API}/requests", params={"before": "garbage"}).status_code == 400


def test_settings_change_the_proxy_at_runtime(tmp_path: Path, upstream: ThreadServer,
                                               fake: FakeUpstream) -> None:
    with dash(tmp_path, upstream.url) as px, httpx.Client(base_url=px.url) as c:
        r = c.patch(API + "/settings", json={"mode": "replay-only", "timing": "0.5"})
        assert r.status_code == 200 and r.json()["mode"] == "replay-only" and r.json()["timing"] == "0.5"
        with pytest.raises(openai.NotFoundError):
            sdk(px.url).chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        assert fake.calls == []
        c.patch(API + "/settings", json={"mode": "auto"})
        sdk(px.url).chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        assert len(fake.calls) == 1
        assert c.patch(API + "/settings", json={"mode": "sometimes"}).status_code == 400
        assert c.patch(API + "/settings", json={"timing": "-1"}).status_code == 400
        assert c.patch(API + "/settings", json={"port": 1}).status_code == 400
        assert c.patch(API + "/settings", content=b"{nope").status_code == 400


def test_tapes_list_view_diff_delete_and_rerecord(tmp_path: Path, upstream: ThreadServer,
                                                  fake: FakeUpstream) -> None:
    with dash(tmp_path, upstream.url) as px, httpx.Client(base_url=px.url) as c:
        oa = sdk(px.url)
        for text in ("one", "two"):
            oa.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": text}])
        oa.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "one"}])  # a hit
        tapes = c.get(API + "/tapes").json()
        assert tapes["total"] == 2
        by_text = {t["text"]: t for t in tapes["items"]}
        one, two = by_text["You said: one"], by_text["You said: two"]
        assert one["model"] == "gpt-test" and one["endpoint"] == "/v1/chat/completions"
        assert one["size"] == (tmp_path / "tapes" / f"{one['key']}.json").stat().st_size
        # usage counters from the store: "one" was replayed once, "two" never
        assert one["hits"] == 1 and one["last_used"] > time.time() - 60
        assert two["hits"] == 0 and two["last_used"] is None
        view = c.get(f"{API}/tapes/{one['key']}").json()
        assert view["summary"]["text"] == "You said: one" and view["source"] == "tape"
        d = c.get(API + "/tapes/diff", params={"a": one["key"], "b": two["key"]}).json()
        assert [x["field"] for x in d["request"]] == ["body.messages[0].content"]
        assert d["response"]["text"] == {"a": "You said: one", "b": "You said: two"}
        # re-record: the next matching request goes upstream and overwrites the tape
        calls = len(fake.calls)
        assert c.post(f"{API}/tapes/{one['key']}/rerecord").json()["rerecord"] is True
        assert c.get(API + "/tapes").json()["items"][0]["rerecord"] in (True, False)
        before = orjson.loads((tmp_path / "tapes" / f"{one['key']}.json").read_bytes())["meta"]["id"]
        raw = oa.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "one"}])
        assert raw.headers["x-replaydeck-source"] == "upstream" and len(fake.calls) == calls + 1
        wait_for(lambda: orjson.loads((tmp_path / "tapes" / f"{one['key']}.json").read_bytes())["meta"]["id"] != before)
        assert not c.get(f"{API}/tapes/{one['key']}").json()["rerecord"]
        raw = oa.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "one"}])
        assert raw.headers["x-replaydeck-source"] == "tape"  # the mark was used up
        # delete
        assert c.delete(f"{API}/tapes/{two['key']}").json()["deleted"] is True
        assert not (tmp_path / "tapes" / f"{two['key']}.json").exists()
        assert c.delete(f"{API}/tapes/{two['key']}").status_code == 404
        assert c.get(f"{API}/tapes/..%2Fsecret").status_code in (400, 404)
        assert len(tape_files(tmp_path)) == 1


def test_openapi_describes_exactly_the_routes(tmp_path: Path, upstream: ThreadServer) -> None:
    with dash(tmp_path, upstream.url) as px:
        spec = httpx.get(px.url + API + "/openapi.json").json()
        described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
        routes = px.app.control.dashboard.routes
        served = set()
        for r in routes:
            path = getattr(r, "path", "")
            if path.startswith(API) and getattr(r, "methods", None):
                for m in r.methods - {"HEAD"}:
                    served.add((m, path[len(API):]))
    assert described == served
    assert spec == orjson.loads(orjson.dumps(SPEC))
    ids = [op["operationId"] for ops in SPEC["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_history_off_and_no_ui(tmp_path: Path, upstream: ThreadServer) -> None:
    with dash(tmp_path, upstream.url, history_max_entries=0) as px:
        sdk(px.url).chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        assert httpx.get(px.url + API + "/requests").json()["total"] == 0
        assert not (tmp_path / ".replaydeck" / "history.db").exists()
