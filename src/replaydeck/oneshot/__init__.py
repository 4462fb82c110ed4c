"""One-shot capture in the style of asgi-replay: record one interaction to a file,
replay it to every request, or export it as a standalone ASGI app.

``files`` reads either file kind (a replaydeck tape or an asgi-replay log);
``record`` and ``server`` are the two ASGI apps; ``export`` writes the app source.
"""
