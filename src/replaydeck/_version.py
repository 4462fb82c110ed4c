"""The single source of the package version (the tape format has its own, see storage.format)."""

__version__ = "0.1.0"
