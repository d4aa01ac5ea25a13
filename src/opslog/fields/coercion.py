"""Field coercion: any caller value becomes a bounded, redacted OTel attribute.

OpenTelemetry attributes hold only ``str``, ``bool``, ``int``, ``float`` and
homogeneous sequences of one of those. opslog accepts anything in ``fields``
and applies one documented rule, the same for all three output channels:

=========================  ==================================================
value                      becomes
=========================  ==================================================
``str``                    itself (redacted, truncated, lone surrogates
                           replaced so it always encodes as UTF-8)
``bool``/``float``         itself
``int``                    itself; outside the signed 64-bit range, its
                           decimal string (OTLP ints are 64-bit)
``None``                   ``"null"``
mapping (``dict`` ...)     flattened into dotted keys: ``{"vm": {"id": 1}}``
                           gives ``vm.id = 1``; an empty mapping gives
                           ``"{}"``; deeper than :attr:`FieldLimits.max_depth`
                           levels, the rest is a JSON string
list/tuple/set/deque       a tuple when all items are ``str``, or all
                           ``bool``, or all ``int``, or all ``float``;
                           otherwise (mixed, ``None`` inside, nested) a JSON
                           string. Sets are sorted when they can be. More
                           than :attr:`FieldLimits.max_items` items: a JSON
                           string of the first ones plus ``…[+N items]``
``datetime``/``date``/     ISO-8601 (``isoformat()``)
``time``
``timedelta``              a Go-style duration string (``"5.42s"``)
``Decimal``/``UUID``/      ``str(value)``
``Path``/``Enum``
``bytes``                  decoded as UTF-8, undecodable bytes as ``\\xNN``
exception                  ``"TypeName: message"``
anything else              ``repr(value)``; if even that fails,
                           ``"<unrepresentable TypeName>"``
recursive structure        the repeated container becomes ``"<recursive>"``
=========================  ==================================================

Keys that are not ``str`` are stringified with ``str()``; an empty key
becomes ``"_"``; two keys that end up equal keep both values, the later one
under ``key~2``. Strings longer than :attr:`FieldLimits.max_value_length`
are cut and end with ``…[truncated N chars]``. At most
:attr:`FieldLimits.max_fields` attributes are kept per call; the number left
out is reported in the event's ``opslog.fields_dropped`` field.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Optional, Union

from opentelemetry.util.types import AttributeValue

from ..vocabulary import RESERVED_FIELDS
from .durations import format_duration
from .redaction import REDACTED, Redactor

__all__ = ["Attributes", "FieldCoercer", "FieldLimits"]

Attributes = dict[str, AttributeValue]
_Json = Union[None, str, bool, int, float, list[Any], dict[str, Any]]

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_REDACT_SLACK: Final = 256
_MEMO_TEXT_LENGTH: Final = 256
_MEMO_SIZE: Final = 4096
_KEY_LIMIT: Final = 256
_PRIMITIVES: Final = (str, bool, int, float)
_SEQUENCES: Final = (list, tuple, set, frozenset, deque)


@dataclass(frozen=True)
class FieldLimits:
    """Bounds applied to caller fields and texts."""

    #: Longest string value or message kept, in characters.
    max_value_length: int = 4096
    #: Most caller attributes kept per event (after flattening).
    max_fields: int = 64
    #: Levels of nested mappings flattened into dotted keys.
    max_depth: int = 4
    #: Most items of a list kept as a list attribute.
    max_items: int = 128


class FieldCoercer:
    """Applies the coercion rule, the limits and redaction."""

    def __init__(self, redactor: Redactor, limits: FieldLimits) -> None:
        self.redactor = redactor
        self.limits = limits
        self._max_fields = limits.max_fields
        #: field name -> "plain and not sensitive" (the fast path's key check)
        self._plain_keys: dict[object, bool] = {}
        #: short text -> its coerced form. Messages, step names and field
        #: values repeat endlessly; a full memo is simply dropped, and a newly
        #: remembered secret empties it (dict reads and writes are atomic).
        self._texts: dict[str, str] = {}
        redactor.on_new_secret(self._forget_texts)

    def _forget_texts(self) -> None:
        self._texts = {}

    # -- text -------------------------------------------------------------
    def text(self, value: str) -> str:
        """Redact and truncate one string; always valid UTF-8 afterwards."""
        # Taken before the work: if a new secret empties the memo meanwhile,
        # this result goes into the old, discarded dict.
        texts = self._texts
        done = texts.get(value)
        if done is not None:
            return done
        limit = self.limits.max_value_length
        original = value
        original_length = len(value)
        if original_length > limit + _REDACT_SLACK:
            # Redact a slightly longer prefix than is kept, so a secret that
            # straddles the cut is still recognised as one.
            value = value[: limit + _REDACT_SLACK]
        if not value.isascii():
            value = value.encode("utf-8", "replace").decode("utf-8")
        value = self.redactor.redact_text(value)
        if original_length > limit or len(value) > limit:
            cut = max(original_length, len(value)) - limit
            value = f"{value[:limit]}…[truncated {cut} chars]"
        if original_length <= _MEMO_TEXT_LENGTH:
            if len(texts) >= _MEMO_SIZE:
                self._texts = {}
            else:
                texts[original] = value
        return value

    def any_text(self, value: object) -> str:
        """``str(value)`` made safe: never raises, redacted, truncated."""
        if type(value) is str:
            done = self._texts.get(value)
            return done if done is not None else self.text(value)
        return self.text(value if isinstance(value, str) else _safe_str(value))

    # -- fields -----------------------------------------------------------
    def fields(self, fields: object) -> tuple[Attributes, int]:
        """Coerce a caller's ``fields`` into attributes.

        Returns the attributes and the number of attributes left out by
        ``max_fields``. ``fields`` is only read. Anything that is not a
        mapping is kept under the key ``fields``.
        """
        if fields is None:
            return {}, 0
        fast = self.plain_fields(fields)
        if fast is not None:
            return fast, 0
        out: Attributes = {}
        budget = _Budget(self.limits.max_fields)
        if type(fields) is dict or isinstance(fields, Mapping):
            self._mapping("", fields, out, budget, 0, set())
        else:
            self._put(out, budget, "fields", self._value(fields, set(), 0))
        return out, budget.dropped

    def plain_fields(self, fields: object) -> Optional[Attributes]:
        """The common case, fast: a ``dict`` within ``max_fields`` of plain keys
        (identifiers, not sensitive, not reserved) and scalar values.

        Returns a new dict, or ``None``: use :meth:`fields`.
        """
        if type(fields) is not dict or len(fields) > self._max_fields:
            return None
        plain = self._plain_keys
        texts = self._texts
        out: Attributes = {}
        try:
            for key, value in fields.items():
                known = plain.get(key)
                if known is not True and (known is False or not self._learn_key(key)):
                    return None
                kind = type(value)
                if kind is str:
                    done = texts.get(value)
                    out[key] = done if done is not None else self.text(value)
                elif kind is int:
                    if not _INT64_MIN <= value <= _INT64_MAX:
                        return None
                    out[key] = value
                elif kind is float or kind is bool:
                    out[key] = value
                else:
                    return None
        except RuntimeError:  # changed size during iteration: another thread writes to it
            return None
        return out

    def _learn_key(self, key: object) -> bool:
        """Remember whether ``key`` is a plain field name: an identifier that is
        neither sensitive nor reserved (those take the full rule)."""
        plain = (
            type(key) is str
            and 0 < len(key) <= _KEY_LIMIT
            and key.isidentifier()
            and key not in RESERVED_FIELDS
            and not self.redactor.is_sensitive_key(key)
        )
        if len(self._plain_keys) >= 4096:
            self._plain_keys = {}
        self._plain_keys[key] = plain
        return plain

    def _mapping(
        self,
        prefix: str,
        mapping: Mapping[Any, Any],
        out: Attributes,
        budget: _Budget,
        depth: int,
        seen: set[int],
    ) -> None:
        seen.add(id(mapping))
        try:
            items = list(mapping.items())
        except Exception:
            self._put(out, budget, prefix or "fields", f"<unreadable {type(mapping).__name__}>")
            return
        redactor = self.redactor
        for raw_key, value in items:
            name = self._key(raw_key)
            key = prefix + name
            kind = type(value)
            if redactor.is_sensitive_key(name):
                redactor.remember(value)
                self._put(out, budget, key, REDACTED)
            elif kind is str and key not in out and len(out) < budget.limit:
                out[key] = self.text(value)  # fast path: the most common value
            elif (
                (kind is int or kind is float or kind is bool)
                and key not in out
                and (len(out) < budget.limit)
            ):
                out[key] = self._value(value, seen, depth + 1)
            elif (
                isinstance(value, Mapping)
                and value
                and depth + 1 < self.limits.max_depth
                and id(value) not in seen
            ):
                self._mapping(key + ".", value, out, budget, depth + 1, seen)
            else:
                self._put(out, budget, key, self._value(value, seen, depth + 1))
        seen.discard(id(mapping))

    @staticmethod
    def _put(out: Attributes, budget: _Budget, key: str, value: AttributeValue) -> None:
        if len(out) >= budget.limit:
            budget.dropped += 1
            return
        if key in out:
            n = 2
            while f"{key}~{n}" in out:
                n += 1
            key = f"{key}~{n}"
        out[key] = value

    def _key(self, key: object) -> str:
        if type(key) is str and 0 < len(key) <= _KEY_LIMIT and key.isidentifier():
            return key
        text = key if isinstance(key, str) else _safe_str(key)
        if not text:
            return "_"
        if len(text) > _KEY_LIMIT:
            text = text[:_KEY_LIMIT]
        if text.isidentifier():
            return text
        return self.text(text)

    def _value(self, value: object, seen: set[int], depth: int) -> AttributeValue:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bool, float)):
            return value
        if isinstance(value, int):
            return value if _INT64_MIN <= value <= _INT64_MAX else str(value)
        if value is None:
            return "null"
        if isinstance(value, Mapping):
            if not value:
                return "{}"
            return self.text(self._json(value, seen, depth))
        if isinstance(value, _SEQUENCES):
            return self._sequence(value, seen, depth)
        return self.text(_scalar_text(value))

    def _sequence(self, value: Any, seen: set[int], depth: int) -> AttributeValue:
        seen.add(id(value))
        try:
            return self._sequence_items(_ordered(value), seen, depth)
        finally:
            seen.discard(id(value))

    def _sequence_items(self, items: list[Any], seen: set[int], depth: int) -> AttributeValue:
        limit = self.limits.max_items
        if len(items) <= limit:
            kinds = {type(i) for i in items}
            if len(kinds) == 1 and next(iter(kinds)) in _PRIMITIVES:
                kind = next(iter(kinds))
                if kind is str:
                    return tuple(self.text(i) for i in items)
                if kind is int and not all(_INT64_MIN <= i <= _INT64_MAX for i in items):
                    return self.text(self._json(items, seen, depth))
                return tuple(items)
            if not items:
                return ()
            return self.text(self._json(items, seen, depth))
        shown = self._json(items[:limit], seen, depth)
        return self.text(f"{shown} …[+{len(items) - limit} items]")

    def _json(self, value: object, seen: set[int], depth: int) -> str:
        try:
            return json.dumps(self._jsonable(value, seen, depth), ensure_ascii=False)
        except Exception:
            return f"<unrepresentable {type(value).__name__}>"

    def _jsonable(self, value: object, seen: set[int], depth: int) -> _Json:
        """A JSON-safe copy with sensitive keys redacted (for nested values)."""
        if value is None or isinstance(value, (bool, int, float)):
            if isinstance(value, float) and value != value:  # NaN is not JSON
                return "NaN"
            if isinstance(value, float) and value in (float("inf"), float("-inf")):
                return str(value)
            return value
        if isinstance(value, str):
            return self.text(value)
        if id(value) in seen:
            return "<recursive>"
        if depth > 32:
            return "<too deep>"
        if isinstance(value, Mapping):
            seen.add(id(value))
            try:
                result: dict[str, Any] = {}
                for k, v in list(value.items()):
                    key = self._key(k)
                    if self.redactor.is_sensitive_key(key):
                        self.redactor.remember(v)
                        result[key] = REDACTED
                    else:
                        result[key] = self._jsonable(v, seen, depth + 1)
                return result
            finally:
                seen.discard(id(value))
        if isinstance(value, _SEQUENCES):
            seen.add(id(value))
            try:
                return [self._jsonable(v, seen, depth + 1) for v in _ordered(value)]
            finally:
                seen.discard(id(value))
        return self.text(_scalar_text(value))


class _Budget:
    __slots__ = ("dropped", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.dropped = 0


def _ordered(value: Any) -> list[Any]:
    items = list(value)
    if isinstance(value, (set, frozenset)):
        try:
            items.sort()
        except Exception:
            items.sort(key=_safe_str)
    return items


_STR_TYPES: tuple[type, ...] = ()


def _str_types() -> tuple[type, ...]:
    """Types whose ``str()`` is their value; imported on first need (slow imports)."""
    global _STR_TYPES
    if not _STR_TYPES:
        import decimal
        import pathlib
        import uuid

        _STR_TYPES = (decimal.Decimal, uuid.UUID, pathlib.PurePath)
    return _STR_TYPES


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def _scalar_text(value: object) -> str:
    """The text form of a value that is not a primitive, mapping or sequence."""
    try:
        if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
            return value.isoformat()
        if isinstance(value, _dt.timedelta):
            return format_duration(value.total_seconds())
        if isinstance(value, enum.Enum):
            return _safe_str(value.value)
        if isinstance(value, _str_types()):
            return str(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value).decode("utf-8", "backslashreplace")
        if isinstance(value, BaseException):
            return exception_text(value)
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def exception_text(exc: BaseException) -> str:
    """``"TypeName: message"``, or the type name alone for an empty message."""
    name = type(exc).__name__
    message = _safe_str(exc)
    return f"{name}: {message}" if message else name
