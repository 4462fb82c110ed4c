"""Settings: declared once (type, default, help), loaded in layers, frozen, passed down.

Layers, lowest first: built-in defaults < ``replaydeck.toml`` (or ``[tool.replaydeck]``
in ``pyproject.toml``) < ``REPLAYDECK_*`` environment variables < command-line flags.
Every layer is checked against the same declaration, so an unknown key or a bad
value fails with the key's name and what it accepts, whichever layer it came from.

Rule: when the variable ``CI`` is set and no layer names a record mode, the mode is
``replay-only``: a test run in CI must never call a paid API by surprise.
``Settings.record_reason`` says which layer decided, for the startup banner.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from replaydeck.errors import ConfigError, InvalidSetting


class Mode(enum.StrEnum):
    """What happens when a request arrives."""

    AUTO = "auto"  # replay a tape when one matches, otherwise forward upstream and record
    OFF = "off"  # pure proxy: never replay, never record
    REPLAY_ONLY = "replay-only"  # replay or fail at once with an explanation; never call upstream


@dataclass(frozen=True, slots=True)
class Timing:
    """How replayed chunks are paced: ``original``, ``instant`` or a factor on every gap."""

    kind: Literal["original", "instant", "factor"]
    factor: float = 1.0

    @classmethod
    def parse(cls, value: str | float | Timing) -> Timing:
        if isinstance(value, Timing):
            return value
        text = str(value).strip().lower()
        if text == "original":
            return cls("original", 1.0)
        if text == "instant":
            return cls("instant", 0.0)
        try:
            factor = float(text)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a timing: use original, instant or a factor such as 0.5"
            ) from None
        if not factor >= 0 or factor == float("inf"):
            raise ValueError(f"timing factor must be a finite number >= 0, got {value!r}")
        return cls("factor", factor)

    @property
    def scale(self) -> float:
        """Multiplier applied to every recorded delay (0 = send at once)."""
        return 0.0 if self.kind == "instant" else self.factor

    def __str__(self) -> str:
        return self.kind if self.kind != "factor" else f"{self.factor:g}"


#: Top-level JSON body fields left out of the tape key by default. They change
#: bookkeeping, cost or framing, not what the model answers (see docs/keys.md).
DEFAULT_VOLATILE_FIELDS: tuple[str, ...] = (
    "stream",
    "stream_options",
    "user",
    "metadata",
    "request_id",
    "timestamp",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "store",
    "keep_alive",
)

#: Request headers that change what the upstream returns, so they are part of the key.
DEFAULT_KEY_HEADERS: tuple[str, ...] = ("anthropic-version", "anthropic-beta", "openai-beta")

#: Routes every proxy has unless ``--route``/config overrides the prefix.
BUILTIN_ROUTES: dict[str, str] = {
    "/anthropic": "https://api.anthropic.com",
    "/gemini": "https://generativelanguage.googleapis.com",
    "/ollama": "http://127.0.0.1:11434",
}

#: Environment variables with the REPLAYDECK_ prefix that are not settings.
NON_SETTING_ENV = frozenset({"REPLAYDECK_HOME", "REPLAYDECK_BIN", "REPLAYDECK_BENCH_HOME"})


def _normalize_prefix(prefix: str) -> str:
    prefix = "/" + prefix.strip().strip("/")
    return prefix if prefix != "/" else ""


def _check_url(url: str) -> str:
    url = url.strip()
    if not (url.startswith("http://") or url.startswith("https://")) or len(url) < 10:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url.rstrip("/")


# ----------------------------------------------------------------- value checks
# Each takes a value as a layer gives it (TOML, an environment string, a flag, a
# Python caller) and returns it in the setting's type or raises ValueError with
# what is wrong. Strings are converted where a layer can only give strings.

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("Input should be a valid boolean")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("Input should be a valid string")


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"Input should be a valid {'integer' if kind is int else 'number'}")
    if isinstance(value, str):
        try:
            value = int(value.strip()) if kind is int and value.strip().isdigit() else float(value)
        except ValueError:
            raise ValueError(
                f"Input should be a valid {'integer' if kind is int else 'number'}"
            ) from None
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if kind is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, kind):
        raise ValueError(f"Input should be a valid {'integer' if kind is int else 'number'}")
    return value


def _int(ge: int, le: int | None = None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        n: int = _number(value, int)
        if n < ge:
            raise ValueError(f"Input should be greater than or equal to {ge}")
        if le is not None and n > le:
            raise ValueError(f"Input should be less than or equal to {le}")
        return n

    return check


def _positive(value: Any) -> float:
    x: float = _number(value, float)
    if not x > 0:
        raise ValueError("Input should be greater than 0")
    return x


def _path(value: Any) -> Path:
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise ValueError("Input is not a valid path")


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("Input should be a list of strings")


def _lower_names(value: Any) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in _names(value) if v.strip())


def _patterns(value: Any) -> tuple[str, ...]:
    import re

    patterns = _names(value)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
    return patterns


def _routes(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("Input should be a table of PREFIX = URL strings")
    out: dict[str, str] = {}
    for prefix, url in value.items():
        norm = _normalize_prefix(prefix)
        if not norm:
            raise ValueError("a route prefix cannot be '/': use upstream for the default")
        if norm.startswith("/__replaydeck"):
            raise ValueError(f"{prefix!r} is reserved for replaydeck's own endpoints")
        out[norm] = _check_url(url)
    return out


def _mode(value: Any) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        raise ValueError("Input should be 'auto', 'off' or 'replay-only'") from None


def _log_format(value: Any) -> str:
    if value in ("text", "json"):
        return str(value)
    raise ValueError("Input should be 'text' or 'json'")


def _token(value: Any) -> str | None:
    if value is None:
        return None
    token = _str(value)
    if len(token) < 16:
        raise ValueError("String should have at least 16 characters")
    return token


def setting(default: Any, help: str, check: Callable[[Any], Any], *, env: str = "") -> Any:
    """One setting's declaration: its default, help text and check.

    ``env`` says how a ``REPLAYDECK_*`` string is split: "list" (commas) or
    "routes" (comma-separated PREFIX=URL)."""
    meta = {"help": help, "check": check, "env": env}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting replaydeck has, declared once: default, help text, check.

    A frozen dataclass rather than a validation library's model: building such a
    model (and importing the library) cost about a quarter of the start-up to a
    healthy /health, for two dozen scalar settings. Every value, whichever layer
    (or Python caller) gives it, goes through its setting's check in
    ``__post_init__``; a bad one raises InvalidSetting."""

    host: str = setting("127.0.0.1", "Address to bind. Loopback by default.", _str)
    port: int = setting(4747, "Port to listen on.", _int(0, 65535))
    upstream: str = setting(
        "https://api.openai.com",
        "Default upstream base URL; with or without a trailing /v1.",
        lambda v: _check_url(_str(v)),
    )
    routes: dict[str, str] = setting(
        {},
        "Extra upstreams by path prefix, e.g. {'/anthropic': 'https://api.anthropic.com'}.",
        _routes,
        env="routes",
    )
    tapes_dir: Path = setting(Path(".replaydeck/tapes"), "Where tapes are stored.", _path)
    record: Mode = setting(Mode.AUTO, "auto | off | replay-only.", _mode)
    timing: Timing = setting(
        Timing("original"), "Replay pacing: original | instant | FACTOR on gaps.", Timing.parse
    )
    ui: bool = setting(True, "Serve the dashboard (false = --no-ui).", _bool)
    quiet: bool = setting(False, "No per-request log lines.", _bool)
    log_format: Literal["text", "json"] = setting("text", "Per-request log format.", _log_format)
    record_errors: bool = setting(False, "Also record 4xx/5xx upstream responses.", _bool)
    volatile_fields: tuple[str, ...] = setting(
        DEFAULT_VOLATILE_FIELDS,
        "Top-level body fields left out of the tape key (dotted paths allowed).",
        _names,
        env="list",
    )
    key_headers: tuple[str, ...] = setting(
        DEFAULT_KEY_HEADERS, "Request headers that are part of the tape key.", _lower_names,
        env="list",
    )
    redact_headers: tuple[str, ...] = setting(
        (), "Extra header names never written to tapes or logs.", _lower_names, env="list"
    )
    redact_query: tuple[str, ...] = setting(
        (), "Extra query parameter names masked in tapes and logs.", _names, env="list"
    )
    redact_patterns: tuple[str, ...] = setting(
        (), "Extra regular expressions masked in recorded bodies.", _patterns, env="list"
    )
    connect_timeout: float = setting(10.0, "Seconds to connect upstream.", _positive)
    read_timeout: float = setting(600.0, "Seconds between upstream bytes.", _positive)
    tape_cache_size: int = setting(4096, "Parsed tapes kept in memory.", _int(0))
    sequence: bool = setting(
        False,
        "Record repeated identical requests as an ordered series; replay in order.",
        _bool,
    )
    history_path: Path = setting(
        Path(".replaydeck/history.db"),
        "SQLite file keeping the dashboard's request history across restarts.",
        _path,
    )
    history_max_entries: int = setting(
        10000, "Requests kept in the history (oldest dropped; 0 = no history).", _int(0)
    )
    history_max_days: float = setting(30.0, "Days a request stays in the history.", _positive)
    dashboard_token: str | None = setting(
        None,
        "Token the dashboard asks for when bound to a non-loopback address "
        "(a random one is made and printed when unset).",
        _token,
    )
    record_reason: str = setting("default", "Which layer chose the record mode.", _str)

    def __post_init__(self) -> None:
        for f in fields(self):
            try:
                value = f.metadata["check"](getattr(self, f.name))
            except ValueError as exc:
                raise InvalidSetting(f.name, str(exc)) from None
            object.__setattr__(self, f.name, value)

    def all_routes(self) -> dict[str, str]:
        """Built-in routes overlaid by the user's, longest prefix first."""
        merged = {**BUILTIN_ROUTES, **self.routes}
        return dict(sorted(merged.items(), key=lambda kv: -len(kv[0])))


