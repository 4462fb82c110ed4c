"""Secret removal, applied before anything touches a tape, a log or the dashboard (pure).

Rules:
1. Secret headers (credentials, cookies, org ids) are dropped from what is stored.
2. Key-like query parameters keep their name but their value becomes ``REDACTED``.
3. Strings in bodies that look like provider API keys, and the user's extra
   patterns, are replaced by ``REDACTED``. Matching is by value shape, not by
   position, so a key pasted into a prompt is caught too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "openai-organization",
        "openai-project",
        "x-auth-token",
        "x-amz-security-token",
    }
)

SECRET_QUERY = frozenset(
    {"key", "api_key", "apikey", "api-key", "access_token", "token", "auth", "sig", "signature"}
)

# Shapes of real provider keys: OpenAI sk-/sk-proj-, Anthropic sk-ant-, Google AIza,
# bearer tokens in text, and generic "secret-looking" long tokens after key= in text.
KEY_PATTERNS = (
    r"sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}",
    r"AIza[0-9A-Za-z_\-]{30,}",
    r"(?:[Bb]earer|BEARER)\s+[A-Za-z0-9._\-]{16,}",
)

#: Substrings that every KEY_PATTERNS match contains ("Bearer"/"bearer" hold "earer"):
#: text with none of them, nor any of the request's own secret values, cannot match,
#: and a substring test is far cheaper than running the alternation over every byte
#: (it was most of the cost of redacting a recorded stream). With user patterns,
#: which may match anything, every text goes through the regex.
KEY_NEEDLES = ("sk-", "AIza", "earer", "EARER")

MASK = "REDACTED"
MASK_B = MASK.encode()


def _bytes_pattern(pattern: re.Pattern[str]) -> re.Pattern[bytes]:
    return re.compile(pattern.pattern.encode("utf-8"))


class Redactor:
    def __init__(
        self,
        extra_headers: Iterable[str] = (),
        extra_query: Iterable[str] = (),
        extra_patterns: Iterable[str] = (),
    ) -> None:
        self.headers = SECRET_HEADERS | {h.lower() for h in extra_headers}
        self.query = SECRET_QUERY | {q.lower() for q in extra_query}
        extra = tuple(extra_patterns)
        self.pattern = re.compile("|".join(f"(?:{p})" for p in (*KEY_PATTERNS, *extra)))
        self.bpattern = _bytes_pattern(self.pattern)
        self._set_needles(None if extra else KEY_NEEDLES)

    def _set_needles(self, needles: tuple[str, ...] | None) -> None:
        self.needles = needles
        self.bneedles = None if needles is None else tuple(n.encode() for n in needles)

    def _may_match(self, value: str) -> bool:
        needles = self.needles
        return needles is None or any(n in value for n in needles)

    def _may_match_b(self, data: bytes) -> bool:
        needles = self.bneedles
        return needles is None or any(n in data for n in needles)

    def for_request(self, headers: Iterable[tuple[str, str]], query: str) -> Redactor:
        """A redactor that also masks this request's own secret values wherever they
        reappear (an upstream that echoes a header, a key pasted into a prompt)."""
        values: set[str] = set()
        for name, value in headers:
            if name.lower() not in self.headers or not value:
                continue
            values.add(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.lower() in ("bearer", "basic", "token"):
                values.add(token)
            for part in value.split(";"):
                values.add(part.strip().partition("=")[2])
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name.lower() in self.query:
                values.add(value)
        literal = sorted((v for v in values if len(v) >= 6), key=len, reverse=True)
        if not literal:
            return self
        clone = Redactor.__new__(Redactor)
        clone.headers = self.headers
        clone.query = self.query
        clone.pattern = re.compile(
            "|".join([re.escape(v) for v in literal] + [f"(?:{self.pattern.pattern})"])
        )
        clone.bpattern = _bytes_pattern(clone.pattern)
        clone._set_needles(None if self.needles is None else (*literal, *self.needles))
        return clone

    def is_secret_header(self, name: str) -> bool:
        return name.lower() in self.headers

    def headers_dict(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Stored form of headers: secrets dropped, names lower-case, repeats joined."""
        out: dict[str, str] = {}
        for name, value in headers:
            name = name.lower()
            if name in self.headers:
                continue
            value = self.text(value)
            out[name] = f"{out[name]}, {value}" if name in out else value
        return out

    def masked_headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Display form: secret headers shown as present but masked."""
        out: dict[str, str] = {}
        for name, value in headers:
            name = name.lower()
            out[name] = MASK if name in self.headers else self.text(value)
        return out

    def query_string(self, query: str) -> str:
        if not query:
            return ""
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(k.lower() in self.query for k, _ in pairs) and not self.pattern.search(query):
            return query
        return urlencode(
            [(k, MASK if k.lower() in self.query else self.text(v)) for k, v in pairs]
        )

    def text(self, value: str) -> str:
        return self.pattern.sub(MASK, value) if value and self._may_match(value) else value

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value

    def bytes_(self, data: bytes) -> bytes:
        # on bytes, so a body that is not valid UTF-8 is still scanned
        return self.bpattern.sub(MASK_B, data) if data and self._may_match_b(data) else data

    def chunks(self, parts: list[bytes]) -> list[bytes]:
        """Redact a body that arrived in pieces, as one body: a secret split across two
        network reads (or next to a split multi-byte character) is still found. Piece
        boundaries are kept, except that one falling inside a secret moves to its end."""
        joined = b"".join(parts)
        if not self._may_match_b(joined):
            return parts
        matches = list(self.bpattern.finditer(joined))
        if not matches:
            return parts
        new = self.bpattern.sub(MASK_B, joined)

        def moved(offset: int) -> int:
            shift = 0
            for m in matches:
                if m.end() <= offset:
                    shift += len(MASK_B) - (m.end() - m.start())
                elif m.start() < offset:  # inside this secret: after its mask
                    return m.start() + shift + len(MASK_B)
                else:
                    break
            return offset + shift

        out: list[bytes] = []
        start = end = 0
        for part in parts:
            end += len(part)
            stop = moved(end)
            out.append(new[start:stop])
            start = stop
        return out
