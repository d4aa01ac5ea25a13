"""Redaction: secrets become a fixed marker before any output sees them.

Three rules, applied to every string opslog emits (messages, field values,
names, error text and stack traces). The full list, what pattern-based
redaction cannot catch, and how to add rules are in ``SECURITY.md``.

1. **Sensitive keys.** A field whose key names a secret has its whole value
   replaced by :data:`REDACTED`, whatever its type, nested mappings,
   dataclasses and named tuples included. Keys are *normalised* before
   matching: invisible characters (zero-width spaces, soft hyphens...) are
   dropped, camelCase is split, any run of non-alphanumeric characters is a
   separator, case is ignored. A key is sensitive when its letters joined
   contain a fragment of :data:`DEFAULT_SENSITIVE_KEYS` (``Pass_Word``,
   ``pass word``, ``clientSecret``, ``X-Amz-Security-Token``), or when one
   of its words is a short form of :data:`DEFAULT_SENSITIVE_WORDS` (``pwd``,
   ``jwt``, ``sig``: whole words only, so ``signal`` is not one).
2. **Secrets inside text.** ``key=value`` / ``key: value`` / ``key => value``
   / ``"key": "value"`` (escaped JSON too) for sensitive keys, ``--password
   S`` command-line flags, ``<password>S</password>``, ``Authorization:
   Bearer ...``, credentials in URLs (``https://user:p@ss@host``,
   ``https://TOKEN@host``), signed-URL and token query or path parameters,
   PEM/PGP/OpenSSH private key blocks, JWTs (also glued to other text), AWS
   and Google API key ids. The key is kept so the text stays readable:
   ``password=[REDACTED]``.
3. **Known values.** A value once seen under a sensitive key (six
   characters or more, whatever its type) is scrubbed wherever it appears
   later, for example inside an exception message that echoes a password
   passed earlier as a field. Only a *fingerprint* is kept (length, a
   four-character anchor and a keyed 64-bit hash), at most
   :data:`KNOWN_SECRETS_LIMIT` of them, process-wide, across every
   :func:`opslog.configure`. Known values never rewrite opslog's own
   vocabulary (statuses, event names) nor the required fields
   (:meth:`Redactor.redact_name` leaves them out).

**Cost.** Every pattern is linear in the length of the text: a match can
only start at a literal anchor or at the boundary of a run of characters,
every repetition is bounded by a constant or taken whole (no backtracking
into it), and a value that runs to the end of its run is consumed, so no
character is read more than a constant number of times. An attacker who
controls a log message cannot make a log call slow.

The marker never echoes any part of the secret (no length, no prefix, no
hash). Keys can be added (``redact_keys``), exempted (``allow_keys``) and
extra regular expressions given (``redact_patterns``; the whole match is
replaced) through :func:`opslog.configure`.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final, Optional

from ..vocabulary import REDACTED
from . import credential_formats
from .credential_formats import CredentialFormat, CredentialScanner
from .literals import literal_finder

__all__ = [
    "DEFAULT_SENSITIVE_KEYS",
    "DEFAULT_SENSITIVE_WORDS",
    "KNOWN_SECRETS",
    "KNOWN_SECRETS_LIMIT",
    "REDACTED",
    "KnownSecrets",
    "Redactor",
    "normalise_key",
]


#: Key fragments that mark a field as sensitive, matched inside the key's
#: letters joined (``pass_word``, ``Pass-Word`` and ``passWord`` all read
#: ``password``).
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
    "signature",
    "bearer",
)

#: Short forms that mark a key as sensitive only as a whole word of it
#: (``db_pwd``, ``userPwd``, ``jwt``, ``sig``; not ``signal``).
DEFAULT_SENSITIVE_WORDS: Final = ("pwd", "pw", "pass", "jwt", "sig", "auth", "otp", "pin")

#: Most known secret fingerprints kept (the oldest go first).
KNOWN_SECRETS_LIMIT: Final = 256
_KNOWN_SECRET_MIN_LEN: Final = 6
_ANCHOR: Final = 4
_PREFIX: Final = 16
_HASHED: Final = 1024
#: Places that could start a remembered value examined per text; the rest
#: of a text with more is redacted whole (a bound on the work per text).
_MAX_CANDIDATES: Final = 512

#: opslog's own words: never remembered as a secret value, so a status or an
#: event name is never rewritten (``{"session_state": "completed"}``).
_VOCABULARY: Final = frozenset(
    (
        "completed",
        "failed",
        "abandoned",
        "cancelled",
        "retrying",
        "running",
        "unknown",
        "operation_start",
        "operation_end",
        "child_operation_start",
        "step_start",
        "step_end",
        "step_info",
        "step_debug",
        "step_warning",
        "step_error",
        "step_success",
        "step_duration",
        "_operation",
        "[REDACTED]",
        "true",
        "false",
        "null",
        "none",
    )
)

_CACHE_SIZE = 4096
_KEY_CHARS_LIMIT = 256
#: Longest quoted secret recognised as one unit (a longer one is redacted up
#: to its first blank).
_QUOTED = 1024


# --- keys ------------------------------------------------------------------------------
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^0-9a-zA-Z]+")


def normalise_key(key: str) -> tuple[str, tuple[str, ...]]:
    """``(joined, words)`` of a key: invisible characters dropped, camelCase
    split, any non-alphanumeric run a separator, lower case.

    ``"clientSecret"`` gives ``("clientsecret", ("client", "secret"))``.
    """
    key = key[:_KEY_CHARS_LIMIT]
    if not key.isascii():
        # Compatibility forms (full-width letters) become ASCII; format
        # characters (zero-width space, soft hyphen, BOM...) disappear.
        key = unicodedata.normalize("NFKC", key)
        key = "".join(c for c in key if unicodedata.category(c) != "Cf")
    words = tuple(w.lower() for w in _NON_ALNUM.split(_CAMEL.sub(" ", key)) if w)
    return "".join(words), words


# --- known secret values --------------------------------------------------------------
#: A remembered value's fingerprint: (length, anchor, prefix length, prefix
#: hash, hash of at most its first _HASHED characters).
_Print = tuple[int, str, int, int, int]


class KnownSecrets:
    """Fingerprints of secret values seen under sensitive keys. Process-wide.

    A value is never kept, only its fingerprint: its length, its first four
    characters (the *anchor*, to find candidates in a text with one linear
    regular expression), Python's keyed hash of its first 16 characters (the
    *prefix*), and of its first 1024 characters. Memory is bounded by
    :data:`KNOWN_SECRETS_LIMIT` whatever the values' sizes.

    Scrubbing costs one short hash per anchor found in the text: a value is
    only compared whole once its secret-dependent prefix matched, so a text
    crafted around a common anchor (``ghp_``, ``sk_live``) stays cheap. A
    value longer than 1024 characters is recognised by those characters and
    redacted to its full length.
    """

    def __init__(self, limit: int = KNOWN_SECRETS_LIMIT) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._prints: OrderedDict[_Print, None] = OrderedDict()
        #: Bumped on every new value: memos of redacted text compare it.
        self.generation = 0
        #: (finder of anchors, anchor -> prefix lengths, (prefix length, prefix
        #: hash) -> (length, hash)...): replaced whole, so a reader on another
        #: thread never sees half of a new state.
        self._state: tuple[
            Optional[re.Pattern[str]],
            dict[str, tuple[int, ...]],
            dict[tuple[int, int], tuple[tuple[int, int], ...]],
        ] = (None, {}, {})

    def __len__(self) -> int:
        return len(self._prints)

    def remember(self, text: str) -> None:
        """Keep the fingerprint of ``text`` (a secret value's text form)."""
        if len(text) < _KNOWN_SECRET_MIN_LEN or text.strip().lower() in _VOCABULARY:
            return
        prefix = text[:_PREFIX]
        fingerprint = (len(text), text[:_ANCHOR], len(prefix), hash(prefix), hash(text[:_HASHED]))
        with self._lock:
            if fingerprint in self._prints:
                self._prints.move_to_end(fingerprint)
                return
            self._prints[fingerprint] = None
            while len(self._prints) > self._limit:
                self._prints.popitem(last=False)
            self._rebuild()

    def _rebuild(self) -> None:
        prefix_lengths: dict[str, set[int]] = {}
        by_prefix: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for length, anchor, prefix_length, prefix_hash, digest in self._prints:
            prefix_lengths.setdefault(anchor, set()).add(prefix_length)
            by_prefix.setdefault((prefix_length, prefix_hash), []).append((length, digest))
        anchors = sorted(prefix_lengths, key=len, reverse=True)
        finder = re.compile("|".join(map(re.escape, anchors))) if anchors else None
        self._state = (
            finder,
            {a: tuple(sorted(lengths, reverse=True)) for a, lengths in prefix_lengths.items()},
            {k: tuple(sorted(v, reverse=True)) for k, v in by_prefix.items()},
        )
        self.generation += 1

    def clear(self) -> None:
        """Forget every value (for tests)."""
        with self._lock:
            self._prints.clear()
            self._rebuild()

    def spans(self, text: str, out: list[tuple[int, int, int]]) -> None:
        """Add the spans of ``text`` that hold a remembered value to ``out``."""
        finder, prefix_lengths, by_prefix = self._state
        if finder is None:
            return
        size = len(text)
        position = 0
        low = high = -1  # the run of adjacent found values, added as one span
        search = finder.search
        for _ in range(_MAX_CANDIDATES):
            match = search(text, position)
            if match is None:
                if high >= 0:
                    out.append((low, -9, high))  # exact: beats any rule
                return
            start = match.start()
            found = 0
            for prefix_length in prefix_lengths.get(match.group(), ()):
                candidates = by_prefix.get(
                    (prefix_length, hash(text[start : start + prefix_length]))
                )
                for length, digest in candidates or ():
                    # The longest value starting here wins; a value longer than
                    # _HASHED is known by its first _HASHED characters.
                    hashed = min(length, _HASHED)
                    if (
                        length > found
                        and start + hashed <= size
                        and (
                            hashed == prefix_length or hash(text[start : start + hashed]) == digest
                        )
                    ):
                        found = length
                        break
            if found:
                end = min(size, start + found)
                if start > high:
                    if high >= 0:
                        out.append((low, -9, high))
                    low = start
                high = max(high, end)
                position = start + found
            else:
                position = start + 1
        # A text with this many places that could start a remembered value was
        # built to be slow (or is all secrets): the rest of it is redacted.
        if high >= 0:
            out.append((low, -9, high))
        out.append((max(position, high), -9, size))


#: The one store of known secret values: it outlives every configuration.
KNOWN_SECRETS = KnownSecrets()


# --- text rules -----------------------------------------------------------------------
#: A span to replace: (start, minus the rule's strength, end), so that a plain
#: sort puts the strongest rule first at an equal start.
_Span = tuple[int, int, int]
_QUERY, _FLAG, _PAIR, _FIXED = 3, 3, 2, 1

_SCHEME = r"(?:(?:bearer|basic|digest|negotiate|token|apikey|ntlm|aws4-hmac-sha256)[ \t]{1,8})?"


def _atomic(pattern: str, name: str) -> str:
    """``pattern`` matched once and never backtracked into (lookahead + backreference)."""
    return rf"(?=(?P<{name}>{pattern}))(?P={name})"


#: What a text must contain for a rule to match at all: every group, one
#: character of each. A rule whose characters are absent is not run (a text
#: of flags holds no ``=`` for the pair rule to look for).
_Needs = tuple[tuple[str, ...], ...]
_KeywordRule = tuple[re.Pattern[str], int, _Needs]


def _keyword_rules(keywords: str) -> tuple[_KeywordRule, ...]:
    """The rules that start from a sensitive key, for the lower-cased text:
    (pattern, strength, the characters it needs).

    Each is linear: it starts at a literal (the keyword, ``?``/``&``/``;``,
    ``-`` or ``<``), its key parts are bounded and taken whole, and its value
    either is bounded or runs to the end of its run and is consumed.
    """
    tail = _atomic(r"[a-z0-9_.\-]{0,40}", "t")
    separator = r"(?:\\{0,3}[\"'])?[ \t]{0,8}(?:=>|:=|=|:)[ \t]{0,8}"
    return (
        # ?sig=, &access_token=, ;jsessionid=: the value ends at the next parameter.
        (
            re.compile(rf"[?&;][a-z0-9_.\-]{{0,40}}?(?:{keywords}){tail}=(?P<w>[^&#;?\s\"'<>]+)"),
            _QUERY,
            (("?", "&", ";"), ("=",)),
        ),
        # --password S, --password=S, and a list's repr ('--password', 'S').
        (
            re.compile(
                rf"-(?<![\w-]-)-?(?:[a-z0-9]{{1,20}}[_\-]){{0,3}}(?:{keywords})"
                + _atomic(r"[a-z0-9_\-]{0,40}", "t")
                + r"(?:[\"'],[ \t]{0,4}[\"']|[ \t]{1,8}|=)(?!-)(?P<w>[^\s\"']+)"
            ),
            _FLAG,
            (("-",),),
        ),
        # "key": "value" (escaped JSON too: the quotes stay), key=value,
        # key: value, key => value (up to the next blank, or a quote or "<"
        # that closes the value in JSON, YAML or XML around it).
        (
            re.compile(
                rf"(?:{keywords}){tail}{separator}{_SCHEME}"
                rf"(?:(?P<q>\\{{0,3}}[\"'])(?P<v>[^\"'\\\n]{{1,{_QUOTED}}})(?P=q)|(?P<w>[^\s<\"'`]+))"
            ),
            _PAIR,
            (("=", ":"),),  # every separator has one of these
        ),
        # <password>S</password>, <db:Password attr="x">S</db:Password>.
        (
            re.compile(
                rf"<(?:[a-z0-9]{{1,20}}[_.:\-]){{0,3}}(?:{keywords})"
                + _atomic(r"[a-z0-9_.:\-]{0,40}", "t")
                + r"(?:\s[^<>]{0,256})?>(?P<w>[^<]+)"
            ),
            _PAIR,
            (("<",), (">",)),
        ),
    )


#: Rules that need no key: (literals that must all be present, the rarest
#: first, pattern, on the lower-cased text?). The group ``w`` (else the whole
#: match) is replaced. The first literal is what the gate looks for
#: (:meth:`Redactor.leaves_unchanged`).
_FIXED_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], bool], ...] = (
    # Private key blocks (PEM, PKCS#8, OpenSSH, PGP) to their END line or the
    # end of the text: a cut block is still a secret.
    (
        ("-----BEGIN",),
        re.compile(
            r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
            re.DOTALL,
        ),
        False,
    ),
    # PuTTY key files: the private lines up to the MAC.
    (
        ("private-lines:",),
        re.compile(r"private-lines:(?P<w>.*?private-mac:[^\n]*|.*\Z)", re.DOTALL),
        True,
    ),
    # Credentials in URLs: all of the user information, up to the last "@"
    # of the authority (a password may hold "@"; a token may be the user).
    (("@", "://"), re.compile(r"://(?P<w>[^\s/?#\"'<>]{1,1024})@"), False),
    # ...and a password holding "/", "?" or "#" (not allowed unencoded, but
    # written): after "user:", up to the last "@" before a blank or the next
    # "://" (so no two anchors read the same characters).
    (
        ("@", "://"),
        re.compile(r"://[^\s/?#@:\"'<>]{0,256}:(?P<w>(?:[^\s\"'<>:]|:(?!//)){1,1024})@"),
        False,
    ),
    # Authorization schemes on their own: "Bearer abc...".
    (("bearer",), re.compile(r"bearer[ \t]{1,8}(?P<w>[a-z0-9._~+/=\-]{6,})"), True),
    (("basic",), re.compile(r"basic[ \t]{1,8}(?P<w>[a-z0-9._~+/=\-]{6,})"), True),
    # JWTs, also glued to up to 64 other characters: three base64url
    # segments from "eyJ" (base64 of '{"').
    (
        ("eyJ",),
        re.compile(
            r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{0,64}?(?P<w>eyJ"
            + _atomic(r"[A-Za-z0-9_\-]{2,1024}", "h")
            + r"\."
            + _atomic(r"[A-Za-z0-9_\-]{2,}", "p")
            + r"\.[A-Za-z0-9_\-]*)"
        ),
        False,
    ),
)

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}