#: each setting's declaration (help text, check, how an environment string splits)
SETTINGS: dict[str, Field[Any]] = {f.name: f for f in fields(Settings)}
FIELDS = {name for name in SETTINGS if name != "record_reason"}
#: config-file spellings accepted besides the field names (kebab-case like the flags)
_ALIASES = {name.replace("_", "-"): name for name in FIELDS}


def _allowed(name: str) -> str:
    if name == "record":
        return "one of " + ", ".join(m.value for m in Mode)
    if name == "timing":
        return "original, instant or a number such as 0.5"
    if name == "log_format":
        return "text or json"
    return str(SETTINGS[name].metadata["help"])


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var, raw in environ.items():
        if not var.startswith("REPLAYDECK_") or var in NON_SETTING_ENV:
            continue
        name = var[len("REPLAYDECK_") :].lower()
        if name not in FIELDS:
            raise ConfigError(
                f"unknown environment variable {var}: settings are "
                + ", ".join("REPLAYDECK_" + f.upper() for f in sorted(FIELDS))
            )
        value: Any = raw
        split = SETTINGS[name].metadata["env"]
        if split == "routes":
            value = parse_routes([p for p in raw.split(",") if p.strip()])
        elif split == "list":
            value = [p.strip() for p in raw.split(",") if p.strip()]
        out[name] = value
    return out


