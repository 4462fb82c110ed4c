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
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from replaydeck.errors import ConfigError


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


class Settings(BaseModel):
    """Every setting replaydeck has. Field descriptions are the help text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Address to bind. Loopback by default.")
    port: Annotated[int, Field(ge=0, le=65535)] = Field(4747, description="Port to listen on.")
    upstream: str = Field(
        "https://api.openai.com",
        description="Default upstream base URL; with or without a trailing /v1.",
    )
    routes: dict[str, str] = Field(
        default_factory=dict,
        description="Extra upstreams by path prefix, e.g. {'/anthropic': 'https://api.anthropic.com'}.",
    )
    tapes_dir: Path = Field(Path(".replaydeck/tapes"), description="Where tapes are stored.")
    record: Mode = Field(Mode.AUTO, description="auto | off | replay-only.")
    timing: Timing = Field(
        Timing("original"), description="Replay pacing: original | instant | FACTOR on gaps."
    )
    ui: bool = Field(True, description="Serve the dashboard (false = --no-ui).")
    quiet: bool = Field(False, description="No per-request log lines.")
    log_format: Literal["text", "json"] = Field("text", description="Per-request log format.")
    record_errors: bool = Field(False, description="Also record 4xx/5xx upstream responses.")
    volatile_fields: tuple[str, ...] = Field(
        DEFAULT_VOLATILE_FIELDS,
        description="Top-level body fields left out of the tape key (dotted paths allowed).",
    )
    key_headers: tuple[str, ...] = Field(
        DEFAULT_KEY_HEADERS, description="Request headers that are part of the tape key."
    )
    redact_headers: tuple[str, ...] = Field(
        (), description="Extra header names never written to tapes or logs."
    )
    redact_query: tuple[str, ...] = Field(
        (), description="Extra query parameter names masked in tapes and logs."
    )
    redact_patterns: tuple[str, ...] = Field(
        (), description="Extra regular expressions masked in recorded bodies."
    )
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to connect upstream.")
    read_timeout: float = Field(600.0, gt=0, description="Seconds between upstream bytes.")
    tape_cache_size: int = Field(4096, ge=0, description="Parsed tapes kept in memory.")
    sequence: bool = Field(
        False,
        description="Record repeated identical requests as an ordered series; replay in order.",
    )
    history_path: Path = Field(
        Path(".replaydeck/history.db"),
        description="SQLite file keeping the dashboard's request history across restarts.",
    )
    history_max_entries: int = Field(
        10000, ge=0, description="Requests kept in the history (oldest dropped; 0 = no history)."
    )
    history_max_days: float = Field(30.0, gt=0, description="Days a request stays in the history.")
    dashboard_token: str | None = Field(
        None,
        min_length=16,
        description="Token the dashboard asks for when bound to a non-loopback address "
        "(a random one is made and printed when unset).",
    )
    record_reason: str = Field("default", description="Which layer chose the record mode.")

    @field_validator("timing", mode="before")
    @classmethod
    def _timing(cls, value: Any) -> Timing:
        return Timing.parse(value)

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("routes")
    @classmethod
    def _routes(cls, value: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for prefix, url in value.items():
            norm = _normalize_prefix(prefix)
            if not norm:
                raise ValueError("a route prefix cannot be '/': use upstream for the default")
            if norm.startswith("/__replaydeck"):
                raise ValueError(f"{prefix!r} is reserved for replaydeck's own endpoints")
            out[norm] = _check_url(url)
        return out

    @field_validator("redact_patterns", mode="after")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return value

    @field_validator("key_headers", "redact_headers", mode="after")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value if v.strip())

    def all_routes(self) -> dict[str, str]:
        """Built-in routes overlaid by the user's, longest prefix first."""
        merged = {**BUILTIN_ROUTES, **self.routes}
        return dict(sorted(merged.items(), key=lambda kv: -len(kv[0])))


FIELDS = {name for name in Settings.model_fields if name != "record_reason"}
#: config-file spellings accepted besides the field names (kebab-case like the flags)
_ALIASES = {name.replace("_", "-"): name for name in FIELDS}


def _allowed(name: str) -> str:
    field = Settings.model_fields[name]
    ann = field.annotation
    if ann is Mode:
        return "one of " + ", ".join(m.value for m in Mode)
    if name == "timing":
        return "original, instant or a number such as 0.5"
    if name == "log_format":
        return "text or json"
    return field.description or ""


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
        ann = Settings.model_fields[name].annotation
        if name == "routes":
            value = parse_routes([p for p in raw.split(",") if p.strip()])
        elif ann is not None and "tuple" in str(ann):
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
    try:
        if own.is_file():
            return own, tomllib.loads(own.read_text("utf-8"))
        pyproject = cwd / "pyproject.toml"
        if pyproject.is_file():
            section = tomllib.loads(pyproject.read_text("utf-8")).get("tool", {}).get("replaydeck")
            if isinstance(section, dict):
                return pyproject, section
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}") from exc
    return None


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
    except ValidationError as exc:  # pragma: no cover - _check_one catches field errors first
        raise ConfigError(str(exc)) from exc


def _check_one(source: str, name: str, value: Any) -> None:
    try:
        Settings(**{name: value})
    except ValidationError as exc:
        msg = exc.errors()[0].get("msg", "invalid value")
        raise ConfigError(
            f"{source}: bad value {value!r} for {name!r} ({msg}); allowed: {_allowed(name)}"
        ) from None


def settings_json(settings: Settings) -> bytes:
    return orjson.dumps(settings.model_dump(mode="json"))
