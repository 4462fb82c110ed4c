"""Tape storage: the file format (``format``) and the filesystem store (``filesystem``)."""

from replaydeck.storage.filesystem import TapeStore
from replaydeck.storage.format import FORMAT_VERSION, dump_tape, load_tape

__all__ = ["FORMAT_VERSION", "TapeStore", "dump_tape", "load_tape"]