#: Format characters (Unicode category Cf) someone may hide inside a key:
#: soft hyphen, zero-width and joiner characters, bidi controls, BOM.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)


def _lower(text: str) -> str:
    """ASCII lower case, same length (``str.lower`` may change the length of
    non-ASCII text, and the spans found must fit the original)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def _spans_of(pattern: re.Pattern[str], text: str, strength: int, out: list[_Span]) -> None:
    """Add the span of each match to ``out``: its group ``v`` or ``w`` (the
    one that took part), else the whole match."""
    append = out.append
    groups = pattern.groupindex
    first, second = groups.get("v"), groups.get("w")
    if first is None and second is None:
        for match in pattern.finditer(text):
            append((match.start(), -strength, match.end()))
        return
    if first is None or second is None:
        only: int = first if first is not None else second  # type: ignore[assignment]
        for match in pattern.finditer(text):
            start, end = match.span(only)
            append((start, -strength, end))
        return
    for match in pattern.finditer(text):
        start, end = match.span(first)
        if start < 0:
            start, end = match.span(second)
        append((start, -strength, end))


def _replace(text: str, spans: list[_Span]) -> str:
    """``text`` with the union of ``spans`` replaced by :data:`REDACTED`; at
    an equal start only the strongest rule's span counts."""
    spans.sort()
    out: list[str] = []
    done = 0
    last_start = -1
    low = high = -1
    for start, _, end in spans:
        if start == last_start:
            continue  # a weaker rule's reading of the same value
        last_start = start
        if start <= high:
            if end > high:
                high = end
            continue
        if high >= 0:
            out.append(text[done:low])
            out.append(REDACTED)
            done = high
        low, high = start, end
    if high < 0:
        return text
    out.append(text[done:low])
    out.append(REDACTED)
    out.append(text[high:])
    return "".join(out)


