"""replaydeck: a record/replay proxy and debugger for LLM APIs.

The public API is small: the settings, the tape value types, the store, the
errors, and a way to run a server in-process (used by tests and tools).
"""

from replaydeck._version import __version__
from replaydeck.errors import (
    ConfigError,
    InvalidSetting,
    ReplaydeckError,
    ReplayMiss,
    TapeCorrupt,
    TapeError,
    TapeVersionError,
    UpstreamError,
    UpstreamTimeout,
)
from replaydeck.models import Chunk, RequestRecord, Tape
from replaydeck.settings import Mode, Settings, Timing, load_settings
from replaydeck.storage import TapeStore

__all__ = [
    "Chunk",
    "ConfigError",
    "InvalidSetting",
    "Mode",
    "ReplayMiss",
    "ReplaydeckError",
    "RequestRecord",
    "Settings",
    "Tape",
    "TapeCorrupt",
    "TapeError",
    "TapeStore",
    "TapeVersionError",
    "Timing",
    "UpstreamError",
    "UpstreamTimeout",
    "__version__",
    "load_settings",
]
