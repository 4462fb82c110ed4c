"""The proxy: ASGI app, upstream client, replay pacing, single flight, control plane."""

from replaydeck.proxy.app import CONTROL_PREFIX, ProxyApp

__all__ = ["CONTROL_PREFIX", "ProxyApp"]
