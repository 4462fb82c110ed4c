"""The one exception tree of replaydeck.

    ReplaydeckError
     ├── ConfigError            a setting, flag or config file is wrong (the user's fault)
     │    └── InvalidSetting    Settings(...) got a value its setting does not accept
     ├── TapeError              a tape on disk cannot be used
     │    ├── TapeCorrupt       not JSON, or not a tape
     │    └── TapeVersionError  written by a newer replaydeck
     ├── ReplayMiss             replay-only mode and no tape matches (carries the explanation)
     └── UpstreamError          the upstream could not be reached or broke (502)
          └── UpstreamTimeout   the upstream did not answer in time (504)

Errors are translated at each edge: the upstream client raises UpstreamError itself
(``proxy.upstream_client``); the CLI turns any ReplaydeckError into a
click error; API clients get a JSON body shaped like their provider's errors
with a stable ``type`` field.
"""

from __future__ import annotations

from typing import Any


class ReplaydeckError(Exception):
    """Root of every error replaydeck raises on purpose."""


class ConfigError(ReplaydeckError):
    """A setting has an unknown key or a bad value."""


class InvalidSetting(ConfigError, ValueError):
    """``Settings(...)`` got a value one setting does not accept (also a ValueError, as a
    bad constructor argument is); load_settings reports it with the layer it came from."""

    def __init__(self, name: str, msg: str) -> None:
        super().__init__(f"{name}: {msg}")
        self.name = name
        self.msg = msg


class TapeError(ReplaydeckError):
    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class TapeCorrupt(TapeError):
    """The file is not valid JSON or not a tape."""


class TapeVersionError(TapeError):
    """The tape's format version is newer than this replaydeck understands."""


class ReplayMiss(ReplaydeckError):
    def __init__(self, message: str, key: str, near_misses: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.key = key
        self.near_misses = near_misses


class UpstreamError(ReplaydeckError):
    status = 502
    error_type = "upstream_error"

    def __init__(self, message: str, upstream: str) -> None:
        super().__init__(message)
        self.upstream = upstream


class UpstreamTimeout(UpstreamError):
    status = 504
    error_type = "upstream_timeout"