def parse_routes(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    routes: dict[str, str] = {}
    for item in items:
        prefix, sep, url = item.partition("=")
        if not sep or not prefix.strip() or not url.strip():
            raise ConfigError(f"route {item!r} must look like PREFIX=URL, e.g. /anthropic=https://api.anthropic.com")
        routes[prefix.strip()] = url.strip()
    return routes


def find_config_file(cwd: Path) -> tuple[Path, dict[str, Any]] | None:
    """``replaydeck.toml`` wins over ``[tool.replaydeck]`` in ``pyproject.toml``."""
    own = cwd / "replaydeck.toml"
    pyproject = cwd / "pyproject.toml"
    path = own if own.is_file() else pyproject if pyproject.is_file() else None
    if path is None:
        return None
    import tomllib  # only when there is a file to read (it is not free to import)

    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}") from exc
    if path is own:
        return own, data
    section = data.get("tool", {}).get("replaydeck")
    return (pyproject, section) if isinstance(section, dict) else None


def _file_layer(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = _ALIASES.get(key, key)
        if name not in FIELDS:
            raise ConfigError(
                f"{path}: unknown key {key!r}; known keys: " + ", ".join(sorted(FIELDS))
            )
        out[name] = value
    return out


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the frozen Settings from every layer. Flags given as None count as not given."""
    cwd = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, Any]]] = []
    found = find_config_file(cwd)
    if found:
        layers.append((f"config file {found[0].name}", _file_layer(*found)))
    layers.append(("environment", _env_layer(environ)))
    layers.append(("command line", {k: v for k, v in (flags or {}).items() if v is not None}))

    merged: dict[str, Any] = {}
    reason = "default"
    for source, layer in layers:
        for name, value in layer.items():
            if name not in FIELDS:
                raise ConfigError(f"unknown setting {name!r}")
            _check_one(source, name, value)
            merged[name] = value
            if name == "record":
                reason = {
                    "environment": "REPLAYDECK_RECORD",
                    "command line": "--record",
                }.get(source, source)
    if "record" not in merged and environ.get("CI"):
        merged["record"] = Mode.REPLAY_ONLY
        reason = "CI is set and no record mode was given"
    merged["record_reason"] = reason
    try:
        return Settings(**merged)
    except InvalidSetting as exc:  # pragma: no cover - _check_one catches field errors first
        raise ConfigError(str(exc)) from exc


def _check_one(source: str, name: str, value: Any) -> None:
    try:
        SETTINGS[name].metadata["check"](value)
    except ValueError as exc:
        raise ConfigError(
            f"{source}: bad value {value!r} for {name!r} ({exc}); allowed: {_allowed(name)}"
        ) from None
