"""The OpenAPI 3.1 description of the dashboard's control API.

The UI builds its client from this document (``static/api.js`` looks each call
up by ``operationId``), so an endpoint missing here is a broken button, and a
test checks that every route is described and every description is routed.
Written as data: one row per operation, expanded into the OpenAPI shape below.
"""

from __future__ import annotations

from typing import Any

from replaydeck._version import __version__

_ERR = {"$ref": "#/components/schemas/Error"}


def _q(name: str, desc: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": desc,
            "schema": {"type": kind}}


def _p(name: str, desc: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": desc,
            "schema": {"type": "string"}}


RID = _p("rid", "History id of a request (as listed).")
KEY = _p("key", "Tape key (the file name without .json).")

#: (method, path, operationId, summary, parameters, request body schema or None)
OPERATIONS: list[tuple[str, str, str, str, list[dict[str, Any]], dict[str, Any] | None]] = [
    ("get", "/openapi.json", "getOpenapi", "This document.", [], None),
    ("get", "/requests", "listRequests",
     "Requests in the history, newest first, with search and filters (keyset paged).",
     [_q("q", "Words that must all appear in the prompt or reply (prefix match)."),
      _q("model", "Exact model."), _q("provider", "Exact provider, e.g. openai-chat."),
      _q("source", "upstream | tape | miss | passthrough | joined"),
      _q("status", "ok | error | an HTTP status code"),
      _q("tools", "true: only replies with tool calls; false: only without.", "boolean"),
      _q("before", "Cursor: the `next` value of the previous page."),
      _q("limit", "Page size, 1-1000 (100).", "integer")], None),
    ("delete", "/requests", "clearRequests", "Forget the whole history.", [], None),
    ("get", "/requests/{rid}", "getRequest",
     "One request in full: transcript, summary, headers (secrets masked), chunks, tape.",
     [RID], None),
    ("get", "/requests/{rid}/curl", "getRequestCurl",
     "The request as a curl command; secrets become environment variables.", [RID], None),
    ("get", "/requests/{rid}/nearest", "getRequestNearest",
     "The tapes nearest to this request and the fields that differ (a miss's explanation).",
     [RID], None),
    ("get", "/facets", "getFacets", "Values for the filter menus (models, providers, sources).",
     [], None),
    ("get", "/series", "getSeries", "Per-request latency and tokens since a time, for charts.",
     [_q("since", "Unix time in seconds (0).", "number")], None),
    ("get", "/tapes", "listTapes", "Tapes, most recently written first.",
     [_q("q", "Text to look for in the tape's row."),
      _q("offset", "Rows to skip (0).", "integer"),
      _q("limit", "Page size, 1-1000 (200).", "integer")], None),
    ("get", "/tapes/diff", "diffTapes",
     "What differs between two tapes: key material (why they do not match) and reply.",
     [_q("a", "First tape key."), _q("b", "Second tape key.")], None),
    ("get", "/tapes/{key}", "getTape", "One tape, in the same shape as a request.", [KEY], None),
    ("delete", "/tapes/{key}", "deleteTape", "Delete the tape file.", [KEY], None),
    ("post", "/tapes/{key}/rerecord", "markRerecord",
     "Mark for re-recording: in auto mode the next matching request goes upstream and "
     "overwrites the tape.", [KEY], None),
    ("delete", "/tapes/{key}/rerecord", "unmarkRerecord", "Remove the re-record mark.", [KEY],
     None),
    ("get", "/settings", "getSettings", "Runtime settings and where things are stored.", [],
     None),
    ("patch", "/settings", "updateSettings", "Change the record mode and/or timing at once.", [],
     {"type": "object", "additionalProperties": False, "properties": {
         "mode": {"type": "string", "enum": ["auto", "off", "replay-only"]},
         "timing": {"type": "string", "description": "original | instant | a factor like 0.5"}}}),
]


def build_spec() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op_id, summary, params, body in OPERATIONS:
        op: dict[str, Any] = {
            "operationId": op_id, "summary": summary, "parameters": params,
            "responses": {"200": {"description": "OK", "content": {"application/json": {}}},
                          "4XX": {"description": "Error",
                                  "content": {"application/json": {"schema": _ERR}}}},
        }
        if body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "replaydeck control API", "version": __version__,
            "description": (
                "Everything the dashboard does, scriptable. Same origin only: requests from "
                "another site are refused, and off loopback the start-up token is required "
                "(cookie, or the X-Replaydeck-Token header). Live events: a WebSocket at "
                "/__replaydeck/api/events sends JSON arrays of events (hello, started, delta, "
                "completed, gap, settings, tapes)."),
        },
        "servers": [{"url": "/__replaydeck/api"}],
        "paths": paths,
        "components": {"schemas": {"Error": {"type": "object", "properties": {"error": {
            "type": "object", "properties": {"message": {"type": "string"},
                                             "type": {"type": "string"}}}}}}},
    }


SPEC = build_spec()
