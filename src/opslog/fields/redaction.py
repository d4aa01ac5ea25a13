"""Redaction: secrets become a fixed marker before any output sees them.

Three rules, applied to every string opslog emits (messages, field values,
names, error text and stack traces). The full list, what pattern-based
redaction cannot catch, and how to add rules are in ``SECURITY.md``.

1. **Sensitive keys.** A field whose key names a secret has its whole value
   replaced by :data:`REDACTED`, whatever its type, nested mappings,
   dataclasses and named tuples included. Which keys do is one table,
   :mod:`opslog.fields.sensitive_keys` (fragments such as ``password``,
   ``token``, ``apikey``; short words such as ``pwd``; harmless words and
   metadata words such as ``token_count`` that it leaves alone).
2. **Secrets inside text.** ``key=value`` / ``key: value`` / ``key => value``
   / ``"key": "value"`` (escaped JSON too) and the other ways code writes a
   key and its value, for keys that table calls sensitive, ``--password
   S`` command-line flags, ``<password>S</password>``, ``Authorization:
   Bearer ...``, credentials in URLs (``https://user:p@ss@host``,
   ``https://TOKEN@host``), signed-URL and token query or path parameters,
   PEM/PGP/OpenSSH private key blocks, JWTs (also glued to other text), and
   the well-known credential formats of
   :mod:`opslog.fields.credential_formats`. The key is kept so the text stays readable:
   ``password=[REDACTED]``.
3. **Known values.** A value once seen under a sensitive key that looks
   like a secret (:func:`looks_like_secret`: a length, kinds of character and
   an entropy floor; whatever its type) is scrubbed wherever it appears
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

import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable
from typing import Callable, Final, Optional

from ..vocabulary import REDACTED
from . import credential_formats
from .credential_formats import CredentialFormat, CredentialScanner
from .literals import literal_finder
from .sensitive_keys import KeyVocabulary, text_spellings

__all__ = [
    "KNOWN_SECRETS",
    "KNOWN_SECRETS_LIMIT",
    "REDACTED",
    "KnownSecrets",
    "Redactor",
    "looks_like_secret",
]


#: Most known secret fingerprints kept (the oldest go first).
KNOWN_SECRETS_LIMIT: Final = 256
_KNOWN_SECRET_MIN_LEN: Final = 8
#: Shorter than this, letters of one case are a word, not a secret.
_ONE_KIND_MIN_LEN: Final = 16
#: Bits of Shannon entropy per character a remembered value has at least.
_MIN_ENTROPY: Final = 2.5
_ANCHOR: Final = 4
_PREFIX: Final = 16
_HASHED: Final = 1024
#: Distinct lengths of the values sharing one prefix that are looked for: each
#: costs one hash per place the prefix occurs, so the work per place is bounded
#: whatever values were remembered (values of shorter lengths beyond it are
#: not looked for).
_LENGTHS_PER_PREFIX: Final = 32
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

#: Longest quoted secret recognised as one unit (a longer one is redacted up
#: to its first blank).
_QUOTED = 1024


# --- known secret values --------------------------------------------------------------
def looks_like_secret(text: str) -> bool:
    """Whether a value seen under a sensitive key is worth remembering, so that
    it is scrubbed from later text: eight characters or more, not a word (a
    run of letters of one case) unless it is sixteen or more, and 2.5 bits of
    entropy per character. ``production`` under ``password`` would otherwise
    be redacted from every later message that names it."""
    size = len(text)
    if size < _KNOWN_SECRET_MIN_LEN:
        return False
    sample = text[:256]
    if size < _ONE_KIND_MIN_LEN and sample.isalpha() and (sample.islower() or sample.isupper()):
        return False  # a word
    counts: dict[str, int] = {}
    for c in sample:
        counts[c] = counts.get(c, 0) + 1
    n = len(sample)
    entropy = -sum(k / n * math.log2(k / n) for k in counts.values())
    return entropy >= _MIN_ENTROPY


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
            dict[tuple[int, int], tuple[tuple[int, dict[int, int]], ...]],
        ] = (None, {}, {})

    def __len__(self) -> int:
        return len(self._prints)

    def remember(self, text: str) -> None:
        """Keep the fingerprint of ``text`` (a secret value's text form)."""
        if not looks_like_secret(text) or text.strip().lower() in _VOCABULARY:
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
        # (prefix length, prefix hash) -> hashed length -> {hash: full length}:
        # values that share a prefix and a length share one hash of the text.
        by_prefix: dict[tuple[int, int], dict[int, dict[int, int]]] = {}
        for length, anchor, prefix_length, prefix_hash, digest in self._prints:
            prefix_lengths.setdefault(anchor, set()).add(prefix_length)
            by_length = by_prefix.setdefault((prefix_length, prefix_hash), {})
            hashed = by_length.setdefault(min(length, _HASHED), {})
            hashed[digest] = max(length, hashed.get(digest, 0))
        anchors = sorted(prefix_lengths, key=len, reverse=True)
        finder = re.compile("|".join(map(re.escape, anchors))) if anchors else None
        self._state = (
            finder,
            {a: tuple(sorted(lengths, reverse=True)) for a, lengths in prefix_lengths.items()},
            {
                # The longest first; at most _LENGTHS_PER_PREFIX of them.
                key: tuple(sorted(by_length.items(), reverse=True)[:_LENGTHS_PER_PREFIX])
                for key, by_length in by_prefix.items()
            },
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
                prefix_hash = hash(text[start : start + prefix_length])
                for hashed, lengths in by_prefix.get((prefix_length, prefix_hash), ()):
                    # The longest value starting here wins (one hash per length,
                    # however many values share it); a value longer than _HASHED
                    # is known by its first _HASHED characters.
                    if start + hashed > size:
                        continue
                    digest = (
                        prefix_hash
                        if hashed == prefix_length
                        else hash(text[start : start + hashed])
                    )
                    length = lengths.get(digest, 0)
                    if length > found:
                        found = length
                        break
                if found:
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
_QUERY, _FLAG, _PAIR, _FIXED = 3, 4, 2, 1


def _atomic(pattern: str, name: str) -> str:
    """``pattern`` matched once and never backtracked into (lookahead + backreference)."""
    return rf"(?=(?P<{name}>{pattern}))(?P={name})"


#: What a text must contain for a rule to match at all: every group, one
#: character of each. A rule whose characters are absent is not run (a text
#: of flags holds no ``=`` for the pair rule to look for).
_Needs = tuple[tuple[str, ...], ...]
#: Where a key must stand for the rule to apply: fn(lower text, key start).
_KeyPlace = Optional[Callable[[str, int], bool]]
_KeywordRule = tuple[re.Pattern[str], int, _Needs, _KeyPlace]

#: How a key ends before its separator: a closing quote or backtick (and the
#: ``]`` of ``cfg['k']``), ``**`` (Markdown), or nothing.
_CLOSER = r"(?:\\{0,3}[\"'`]\]?|\*\*|\])?"
#: A quoted value (escaped quotes of JSON inside JSON too: the quotes stay).
_QUOTED_VALUE = r"(?P<{q}>\\{{0,3}}[\"'`])(?P<{v}>[^\"'`\\\n]{{1,{n}}})(?P={q})"
#: An unquoted value ends at a blank, or at a quote or "<" that closes it in
#: the JSON, YAML or XML around it.
_PLAIN_VALUE = r"[^\s<\"'`]+"
#: After "key:" (a header line, YAML), a scheme word may come first
#: ("Authorization: SSWS S", "Token S"): when the word after it is token-long
#: (eight characters or more), both are the value.
_SCHEME_VALUE = r"(?:[a-z]{2,24}[ \t]{1,8}(?=[^\s<\"'`]{8}))?" + _PLAIN_VALUE
#: The groups that hold a value, in the order they are looked at.
_VALUE_GROUPS = ("v", "w", "v2", "w2")


def _keyword_rules(keywords: str) -> tuple[_KeywordRule, ...]:
    """The rules that start from a key word, for the lower-cased text:
    (pattern, strength, the characters it needs). Group ``k`` is where the
    key word starts and ``t`` the rest of the key: the whole key is then
    asked of :class:`~opslog.fields.sensitive_keys.KeyVocabulary`, so a key in
    text is judged as a field name is (``token_count=5`` is kept).

    Each is linear: it starts at a literal (a key word, or ``?``/``&``/``;``
    for a query), its key parts are bounded and taken whole, its value either
    is bounded or runs to the end of its run and is consumed, and where the
    key must stand (a flag's ``-``, a tag's ``<``) is checked after the match
    by a look at a bounded stretch before it (the fourth item).
    """
    tail = _atomic(r"[a-z0-9_.\-]{0,40}", "t")
    word = rf"(?P<k>{keywords})"
    quoted = _QUOTED_VALUE.format(q="q", v="v", n=_QUOTED)
    quoted2 = _QUOTED_VALUE.format(q="q2", v="v2", n=_QUOTED)
    return (
        # ?sig=, &access_token=, ;jsessionid=: the value ends at the next parameter.
        (
            re.compile(rf"[?&;][a-z0-9_.\-]{{0,40}}?{word}{tail}=(?P<w>[^&#;?\s\"'<>]+)"),
            _QUERY,
            (("?", "&", ";"), ("=",)),
            None,
        ),
        # --password S, --password=S, --password "S T", --dbPw S, and a list's
        # repr ('--password', 'S'): the key must begin with "-" (see _key_spans).
        (
            re.compile(
                rf"{word}"
                + _atomic(r"[a-z0-9_.\-]{0,40}", "t")
                + rf"(?:[\"'],[ \t]{{0,4}}[\"']|[ \t]{{1,8}}|=)(?!-)(?:{quoted}|(?P<w>[^\s\"']+))"
            ),
            _FLAG,
            (("-",),),
            _is_flag,
        ),
        # "key": "value", key=value, key: value, key => value, `key`='value',
        # cfg['key'] = 'value', **key**: value, and pairs as tuples
        # ("key", "value").
        (
            re.compile(
                rf"{word}{tail}(?:"
                rf"{_CLOSER}[ \t]{{0,8}}:(?![=:])[ \t]{{0,8}}(?:{quoted}|(?P<w>{_SCHEME_VALUE}))"
                rf"|(?:{_CLOSER}[ \t]{{0,8}}(?:=>|:=|=)|[\"'`](?P<c>,))[ \t]{{0,8}}"
                rf"(?:{quoted2}|(?P<w2>{_PLAIN_VALUE})))"
            ),
            _PAIR,
            (("=", ":", ","),),  # every separator has one of these
            None,
        ),
        # <password>S</password>, <db:Password attr="x">S</db:Password>, <dbPw>S</dbPw>.
        (
            re.compile(rf"{word}{tail}" + r"(?:\s[^<>]{0,256})?>(?P<w>[^<]+)"),
            _PAIR,
            (("<",), (">",)),
            _is_tag,
        ),
    )


def _is_flag(lower: str, key_start: int) -> bool:
    """Whether the key at ``key_start`` is a command-line flag: ``-k`` or
    ``--k``, not a hyphen inside a word."""
    return lower.startswith("-", key_start) and (
        key_start == 0 or not (lower[key_start - 1].isalnum() or lower[key_start - 1] == "_")
    )


_NAMESPACE = re.compile(r":[a-z0-9_\-]{1,20}<")


def _is_tag(lower: str, key_start: int) -> bool:
    """Whether the key at ``key_start`` is an XML element's name: after ``<``,
    or after ``<ns:``."""
    if key_start >= 1 and lower[key_start - 1] == "<":
        return True
    before = lower[max(0, key_start - 22) : key_start][::-1]
    return _NAMESPACE.match(before) is not None


def _opens_a_pair(lower: str, key_start: int) -> bool:
    """Whether the key at ``key_start`` is the first item of a pair written as a
    tuple or a list: ``("key", ...`` or ``['key', ...``."""
    return key_start >= 2 and lower[key_start - 1] in "\"'`" and lower[key_start - 2] in "(["


#: The characters a key is made of, read backwards from its key word.
_KEY_BEFORE = re.compile(r"[a-z0-9_.\-]{0,80}")


def _key_spans(
    pattern: re.Pattern[str],
    place: _KeyPlace,
    text: str,
    lower: str,
    strength: int,
    is_sensitive: Callable[[str], bool],
    out: list[_Span],
) -> None:
    """Add the value span of each match (found in ``lower``) whose whole key,
    as ``text`` writes it (``dbPw`` is two words), is sensitive."""
    append = out.append
    for match in pattern.finditer(lower):
        start = match.start("k")
        before = lower[max(0, start - 80) : start][::-1]
        run = _KEY_BEFORE.match(before)
        key_start = start - (run.end() if run is not None else 0)
        if place is not None and not place(lower, key_start):
            continue
        if (
            "c" in pattern.groupindex
            and match.start("c") >= 0
            and not _opens_a_pair(lower, key_start)
        ):
            continue  # a quoted value followed by a comma, not ("key", "value")
        if not is_sensitive(text[key_start : match.end("t")].strip("-.")):
            continue
        for group in _VALUE_GROUPS:
            value_start, value_end = match.span(group) if group in pattern.groupindex else (-1, -1)
            if value_start >= 0:
                append((value_start, -strength, value_end))
                break


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
    # Authorization schemes on their own: "Bearer abc...", when what follows
    # looks like a credential (a digit, a symbol, or a lower-case letter
    # before an upper-case one: base64), not a word ("basic configuration",
    # "bearer authentication"). On the text as written: case is the signal.
    (
        ("bearer",),
        re.compile(
            r"(?i:bearer)[ \t]{1,8}"
            r"(?P<w>(?=[A-Za-z]*(?:[0-9._~+/=\-]|[a-z][A-Z]))[A-Za-z0-9._~+/\-]{6,}={0,2})"
            r"(?![A-Za-z0-9._~+/=\-])"
        ),
        False,
    ),
    (
        ("basic",),
        re.compile(
            r"(?i:basic)[ \t]{1,8}"
            r"(?P<w>(?=[A-Za-z]*(?:[0-9+/=]|[a-z][A-Z]))[A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])"
        ),
        False,
    ),
    # user:password@host with no scheme: Go's MySQL DSN root:S@tcp(db:3306)/app,
    # scp/rsync targets. Not an image reference's digest (name:tag@sha256:...).
    (
        ("@", ":"),
        re.compile(
            r"(?<![A-Za-z0-9_.\-:/@%])[A-Za-z0-9_.\-%]{1,64}:"
            r"(?P<w>[^\s:@/\"'<>]{1,256})@(?!sha\d{3}:)(?=[A-Za-z0-9_\-\[(])"
        ),
        False,
    ),
    # curl -u user:password, --user user:password.
    (
        ("-u",),
        re.compile(
            r"(?<![\w-])(?:-u|--user)[ \t]{1,8}[\"']?[^\s:\"']{1,64}:(?P<w>[^\s\"']{1,256})"
        ),
        False,
    ),
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
        redact_keys: Iterable[str] = (),
        allow_keys: Iterable[str] = (),
        extra_patterns: Iterable[str | re.Pattern[str]] = (),
        known: KnownSecrets = KNOWN_SECRETS,
        formats: Optional[Iterable[CredentialFormat]] = None,
    ) -> None:
        #: Which keys are sensitive: the tables of :mod:`~opslog.fields.sensitive_keys`,
        #: ``redact_keys`` more fragments, ``allow_keys`` keys never sensitive.
        self.keys = KeyVocabulary(redact_keys, allow_keys)
        self.extra_patterns: tuple[re.Pattern[str], ...] = tuple(
            p if isinstance(p, re.Pattern) else re.compile(p) for p in extra_patterns
        )
        self.known = known
        # The key words a key rule starts from: each fragment's first word as
        # text writes it (pass_word, api-key) and the short words. What follows
        # is read as the rest of the key, and the whole key is judged by
        # self.keys: one compiled set of rules for every text.
        self._key_words = tuple(
            dict.fromkeys(
                [text_spellings(f)[0] for f in self.keys.fragments] + sorted(self.keys.words)
            )
        )
        self._key_rules = _keyword_rules(literal_finder(self._key_words).pattern)
        # The table as it is now (a format added to it at run time counts).
        self.credentials = CredentialScanner(
            credential_formats.CREDENTIAL_FORMATS if formats is None else formats
        )
        # The gate: every literal some rule needs. Where none occurs no rule
        # can match: derived from the rules and the credential table, never
        # written out again. Three searches, each cheap for the engine: the
        # lower-case literals (key words, "bearer") in the lower case,
        # anywhere (a key word may sit inside a key: "dbpw"); the literals
        # written with their case ("AKIA", "ghp_") that begin with a letter or
        # digit, only where a token may start (not after one, as the formats
        # themselves require); the others ("-----BEGIN", "@", "eyJ", which a
        # JWT rule finds glued to other text) anywhere.
        lower_literals: list[str] = list(self._key_words)
        cased: list[str] = list(self.credentials.prefixes)
        for literals, _, _ in _FIXED_RULES:
            (lower_literals if literals[0].islower() else cased).append(literals[0])
        at_start = [lit for lit in cased if lit[0].isalnum() and lit != "eyJ"]
        self._gates = (
            re.compile(r"(?<![A-Za-z0-9])" + literal_finder(at_start).pattern),
            literal_finder(lit for lit in cased if lit not in at_start),
            literal_finder(lower_literals),
        )

    # -- keys -------------------------------------------------------------
    def is_sensitive_key(self, key: str) -> bool:
        """True when values under ``key`` must be replaced whole."""
        return self.keys.is_sensitive(key)

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
        decided by the gate: ASCII, no extra pattern configured, no known
        secret value remembered, and none of the literals any rule needs
        occurs (the keywords, the fixed rules' literals, the credential
        prefixes). False means "look closer", not "it holds a secret"."""
        return self._unchanged(text, with_known=True)

    def _unchanged(self, text: str, with_known: bool) -> bool:
        """The gate (known values only counted ``with_known``)."""
        if (
            not text.isascii()
            or self.extra_patterns
            or (with_known and self.known._state[0] is not None)
        ):
            return False
        at_start, anywhere, in_lower = self._gates
        return (
            at_start.search(text) is None
            and anywhere.search(text) is None
            and in_lower.search(_lower(text)) is None
        )

    def redact_text(self, text: str) -> str:
        """Rewrite every secret inside ``text``: known values and the patterns."""
        return self._redact(text, with_known=True)

    def redact_name(self, text: str) -> str:
        """The text patterns only, for opslog's required fields (names, job
        ids): a known value never rewrites them."""
        return self._redact(text, with_known=False)

    def _redact(self, text: str, with_known: bool) -> str:
        if self._unchanged(text, with_known):
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
        if any(word in lower for word in self._key_words):
            for pattern, strength, needs, place in self._key_rules:
                if all(any(c in lower for c in group) for group in needs):
                    _key_spans(pattern, place, text, lower, strength, self.keys.is_sensitive, spans)
        for literals, pattern, on_lower in _FIXED_RULES:
            # A lower-case literal is looked for in the lower case: "bearer"
            # stands for "Bearer" too.
            if all(literal in (lower if literal.islower() else text) for literal in literals):
                _spans_of(pattern, lower if on_lower else text, _FIXED, spans)
        spans.extend((start, -_FIXED, end) for start, end in self.credentials.spans(text))
