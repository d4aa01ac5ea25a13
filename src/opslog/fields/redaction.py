"""Redaction: secrets become a fixed marker before any output sees them.

Three rules, applied to every string opslog emits (messages, field values,
names, error text and stack traces):

1. **Sensitive keys.** A field whose key contains one of
   :data:`DEFAULT_SENSITIVE_KEYS` (case-insensitive, ``-``/``.``/space read as
   ``_``; so ``DB-Password`` and ``x_api_key`` match) has its whole value
   replaced by :data:`REDACTED`, whatever its type, nested mappings included.
2. **Secrets inside text.** ``password=...``, ``"token": "..."``,
   ``Authorization: Bearer ...``, ``Basic ...``, credentials in URLs
   (``https://user:pw@host``), PEM private-key blocks, JWTs and AWS access
   key ids are rewritten in place, keeping the key so the text stays
   readable: ``password=[REDACTED]``.
3. **Known values.** A value once seen under a sensitive key (six characters
   or more; the last :data:`KNOWN_SECRETS_LIMIT` are kept in memory, never
   output) is scrubbed wherever it appears later, e.g. inside an exception
   message that echoes a password passed earlier as a field.

The marker never echoes any part of the secret (no length, no prefix, no
hash). Keys can be added (``redact_keys``), exempted (``allow_keys``) and
extra regular expressions given (``redact_patterns``; the whole match is
replaced) through :func:`opslog.configure`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

__all__ = [
    "DEFAULT_SENSITIVE_KEYS",
    "KNOWN_SECRETS_LIMIT",
    "REDACTED",
    "Redactor",
]

#: What a secret is replaced with.
REDACTED: Final = "[REDACTED]"

#: Key fragments that mark a field as sensitive (matched as substrings of the
#: normalised key).
DEFAULT_SENSITIVE_KEYS: Final = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "authorization",
    "credential",
    "private_key",
    "cookie",
    "session",
)

KNOWN_SECRETS_LIMIT: Final = 128
_KNOWN_SECRET_MIN_LEN: Final = 6

_CACHE_SIZE = 4096

# A cheap test that lets most strings skip the pattern pass entirely.
_TRIGGER_EXTRA = r"bearer|basic|://|-----begin|eyj|akia|asia"


def _normalise_key(key: str) -> str:
    return key.lower().replace("-", "_").replace(".", "_").replace(" ", "_")


class Redactor:
    """Decides what is secret and rewrites it. Immutable apart from known values."""

    def __init__(
        self,
        *,
        sensitive_keys: Iterable[str] = DEFAULT_SENSITIVE_KEYS,
        allow_keys: Iterable[str] = (),
        extra_patterns: Iterable[str | re.Pattern[str]] = (),
        known_values: Iterable[str] = (),
    ) -> None:
        self.sensitive_keys: tuple[str, ...] = tuple(
            dict.fromkeys(_normalise_key(k) for k in sensitive_keys if k)
        )
        self.allow_keys: frozenset[str] = frozenset(_normalise_key(k) for k in allow_keys)
        self.extra_patterns: tuple[re.Pattern[str], ...] = tuple(
            p if isinstance(p, re.Pattern) else re.compile(p) for p in extra_patterns
        )
        # Sensitive fragments as a regex for text: "_" in a fragment matches
        # "_", "-", "." or nothing (api_key, api-key, apikey).
        fragments = (
            "|".join(re.escape(k).replace("_", "[_.-]?") for k in self.sensitive_keys) or r"(?!x)x"
        )
        key = rf"[\w.-]*(?:{fragments})[\w.-]*"
        value = r"(?:\"[^\"]*\"|'[^']*'|[^\s,;&'\"}}\])]+)"
        self._patterns: tuple[tuple[re.Pattern[str], str], ...] = (
            (
                re.compile(
                    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
                    re.DOTALL,
                ),
                REDACTED,
            ),
            # key=value, key: value, "key": "value" for sensitive keys; an
            # auth scheme is kept: "Authorization: Bearer [REDACTED]".
            (
                re.compile(
                    rf"(?i)([\"']?{key}[\"']?\s*[:=]\s*)"
                    r"((?:bearer|basic|digest|negotiate|token|apikey)\s+)?"
                    rf"{value}"
                ),
                r"\1\2" + REDACTED,
            ),
            (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 " + REDACTED),
            # Credentials in URLs: scheme://user:secret@host.
            (
                re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@"),
                r"\1" + REDACTED + "@",
            ),
            (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
            (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
        )
        self._trigger = re.compile(rf"(?i){fragments}|{_TRIGGER_EXTRA}")
        self._known: tuple[str, ...] = ()
        # Field names repeat endlessly: remember the answers. Dict reads and
        # writes are atomic; a full cache is simply dropped.
        self._key_cache: dict[str, bool] = {}
        self._on_new_secret: list[Callable[[], None]] = []
        for v in known_values:
            self.remember(v)

    # -- keys -------------------------------------------------------------
    def is_sensitive_key(self, key: str) -> bool:
        """True when values under ``key`` must be replaced whole."""
        cached = self._key_cache.get(key)
        if cached is not None:
            return cached
        norm = _normalise_key(key)
        sensitive = norm not in self.allow_keys and any(
            fragment in norm for fragment in self.sensitive_keys
        )
        if len(self._key_cache) >= _CACHE_SIZE:
            self._key_cache = {}
        self._key_cache[key] = sensitive
        return sensitive

    # -- values -----------------------------------------------------------
    def remember(self, value: object) -> None:
        """Record a secret value so it is scrubbed from any later text."""
        if not isinstance(value, str) or len(value) < _KNOWN_SECRET_MIN_LEN:
            return
        known = self._known
        if value in known:
            return
        # Replace the tuple whole: readers on other threads see the old or the
        # new one, never a half-built one.
        self._known = (*known[-(KNOWN_SECRETS_LIMIT - 1) :], value)
        for forget in self._on_new_secret:
            forget()  # texts redacted before may contain the new secret

    def on_new_secret(self, forget: Callable[[], None]) -> None:
        """Call ``forget()`` whenever a new secret value is remembered.

        For memos of redacted text (see :class:`opslog.fields.coercion.FieldCoercer`):
        a text redacted before may contain the new secret.
        """
        self._on_new_secret.append(forget)

    def redact_text(self, text: str) -> str:
        """Rewrite every secret inside ``text``. (Not memoised: callers memoise.)"""
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if self._trigger.search(text) is not None:
            for pattern, replacement in self._patterns:
                text = pattern.sub(replacement, text)
        for extra in self.extra_patterns:
            text = extra.sub(REDACTED, text)
        return text
