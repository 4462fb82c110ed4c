"""Provider registry: the first provider whose ``match`` accepts a request owns it.

A new provider is one module with a ``Provider`` subclass, added to
``DEFAULT_PROVIDERS`` or registered by a third-party package through the
``replaydeck.providers`` entry-point group (the value is the class). The generic
HTTP provider is always last and matches everything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points

from replaydeck.providers.anthropic import AnthropicMessages
from replaydeck.providers.base import LiveEvent, Provider, ResponseParser, Summary, ToolCall
from replaydeck.providers.gemini import Gemini
from replaydeck.providers.ollama import Ollama
from replaydeck.providers.openai_chat import OpenAIChat
from replaydeck.providers.openai_misc import OpenAICompletions, OpenAIEmbeddings, OpenAIModels
from replaydeck.providers.openai_responses import OpenAIResponses

log = logging.getLogger("replaydeck")

#: Order matters only where paths overlap: Gemini's ``models/{m}:method`` and Ollama's
#: ``/api/...`` are claimed before the OpenAI catch-alls (``/embeddings``, ``GET /models``).
DEFAULT_PROVIDERS: list[type[Provider]] = [
    OpenAIChat,
    OpenAIResponses,
    OpenAICompletions,
    AnthropicMessages,
    Gemini,
    Ollama,
    OpenAIEmbeddings,
    OpenAIModels,
]

GENERIC = Provider()


class Registry:
    def __init__(self, providers: Iterable[Provider]) -> None:
        self.providers = [p for p in providers if p.name != GENERIC.name]
        self.by_name = {p.name: p for p in self.providers}
        self.by_name[GENERIC.name] = GENERIC

    def for_request(self, method: str, path: str) -> Provider:
        for provider in self.providers:
            if provider.match(method, path):
                return provider
        return GENERIC

    def get(self, name: str) -> Provider:
        return self.by_name.get(name, GENERIC)


def default_registry(load_entry_points: bool = True) -> Registry:
    classes = list(DEFAULT_PROVIDERS)
    if load_entry_points:
        for ep in entry_points(group="replaydeck.providers"):
            try:
                classes.append(ep.load())
            except Exception as exc:  # a broken plugin must not take the proxy down
                log.warning("provider plugin %s failed to load: %s", ep.name, exc)
    return Registry(cls() for cls in classes)


__all__ = [
    "DEFAULT_PROVIDERS",
    "GENERIC",
    "LiveEvent",
    "Provider",
    "Registry",
    "ResponseParser",
    "Summary",
    "ToolCall",
    "default_registry",
]
