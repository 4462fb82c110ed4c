"""Tape tools behind `replaydeck tapes ...`: pure-ish functions over a tapes directory.

Each module holds one tool's logic (``catalog``: ls/show/rm/prune selection;
``verify``; ``importers``; ``migrate``; ``why``) and talks to tapes only through
``storage`` (format + ``TapeStore``) and to keys only through ``ProxyApp.build`` /
``ProxyApp.explain``, so a tool can never compute a key differently from the proxy.
Nothing here imports click or prints; ``cli/tapes.py`` renders the results.
"""
