"""Settings layers: file < environment < flags; clear errors; CI means replay-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from replaydeck.errors import ConfigError, InvalidSetting
from replaydeck.settings import Mode, Settings, Timing, load_settings


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({}, cwd=tmp_path, environ={})
    assert (s.host, s.port, s.upstream, s.record) == ("127.0.0.1", 4747, "https://api.openai.com", Mode.AUTO)
    assert str(s.tapes_dir) == ".replaydeck/tapes" and s.timing == Timing("original")
    assert s.record_reason == "default"


def test_layers_file_env_flags(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.replaydeck]\nport = 5000\nrecord = "off"\ntiming = "instant"\n')
    s = load_settings({}, cwd=tmp_path, environ={})
    assert (s.port, s.record, s.timing.kind) == (5000, Mode.OFF, "instant")
    assert s.record_reason == "config file pyproject.toml"
    s = load_settings({}, cwd=tmp_path, environ={"REPLAYDECK_PORT": "6000", "REPLAYDECK_RECORD": "replay-only"})
    assert (s.port, s.record, s.record_reason) == (6000, Mode.REPLAY_ONLY, "REPLAYDECK_RECORD")
    s = load_settings({"port": 7000, "record": "auto"}, cwd=tmp_path, environ={"REPLAYDECK_PORT": "6000"})
    assert (s.port, s.record, s.record_reason) == (7000, Mode.AUTO, "--record")
    # replaydeck.toml wins over pyproject
    (tmp_path / "replaydeck.toml").write_text('port = 5555\n')
    assert load_settings({}, cwd=tmp_path, environ={}).port == 5555


def test_ci_means_replay_only_unless_a_mode_is_given(tmp_path: Path) -> None:
    s = load_settings({}, cwd=tmp_path, environ={"CI": "true"})
    assert s.record is Mode.REPLAY_ONLY and "CI" in s.record_reason
    assert load_settings({"record": "auto"}, cwd=tmp_path, environ={"CI": "1"}).record is Mode.AUTO


@pytest.mark.parametrize(
    ("where", "content", "needle"),
    [
        ("file", 'recrod = "auto"', "unknown key 'recrod'"),
        ("file", 'record = "sometimes"', "auto, off, replay-only"),
        ("file", "port = 70000", "'port'"),
        ("file", 'timing = "slow"', "original, instant"),
        ("file", 'upstream = "ftp://x"', "'upstream'"),
        ("env", "REPLAYDECK_RECROD=auto", "REPLAYDECK_RECORD"),
        ("env", "REPLAYDECK_TIMING=-1", "timing"),
        ("file", 'redact_patterns = ["(unclosed"]', "regular expression"),
        ("file", 'routes = {"/" = "http://x.example"}', "route prefix"),
    ],
)
def test_bad_config_names_key_and_allowed_values(tmp_path: Path, where: str, content: str, needle: str) -> None:
    env = {}
    if where == "file":
        (tmp_path / "replaydeck.toml").write_text(content + "\n")
    else:
        k, v = content.split("=", 1)
        env[k] = v
    with pytest.raises(ConfigError) as info:
        load_settings({}, cwd=tmp_path, environ=env)
    assert needle in str(info.value)


def test_routes_and_kebab_keys(tmp_path: Path) -> None:
    (tmp_path / "replaydeck.toml").write_text('tapes-dir = "t"\n[routes]\n"/x/" = "http://127.0.0.1:1/v1/"\n')
    s = load_settings({}, cwd=tmp_path, environ={"REPLAYDECK_ROUTES": "/y=http://127.0.0.1:2"})
    assert s.routes == {"/y": "http://127.0.0.1:2"}  # env replaces the file's routes
    s = load_settings({}, cwd=tmp_path, environ={})
    assert s.routes == {"/x": "http://127.0.0.1:1/v1"} and str(s.tapes_dir) == "t"
    assert list(s.all_routes())[:1] != [] and "/anthropic" in s.all_routes()


def test_timing_parse() -> None:
    assert Timing.parse("0.5").scale == 0.5 and Timing.parse("instant").scale == 0
    assert Timing.parse("original").scale == 1
    for bad in ("nan", "inf", "-2", "fast"):
        with pytest.raises(ValueError):
            Timing.parse(bad)


def test_environment_strings_become_the_settings_types(tmp_path: Path) -> None:
    s = load_settings({}, cwd=tmp_path, environ={
        "REPLAYDECK_UI": "false", "REPLAYDECK_QUIET": "yes", "REPLAYDECK_PORT": " 6001 ",
        "REPLAYDECK_CONNECT_TIMEOUT": "2.5", "REPLAYDECK_KEY_HEADERS": "X-One, x-two,",
        "REPLAYDECK_TAPES_DIR": "somewhere", "REPLAYDECK_DASHBOARD_TOKEN": "t" * 16})
    assert (s.ui, s.quiet, s.port, s.connect_timeout) == (False, True, 6001, 2.5)
    assert s.key_headers == ("x-one", "x-two") and s.tapes_dir == Path("somewhere")
    assert s.dashboard_token == "t" * 16 and s.history_path == Path(".replaydeck/history.db")


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("REPLAYDECK_UI", "maybe", "valid boolean"),
        ("REPLAYDECK_PORT", "4.5", "valid integer"),
        ("REPLAYDECK_PORT", "-1", "greater than or equal to 0"),
        ("REPLAYDECK_READ_TIMEOUT", "0", "greater than 0"),
        ("REPLAYDECK_CONNECT_TIMEOUT", "nan", "greater than 0"),
        ("REPLAYDECK_LOG_FORMAT", "xml", "text or json"),
        ("REPLAYDECK_DASHBOARD_TOKEN", "short", "at least 16"),
        ("REPLAYDECK_ROUTES", "/__replaydeck/x=http://127.0.0.1:1", "reserved"),
    ],
)
def test_bad_environment_values_name_the_variable_and_the_rule(tmp_path: Path, var: str, value: str,
                                                                needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({}, cwd=tmp_path, environ={var: value})
    name = var.removeprefix("REPLAYDECK_").lower()
    assert str(info.value).startswith("environment: bad value") and f"for {name!r}" in str(info.value)
    assert needle in str(info.value)


def test_file_values_of_the_wrong_type_are_errors(tmp_path: Path) -> None:
    for content, needle in (('host = 5', "valid string"), ('volatile_fields = "stream"', "list of strings"),
                            ('routes = ["x"]', "PREFIX = URL"), ('tape_cache_size = true', "valid integer")):
        (tmp_path / "replaydeck.toml").write_text(content + "\n")
        with pytest.raises(ConfigError, match=needle):
            load_settings({}, cwd=tmp_path, environ={})


def test_settings_built_in_python_are_checked_and_frozen(tmp_path: Path) -> None:
    s = Settings(port="5000", record="off", timing="instant", tapes_dir=str(tmp_path))
    assert (s.port, s.record, s.timing.kind, s.tapes_dir) == (5000, Mode.OFF, "instant", tmp_path)
    with pytest.raises(InvalidSetting, match="port"):
        Settings(port=70000)
    with pytest.raises(ValueError, match="http"):
        Settings(upstream="ftp://example.com")
    with pytest.raises(ConfigError, match="dashboard_token"):  # the CLI's edge catches it as such
        Settings(dashboard_token="short")
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]
    assert Settings().routes == {} and Settings().routes is not Settings().routes
