"""URLs as opslog shows them: no user information, no query, no fragment.

One rule for every place a URL is written out (client spans' ``url.full``,
configuration error messages): the credentials and the query string are
dropped outright, the rest still goes through redaction, since secrets also
travel in paths (``/reset/token=...``, ``;jsessionid=...``).
"""

from __future__ import annotations

import urllib.parse
from typing import NamedTuple, Optional

__all__ = ["ShownUrl", "shown_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class ShownUrl(NamedTuple):
    """What :func:`shown_url` returns."""

    #: ``scheme://host[:port]/path``, or ``"<unparseable URL>"``.
    text: str
    #: The host name ("" when there is none).
    host: str
    #: The port, explicit or the scheme's default, else ``None``.
    port: Optional[int]


def shown_url(url: str) -> ShownUrl:
    """``url`` without user information, query string or fragment. Never raises."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        explicit = parts.port
        netloc = host if explicit is None else f"{host}:{explicit}"
        if ":" in host:  # an IPv6 literal goes back in brackets
            netloc = f"[{host}]" if explicit is None else f"[{host}]:{explicit}"
        text = _without_user(urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")))
        return ShownUrl(text, host, explicit or _DEFAULT_PORTS.get(parts.scheme))
    except (ValueError, TypeError):
        return ShownUrl("<unparseable URL>", "", None)


def _without_user(text: str) -> str:
    """Drop what is left of user information in a URL the parser did not
    understand (``host:password@port/path`` has no ``//``): everything up to
    the last ``@`` before the path."""
    start = text.find("://")
    start = 0 if start < 0 else start + 3
    end = text.find("/", start)
    authority = text[start : end if end >= 0 else len(text)]
    at = authority.rfind("@")
    if at < 0:
        return text
    return text[:start] + "***" + text[start + at :]
