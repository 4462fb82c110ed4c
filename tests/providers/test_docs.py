"""docs/providers.md stays honest: its tables are checked against the provider registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from replaydeck.providers import DEFAULT_PROVIDERS, Provider, default_registry
from replaydeck.providers.base import StreamParser
from replaydeck.redaction import SECRET_HEADERS, SECRET_QUERY
from replaydeck.settings import DEFAULT_KEY_HEADERS, DEFAULT_VOLATILE_FIELDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "providers.md"
REG = default_registry(load_entry_points=False)


def table(marker: str) -> dict[str, dict[str, str]]:
    text = DOC.read_text("utf-8")
    block = text.split(f"<!-- {marker} -->", 1)[1].split(f"<!-- /{marker} -->", 1)[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in block.strip().splitlines()]
    head, body = rows[0], rows[2:]
    return {r[0].strip("`"): dict(zip(head, r, strict=True)) for r in body}


def ticks(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


PROVIDERS = table("providers-table")
KEYS = table("keys-table")


def test_every_registered_provider_has_a_row_and_every_row_is_registered() -> None:
    names = {cls.name for cls in DEFAULT_PROVIDERS}
    assert set(PROVIDERS) == names
    assert set(KEYS) == names | {"all"}


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_documented_endpoints_belong_to_the_provider(name: str) -> None:
    endpoints = [t for t in ticks(PROVIDERS[name]["endpoints"]) if " /" in t]
    assert endpoints
    for endpoint in endpoints:
        method, path = endpoint.split(" ", 1)
        path = path.replace("{m}", "gemini-2.5-flash").replace("{id}", "x1").replace("{d}", "dep")
        assert REG.for_request(method, path).name == name, endpoint


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_streaming_and_conversion_columns(name: str) -> None:
    provider = REG.get(name)
    row = PROVIDERS[name]
    streaming = row["streaming"]
    # stream -> body: its own to_body, or the base template over a StreamParser
    to_body = (type(provider).to_body is not Provider.to_body
               or isinstance(provider.parser(200, provider.stream_content_type), StreamParser))
    overrides = to_body and type(provider).to_stream is not Provider.to_stream
    assert (row["conversion"] == "both ways") == overrides
    if streaming == "none":
        assert row["conversion"] == "none"
        return
    expected = "application/x-ndjson" if streaming.startswith("NDJSON") else "text/event-stream"
    assert provider.stream_content_type == expected
    if "with `event:` lines" in streaming:
        framed = provider.stream_error_event("x", "y") or b""
        assert framed.startswith(b"event: ")
    if "data only" in streaming:
        assert b"event:" not in (provider.stream_error_event("x", "y") or b"")


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_auth_headers_are_secrets(name: str) -> None:
    for item in ticks(PROVIDERS[name]["auth"]):
        if item.startswith("?"):
            assert item.strip("?=") in SECRET_QUERY
        else:
            assert item in SECRET_HEADERS


def test_shared_key_row_matches_the_settings() -> None:
    assert tuple(ticks(KEYS["all"]["volatile fields added"])) == DEFAULT_VOLATILE_FIELDS
    assert tuple(ticks(KEYS["all"]["key headers"])) == DEFAULT_KEY_HEADERS


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_key_rows(name: str) -> None:
    provider = REG.get(name)
    row = KEYS[name]
    assert tuple(ticks(row["volatile fields added"])) == provider.volatile_fields
    for header in ticks(row["key headers"]):
        assert header in DEFAULT_KEY_HEADERS
    folds = row["path and query"] != "as sent" and "folds" in row["path and query"]
    sample = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert (provider.key_path(sample) != sample) == folds
    if "`alt` dropped" in row["path and query"]:
        assert provider.key_query([["alt", "sse"], ["x", "1"]]) == [["x", "1"]]
    if "`\"tools\": []` dropped" in row["body"]:
        assert provider.key_body({"model": "m", "tools": []}) == {"model": "m"}
        assert provider.key_body({"model": "m", "tools": [1]}) == {"model": "m", "tools": [1]}
    elif row["body"] in ("as sent", "no body") or "stay" in row["body"]:
        body = {"model": "m", "tools": [], "previous_response_id": "r", "conversation": "c",
                "encoding_format": "float"}
        assert provider.key_body(body) == body


def test_every_builtin_route_is_the_documented_sdk_base_url() -> None:
    from replaydeck.settings import BUILTIN_ROUTES

    readme = (DOC.parents[1] / "README.md").read_text("utf-8")
    assert "docs/providers.md" in readme
    for prefix in BUILTIN_ROUTES:
        owners = [n for n, row in PROVIDERS.items() if f"4747{prefix}" in row["SDK base URL"]]
        assert owners, f"no provider documents the built-in route {prefix}"
        assert f"http://127.0.0.1:4747{prefix}" in readme
