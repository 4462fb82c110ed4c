"""The control plane: health, reserved prefix, Host and cross-site guards."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import ThreadServer, proxy


def test_health_alias_and_prefix(tmp_path: Path) -> None:
    with proxy(tmp_path) as px:
        for path in ("/health", "/__replaydeck/health"):
            r = httpx.get(px.url + path)
            assert r.status_code == 200 and r.json()["status"] == "ok"
            assert "access-control-allow-origin" not in r.headers


def test_foreign_host_refused(tmp_path: Path) -> None:
    with proxy(tmp_path) as px:
        r = httpx.get(px.url + "/__replaydeck/health", headers={"host": "evil.example"})
        assert r.status_code == 403
        r = httpx.get(px.url + "/health", headers={"host": f"localhost:{px.port}"})
        assert r.status_code == 200


def test_cross_site_post_refused(tmp_path: Path) -> None:
    with proxy(tmp_path) as px:
        url = px.url + "/__replaydeck/api/sequences/reset"
        assert httpx.post(url, headers={"origin": "https://evil.example"}).status_code == 403
        assert httpx.post(url, headers={"sec-fetch-site": "cross-site"}).status_code == 403
        assert httpx.post(url, headers={"origin": px.url}).status_code == 200
        assert httpx.post(url).status_code == 200  # curl and scripts send no Origin


def test_reserved_prefix_never_reaches_upstream(tmp_path: Path, upstream: ThreadServer) -> None:
    from tests.fakes.upstream import FakeUpstream  # noqa: F401

    with proxy(tmp_path, upstream=upstream.url, record="off") as px:
        r = httpx.get(px.url + "/__replaydeck/nothing-here")
        assert r.status_code == 404
        r = httpx.get(px.url + "/", headers={"accept": "application/json"})
        assert r.json()["path"] == "/"  # an API client's GET / is proxied
