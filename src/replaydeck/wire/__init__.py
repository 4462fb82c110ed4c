"""Sans-IO wire codecs: feed bytes, get events. Nothing here imports asyncio or an HTTP client."""

from replaydeck.wire.ndjson import NDJSONDecoder
from replaydeck.wire.sse import SSEDecoder, SSEEvent, encode_event

__all__ = ["NDJSONDecoder", "SSEDecoder", "SSEEvent", "encode_event"]