class Redactor:
    """Decides what is secret and rewrites it. Immutable; known values live in
    :data:`KNOWN_SECRETS`."""

    def __init__(
        self,
        *,
        sensitive_keys: Iterable[str] = DEFAULT_SENSITIVE_KEYS,
        sensitive_words: Iterable[str] = DEFAULT_SENSITIVE_WORDS,
        allow_keys: Iterable[str] = (),
        extra_patterns: Iterable[str | re.Pattern[str]] = (),
        known: KnownSecrets = KNOWN_SECRETS,
        formats: Optional[Iterable[CredentialFormat]] = None,
    ) -> None:
        self.sensitive_keys: tuple[str, ...] = tuple(
            dict.fromkeys(j for j, _ in map(normalise_key, sensitive_keys) if j)
        )
        self.sensitive_words: frozenset[str] = frozenset(
            j for j, _ in map(normalise_key, sensitive_words) if j
        )
        self.allow_keys: frozenset[str] = frozenset(normalise_key(k)[0] for k in allow_keys)
        self.extra_patterns: tuple[re.Pattern[str], ...] = tuple(
            p if isinstance(p, re.Pattern) else re.compile(p) for p in extra_patterns
        )
        self.known = known
        # Each keyword: (a literal the text must contain, its pattern). A key
        # fragment may be spelt with separators in text (pass_word, api-key),
        # so its literal is its first word.
        keywords: dict[str, list[str]] = {}
        for source in DEFAULT_SENSITIVE_KEYS + tuple(sensitive_keys):
            if normalise_key(source)[0] in self.sensitive_keys:
                words = _text_words(source)
                keywords.setdefault(words[0], []).append(r"[_.\- ]?".join(map(re.escape, words)))
        for word in self.sensitive_words:
            # "Not after a letter" is checked after the word, so that every
            # alternative starts with a literal: the regex engine then skips
            # ahead to the positions where one could start.
            literal = re.escape(word)
            keywords.setdefault(word, []).append(rf"{literal}(?<![a-z]{literal})(?![a-z])")
        self._keywords = tuple(
            (literal, "|".join(dict.fromkeys(patterns))) for literal, patterns in keywords.items()
        )
        self._rules_for: dict[tuple[str, ...], tuple[_KeywordRule, ...]] = {}
        # The table as it is now (a format added to it at run time counts).
        self.credentials = CredentialScanner(
            credential_formats.CREDENTIAL_FORMATS if formats is None else formats
        )
        # The gate: every literal some rule needs, in one search of the text
        # followed by its lower case (so case-sensitive literals, "AKIA", are
        # looked for as written, and the lower-cased rules' literals in the
        # lower case). Where none occurs no rule can match: derived from the
        # rules and the credential table, never written out again.
        self._gate = literal_finder(
            [literal for literal, _ in self._keywords]
            + [literals[0] for literals, _, _ in _FIXED_RULES]
            + list(self.credentials.prefixes)
        )
        # Field names repeat endlessly: remember the answers. Dict reads and
        # writes are atomic; a full cache is simply dropped.
        self._key_cache: dict[str, bool] = {}

    # -- keys -------------------------------------------------------------
    def is_sensitive_key(self, key: str) -> bool:
        """True when values under ``key`` must be replaced whole."""
        cached = self._key_cache.get(key)
        if cached is not None:
            return cached
        joined, words = normalise_key(key)
        sensitive = joined not in self.allow_keys and (
            any(fragment in joined for fragment in self.sensitive_keys)
            or not self.sensitive_words.isdisjoint(words)
        )
        if len(self._key_cache) >= _CACHE_SIZE:
            self._key_cache = {}
        self._key_cache[key] = sensitive
        return sensitive

    # -- values -----------------------------------------------------------
    def remember(self, value: object) -> None:
        """Record a secret value so it is scrubbed from any later text.

        Strings, bytes and numbers are remembered by their text form; other
        values (containers) by nothing: their parts are not secret on their own.
        """
        try:
            if isinstance(value, str):
                text = value
            elif isinstance(value, (bytes, bytearray)):
                text = bytes(value[:65536]).decode("utf-8", "backslashreplace")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                text = repr(value)
            else:
                return
            self.known.remember(str.__str__(text) if type(text) is not str else text)
        except Exception:  # a hostile str subclass: nothing to remember
            return

    @property
    def generation(self) -> int:
        """Changes whenever a new secret value is remembered."""
        return self.known.generation

    def leaves_unchanged(self, text: str) -> bool:
        """True when :meth:`redact_text` would return ``text`` as it is,
        decided by one literal search: ASCII, no extra pattern configured, no
        known secret value remembered, and none of the literals any rule needs
        occurs (the keywords, the fixed rules' literals, the credential
        prefixes). False means "look closer", not "it holds a secret"."""
        return (
            text.isascii()
            and not self.extra_patterns
            and self.known._state[0] is None
            and self._gate.search(_gate_text(text)) is None
        )

    def redact_text(self, text: str) -> str:
        """Rewrite every secret inside ``text``: known values and the patterns."""
        return self._redact(text, with_known=True)

    def redact_name(self, text: str) -> str:
        """The text patterns only, for opslog's required fields (names, job
        ids): a known value never rewrites them."""
        return self._redact(text, with_known=False)

    def _redact(self, text: str, with_known: bool) -> str:
        if (
            text.isascii()
            and not self.extra_patterns
            and (not with_known or self.known._state[0] is None)
            and self._gate.search(_gate_text(text)) is None
        ):
            return text  # the common case: no rule can match, no value to find
        spans: list[_Span] = []
        if with_known:
            self.known.spans(text, spans)
        if not text.isascii() and _INVISIBLE.search(text) is not None:
            # Invisible characters inside a key or value ("pass\u200bword=S"):
            # the rules read the text without them, the spans map back.
            positions = [i for i, c in enumerate(text) if unicodedata.category(c) != "Cf"]
            visible = "".join(text[i] for i in positions)
            positions.append(len(text))
            found: list[_Span] = []
            self._rule_spans(visible, found)
            spans.extend((positions[s], strength, positions[e]) for s, strength, e in found)
        else:
            self._rule_spans(text, spans)
        for extra in self.extra_patterns:
            for match in extra.finditer(text):
                if match.end() > match.start():
                    spans.append((match.start(), -_FIXED, match.end()))
        return _replace(text, spans) if spans else text

    def _rule_spans(self, text: str, spans: list[_Span]) -> None:
        """Add the spans the text rules and the credential formats find in ``text``."""
        lower = _lower(text)
        present = tuple(pattern for literal, pattern in self._keywords if literal in lower)
        if present:
            for pattern, strength, needs in self._keyword_rules(present):
                if all(any(c in lower for c in group) for group in needs):
                    _spans_of(pattern, lower, strength, spans)
        for literals, pattern, on_lower in _FIXED_RULES:
            subject = lower if on_lower else text
            if all(literal in subject for literal in literals):
                _spans_of(pattern, subject, _FIXED, spans)
        spans.extend((start, -_FIXED, end) for start, end in self.credentials.spans(text))

    def _keyword_rules(self, present: tuple[str, ...]) -> tuple[_KeywordRule, ...]:
        rules = self._rules_for.get(present)
        if rules is None:
            rules = _keyword_rules("|".join(present))
            if len(self._rules_for) >= 256:
                self._rules_for = {}
            self._rules_for[present] = rules
        return rules


def _gate_text(text: str) -> str:
    """``text`` and its ASCII lower case, for the gate's one search (NUL
    between: no literal holds it)."""
    lower = _lower(text)
    return text if lower == text else text + "\x00" + lower


def _text_words(fragment: str) -> list[str]:
    """A key fragment's words as text may separate them (``pass_word``,
    ``api-key``, ``pass word``)."""
    words = [w for w in _NON_ALNUM.split(fragment.lower()) if w]
    if len(words) == 1 and words[0] in _SPLITS:
        return list(_SPLITS[words[0]])
    return words or [fragment.lower()]


#: Where a one-word fragment may be written as two in text.
_SPLITS: Final = {
    "password": ("pass", "word"),
    "passphrase": ("pass", "phrase"),
    "apikey": ("api", "key"),
}
