"""W3C Trace Context Level 2 parsing: ``traceparent`` and ``tracestate``, exactly.

OpenTelemetry's default propagator is lenient where the specification is
strict and strict where it is lenient; this module follows the text:

``traceparent``
  * version ``00``: exactly ``00-<32 hex>-<16 hex>-<2 hex>`` (55 characters),
    lowercase hexadecimal only;
  * version ``ff`` is invalid; a version that is not two lowercase hex
    digits followed by ``-`` is invalid;
  * a higher version is parsed leniently: at least 55 characters, the first
    55 read as version 00, and anything after them must start with ``-``;
  * an all-zero trace id or parent id is invalid;
  * flags: the ``sampled`` bit (``01``) and the Level 2 ``random`` bit
    (``02``) are kept; unknown bits are set to zero when propagating;
  * the header sent more than once with different values is invalid (the
    same value repeated is accepted);
  * surrounding spaces and tabs are ignored.

``tracestate`` (only read when ``traceparent`` is valid)
  * several header fields are combined with ``,`` (RFC 7230);
  * list members are separated by ``,``; spaces/tabs around members and
    empty members are ignored;
  * key: the grammar of the specification at HEAD,
    ``key = (lcalpha / DIGIT) 0*255(keychar)`` with
    ``keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`` (``@`` is an
    ordinary key character; the older ``tenant@system`` rule is gone);
  * value: 1 to 256 printable ASCII characters except ``,`` and ``=``, not
    ending in a space (leading spaces are part of the value);
  * as the official W3C test suite reads it at its strict Level 2 setting,
    and as the other OpenTelemetry SDKs do: one invalid list member (bad key
    grammar, a key or value too long, an illegal character, an empty value,
    no ``=``) or more than 32 list members discards the **whole** header;
  * a duplicated key keeps the header: its first (left-most, most recent)
    entry stands, the others are dropped.

Every function here is total: any input yields a result, never an
exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

__all__ = [
    "MAX_TRACESTATE_MEMBERS",
    "ParsedTraceState",
    "TraceParent",
    "format_traceparent",
    "parse_traceparent",
    "parse_tracestate",
]

MAX_TRACESTATE_MEMBERS = 32
_OWS = " \t"
_HEX = frozenset("0123456789abcdef")
_KEY = re.compile(r"[a-z0-9][a-z0-9_\-*/@]{0,255}\Z")
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]\Z")
#: Flags this implementation knows: sampled (Level 1) and random (Level 2).
KNOWN_FLAGS = 0x01 | 0x02


@dataclass(frozen=True)
class TraceParent:
    """A valid, parsed ``traceparent``."""

    trace_id: int
    parent_id: int
    flags: int
    version: int = 0


def _is_hex(text: str) -> bool:
    return bool(text) and _HEX.issuperset(text)


def parse_traceparent(values: Iterable[object]) -> tuple[Optional[TraceParent], Optional[str]]:
    """Parse the ``traceparent`` header field(s).

    Returns ``(parent, None)`` for a valid header, ``(None, reason)`` for an
    invalid one, ``(None, None)`` when there is none.
    """
    texts: list[str] = []
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if not isinstance(value, str):
            return None, "traceparent is not text"
        texts.append(value.strip(_OWS))
    if not texts:
        return None, None
    if len(set(texts)) > 1:
        return None, "traceparent sent more than once with different values"
    return _parse_one(texts[0])


def _parse_one(text: str) -> tuple[Optional[TraceParent], Optional[str]]:
    if len(text) < 3 or text[2] != "-" or not _is_hex(text[:2]):
        return None, "version is not two lowercase hex digits followed by '-'"
    version = int(text[:2], 16)
    if version == 0xFF:
        return None, "version ff is invalid"
    if version == 0 and len(text) != 55:
        return None, "version 00 must be exactly 55 characters"
    if len(text) < 55:
        return None, "shorter than 55 characters"
    if len(text) > 55 and text[55] != "-":
        return None, "a higher version's extra fields must start with '-'"
    trace_id, parent_id, flags = text[3:35], text[36:52], text[53:55]
    if text[35] != "-" or text[52] != "-":
        return None, "fields are not separated by '-'"
    if not (_is_hex(trace_id) and _is_hex(parent_id) and _is_hex(flags)):
        return None, "ids and flags must be lowercase hex"
    trace = int(trace_id, 16)
    parent = int(parent_id, 16)
    if trace == 0:
        return None, "trace id is all zeros"
    if parent == 0:
        return None, "parent id is all zeros"
    return TraceParent(trace, parent, int(flags, 16) & KNOWN_FLAGS, version), None


def format_traceparent(trace_id: int, span_id: int, flags: int) -> str:
    """The version 00 ``traceparent`` (unknown flag bits cleared)."""
    return f"00-{trace_id:032x}-{span_id:016x}-{flags & KNOWN_FLAGS:02x}"


@dataclass(frozen=True)
class ParsedTraceState:
    """The members of a ``tracestate`` in order; none when it was discarded."""

    members: tuple[tuple[str, str], ...]
    #: Why the whole header was discarded, or ``None``.
    discarded: Optional[str] = None


def parse_tracestate(values: Iterable[object]) -> ParsedTraceState:
    """Parse and combine ``tracestate`` header field(s) (see the module docstring)."""
    parts: list[str] = []
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str):
            parts.append(value)
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    count = 0
    for raw in ",".join(parts).split(","):
        member = raw.strip(_OWS)
        if not member:
            continue  # empty list members are allowed and ignored
        count += 1
        if count > MAX_TRACESTATE_MEMBERS:
            return ParsedTraceState((), f"more than {MAX_TRACESTATE_MEMBERS} list members")
        key, sep, value = member.partition("=")
        if not sep or not _KEY.match(key) or not _VALUE.match(value):
            return ParsedTraceState((), f"list member {count} is invalid")
        if key not in seen:
            seen.add(key)
            members.append((key, value))
    return ParsedTraceState(tuple(members))
