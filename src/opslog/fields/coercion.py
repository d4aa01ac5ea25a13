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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Optional, Union

from .. import _diagnostics
from ..vocabulary import RESERVED_FIELDS
from .durations import format_duration
from .redaction import REDACTED, Redactor

__all__ = ["Attributes", "FieldCoercer", "FieldLimits", "with_cut_marker"]

#: An OpenTelemetry attribute value (the same union as
#: ``opentelemetry.util.types.AttributeValue``; this layer does not import OTel).
AttributeValue = Union[
    str, bool, int, float, Sequence[str], Sequence[bool], Sequence[int], Sequence[float]
]
Attributes = dict[str, AttributeValue]
_Json = Union[None, str, bool, int, float, list[Any], dict[str, Any]]

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
#: Longest text redacted whole; a longer one is cut to this first (far beyond
#: anything kept, so no secret straddling the kept part can be missed).
_REDACT_LIMIT: Final = 1 << 20
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
        #: the keys of it that are plain (one subset test covers a whole dict)
        self._plain_names: set[str] = set()
        #: the known-values generation those were learned in
        self._plain_generation = redactor.known.generation
        #: short text -> its coerced form. Messages, step names and field
        #: values repeat endlessly; a full memo is simply dropped, and so is a
        #: memo made before a new secret value was remembered (the
        #: generation it was made in is kept with it).
        self._texts: dict[str, str] = {}
        self._known = redactor.known
        self._generation = redactor.generation
        self._max_length = limits.max_value_length
        #: The same for names (no known values involved: never invalidated).
        self._names: dict[str, str] = {}

    # -- text -------------------------------------------------------------
    def text(self, value: str) -> str:
        """Redact, then truncate one string; always valid UTF-8 afterwards.

        Redaction runs on the whole text (up to 1 MiB) *before* it is cut to
        ``max_value_length``, so a secret that straddles the cut is never
        left half visible.
        """
        texts = self._memo()
        done = texts.get(value)
        if done is not None:
            return done
        redactor = self.redactor
        if len(value) <= self._max_length and redactor.leaves_unchanged(value):
            result = value  # the common case: nothing to redact or cut
        else:
            result = self._bounded(value, redactor.redact_text)
        if len(value) <= _MEMO_TEXT_LENGTH:
            # Messages and most names repeat: remember them, plain ones too.
            if len(texts) >= _MEMO_SIZE:
                self._texts = {}
            else:
                texts[value] = result
        return result

    def name(self, value: object) -> str:
        """A required field's text (operation, step, job id): never raises,
        the text patterns applied, but no known secret value: a value that
        was once a secret elsewhere must not rewrite a job id."""
        text = value if type(value) is str else plain_text(value)
        names = self._names
        done = names.get(text)
        if done is None:
            done = self._bounded(text, self.redactor.redact_name)
            if len(text) <= _MEMO_TEXT_LENGTH:
                if len(names) >= _MEMO_SIZE:
                    self._names = {}
                names[text] = done
        return done

    def _bounded(self, value: str, redact: Any) -> str:
        limit = self.limits.max_value_length
        original_length = len(value)
        if original_length > _REDACT_LIMIT:
            value = value[:_REDACT_LIMIT]
        if not value.isascii():
            value = value.encode("utf-8", "replace").decode("utf-8")
        value = redact(value)
        if original_length > limit or len(value) > limit:
            value = with_cut_marker(value[:limit], max(original_length, len(value)) - limit)
        return value

    def _memo(self) -> dict[str, str]:
        generation = self._known.generation
        if generation != self._generation:
            self._texts = {}
            self._generation = generation
        return self._texts

    def any_text(self, value: object) -> str:
        """``str(value)`` made safe: never raises, redacted, truncated."""
        if type(value) is str:
            # The memo read of :meth:`text`, inline: messages repeat, and this
            # runs for every event.
            if self._generation == self._known.generation:
                done = self._texts.get(value)
                if done is not None:
                    return done
            return self.text(value)
        return self.text(plain_text(value))

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
        (identifiers, not sensitive, not reserved) and scalar values, lists
        and tuples of one scalar type within ``max_items`` (kept as tuples;
        texts that could be a command line's flags, ``-...``, take the full
        rule), or dicts of those one level deep (flattened to ``key.name``),
        within ``max_fields`` once flattened. A name that is not an
        identifier (``vm-id``) is a text to the full rule: it is checked with
        the values.

        Returns a new dict, or ``None``: use :meth:`fields`. When it returns
        a dict, it is what :meth:`fields` would return.

        The string values are checked together: the redaction gate
        (:meth:`Redactor.leaves_unchanged`) over all of them joined by NUL,
        which no rule's literal contains, so it clears the joined text only
        when it would clear each of them. Only when it does not (or when the
        joined text is longer than ``max_value_length``) is each one coerced
        on its own, or, for
        texts in lists or names, the full rule used. Values that change on
        every event (ids, paths, timestamps, URLs) are therefore not
        remembered.
        """
        if type(fields) is not dict or len(fields) > self._max_fields:
            return None
        try:
            # One C-level copy, ours from here on; its values are the caller's
            # until checked.
            out: dict[str, Any] = fields.copy()
            strings: list[str] = []  # every text, lists' and nested dicts' too
            listed_texts = False
            # Names that are not identifiers ("vm-id", "k8s.io/name") are texts
            # to the full rule: they join the gates, and when those do not
            # clear everything the full rule decides.
            named_texts = False
            if self._plain_generation != self._known.generation:
                # A value remembered since may be a key learned plain before.
                self._plain_keys = {}
                self._plain_names = set()
                self._plain_generation = self._known.generation
            if not out.keys() <= self._plain_names:
                for key in out:
                    if not self._learn_key(key):
                        if not self._text_name(key):
                            return None
                        strings.append(key)
                        named_texts = True
            nested: Optional[dict[str, Attributes]] = None
            for key, value in out.items():
                kind = type(value)
                if kind is str:
                    strings.append(value)
                elif kind is int:  # (inline, not _plain_item: a call per value costs)
                    if not _INT64_MIN <= value <= _INT64_MAX:
                        return None
                elif kind is float or kind is bool:
                    pass
                elif kind is dict:
                    # One level of nesting, flattened as the full rule does:
                    # "vm": {"host": h} becomes "vm.host".
                    flat = self._plain_nested(key, value)
                    if flat is None:
                        return None
                    if nested is None:
                        nested = {}
                    nested[key] = flat
                    for item in flat.values():
                        if type(item) is str:
                            strings.append(item)
                        elif type(item) is tuple and item and type(item[0]) is str:
                            strings.extend(item)
                            listed_texts = True
                else:
                    plain = self._plain_item(value)
                    if plain is None:
                        return None
                    if plain is not value:
                        out[key] = plain  # a list as a tuple (same key: same size)
                    if isinstance(plain, tuple) and plain and isinstance(plain[0], str):
                        strings.extend(plain)
                        listed_texts = True
        except Exception:  # a hostile key: the full rule
            return None
        if nested is not None:
            if named_texts:
                return None  # "vm.host" and {"vm": {"host": ...}}: the full rule numbers them
            flattened = self._flattened(out, nested)
            if flattened is None:
                return None
            out = flattened
        if strings:
            joined = strings[0] if len(strings) == 1 else "\x00".join(strings)
            redactor = self.redactor
            if len(joined) > self._max_length or not redactor.leaves_unchanged(joined):
                if listed_texts or named_texts:
                    return None  # texts in a list or in names: the full rule
                for key, value in out.items():
                    if type(value) is str:
                        out[key] = self.text(value)
        return out

    def _plain_nested(self, key: str, value: dict[Any, Any]) -> Optional[Attributes]:
        """The items of a nested dict as the full rule flattens them
        (``key.name``), if they are plain: a non-empty dict of plain names
        with scalar values or plain lists. Else ``None``."""
        if not value:
            return None  # the full rule writes "{}"
        flat: Attributes = {}
        sensitive = self.redactor.is_sensitive_key
        for name, item in value.items():
            if name not in self._plain_names and not self._learn_key(name):
                return None
            if sensitive(key + "." + name):
                return None  # "api" and "key" are plain, "api.key" is not: the full rule
            plain = self._plain_item(item)
            if plain is None:
                return None
            flat[key + "." + name] = plain
        return flat

    def _plain_item(self, value: object) -> Optional[AttributeValue]:
        """``value`` as the full rule stores it, if that is simply the value
        (a text, a number within 64 bits, a boolean) or its items as a tuple
        (see :meth:`_plain_sequence`). Else ``None``."""
        kind = type(value)
        if kind is str or kind is float or kind is bool:
            return value  # type: ignore[return-value]
        if kind is int:
            return value if _INT64_MIN <= value <= _INT64_MAX else None  # type: ignore[operator,return-value]
        if kind is list or kind is tuple:
            return self._plain_sequence(value)  # type: ignore[arg-type]
        return None

    def _flattened(
        self, out: dict[str, Any], nested: dict[str, Attributes]
    ) -> Optional[dict[str, Any]]:
        """``out`` with each nested dict replaced, in place and in order, by its
        flattened items; ``None`` if that is more than ``max_fields``."""
        if len(out) - len(nested) + sum(map(len, nested.values())) > self._max_fields:
            return None  # the full rule decides what to leave out
        flat: dict[str, Any] = {}
        for key, value in out.items():
            items = nested.get(key)
            if items is None:
                flat[key] = value
            else:
                flat.update(items)
        return flat

    def _plain_sequence(self, value: list[Any] | tuple[Any, ...]) -> Optional[tuple[Any, ...]]:
        """``value`` as the tuple the full rule makes of it, if that is
        simply its items: within ``max_items``, all of one scalar type,
        integers within 64 bits, no text starting with ``-`` (which the
        full rule reads as a command line's flag). Else ``None``."""
        if len(value) > self.limits.max_items:
            return None
        if not value:
            return ()
        kind = type(value[0])
        if kind is str:
            for item in value:
                if type(item) is not str or item.startswith("-"):
                    return None
        elif kind is int:
            for item in value:
                if type(item) is not int or not _INT64_MIN <= item <= _INT64_MAX:
                    return None
        elif kind is float or kind is bool:
            for item in value:
                if type(item) is not kind:
                    return None
        else:
            return None
        return tuple(value)

    def _learn_key(self, key: object) -> bool:
        """Remember whether ``key`` is a plain field name: an identifier that is
        neither sensitive nor reserved (those take the full rule)."""
        known = self._plain_keys.get(key)
        if known is not None:
            return known
        plain = (
            type(key) is str
            and 0 < len(key) <= min(_KEY_LIMIT, self._max_length)
            and key.isidentifier()
            and key not in RESERVED_FIELDS
            and not self.redactor.is_sensitive_key(key)
            and self.redactor.leaves_unchanged(key)
        )
        if len(self._plain_keys) >= 4096:
            self._plain_keys = {}
            self._plain_names = set()
        self._plain_keys[key] = plain
        if plain:
            self._plain_names.add(key)  # type: ignore[arg-type]
        return plain

    def _text_name(self, key: object) -> bool:
        """Whether ``key`` is a field name the full rule keeps as text, which
        the fast path may keep as it is if the redaction gates clear it (and
        it is within ``max_value_length``, checked with the values): a
        ``str`` within the name length limit that is not an identifier,
        neither sensitive nor reserved."""
        return (
            type(key) is str
            and 0 < len(key) <= _KEY_LIMIT
            and not key.isidentifier()
            and key not in RESERVED_FIELDS
            and not self.redactor.is_sensitive_key(key)
        )

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
        items = _items(mapping)
        if items is None:
            self._put(out, budget, prefix.rstrip(".") or "fields", unreadable(mapping))
            return
        redactor = self.redactor
        for raw_key, value in items:
            name = self._key(raw_key)
            key = prefix + name
            kind = type(value)
            # The name alone, or with the names it is nested under ("api.key").
            if redactor.is_sensitive_key(name) or (prefix and redactor.is_sensitive_key(key)):
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
            else:
                nested = value if isinstance(value, Mapping) else _record_fields(value)
                if nested and depth + 1 < self.limits.max_depth and id(value) not in seen:
                    self._mapping(key + ".", nested, out, budget, depth + 1, seen)
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
        """A field name as text: redacted like any text (a token, or a known
        secret value, used as a key is hidden too), within the name limit."""
        text = key if type(key) is str else plain_text(key)
        if not text:
            return "_"
        if len(text) > _KEY_LIMIT:
            text = text[:_KEY_LIMIT]
        return self.text(text)

    def _value(self, value: object, seen: set[int], depth: int) -> AttributeValue:
        if isinstance(value, str):
            return self.text(plain_text(value))
        if isinstance(value, (bool, float)):
            return bool(value) if isinstance(value, bool) else float(value)
        if isinstance(value, int):
            number = int.__index__(value)
            return number if _INT64_MIN <= number <= _INT64_MAX else str(number)
        if value is None:
            return "null"
        nested = value if isinstance(value, Mapping) else _record_fields(value)
        if nested is not None:
            if not nested:
                return "{}"
            return self.text(self._json(nested, seen, depth))
        if isinstance(value, _SEQUENCES):
            return self._sequence(value, seen, depth)
        return self.text(_scalar_text(value))

    def _sequence(self, value: Any, seen: set[int], depth: int) -> AttributeValue:
        seen.add(id(value))
        try:
            items = _ordered(value)
            if items is None:
                return unreadable(value)
            return self._sequence_items(items, seen, depth)
        finally:
            seen.discard(id(value))

    def _sequence_items(self, items: list[Any], seen: set[int], depth: int) -> AttributeValue:
        limit = self.limits.max_items
        if len(items) <= limit:
            kinds = {type(i) for i in items}
            if len(kinds) == 1 and next(iter(kinds)) in _PRIMITIVES:
                kind = next(iter(kinds))
                if kind is str:
                    return tuple(self.text(i) for i in self.redact_argv(items))
                if kind is int and not all(_INT64_MIN <= i <= _INT64_MAX for i in items):
                    return self.text(self._json(items, seen, depth))
                return tuple(items)
            if not items:
                return ()
            return self.text(self._json(items, seen, depth))
        shown = self._json(items[:limit], seen, depth)
        return self.text(f"{shown} …[+{len(items) - limit} items]")

    def redact_argv(self, items: list[str]) -> list[str]:
        """A command line as a list: the item after a sensitive flag
        (``["mysql", "--password", "S"]``) is a secret."""
        out = list(items)
        for index in range(len(out) - 1):
            flag = out[index]
            if (
                flag.startswith("-")
                and "=" not in flag
                and 1 < len(flag) <= _KEY_LIMIT
                and self.redactor.is_sensitive_key(flag.lstrip("-"))
                and not out[index + 1].startswith("-")
            ):
                self.redactor.remember(out[index + 1])
                out[index + 1] = REDACTED
        return out

    def _json(self, value: object, seen: set[int], depth: int) -> str:
        try:
            return json.dumps(self._jsonable(value, seen, depth), ensure_ascii=False)
        except Exception:
            return unreadable(value)

    def _jsonable(self, value: object, seen: set[int], depth: int) -> _Json:
        """A JSON-safe copy with sensitive keys redacted (for nested values)."""
        if value is None or isinstance(value, (bool, int, float)):
            if isinstance(value, bool):
                return bool(value)
            if isinstance(value, int):
                return int.__index__(value)
            if isinstance(value, float):
                value = float(value)
                if value != value or value in (float("inf"), float("-inf")):
                    return str(value)  # NaN and infinities are not JSON
            return value
        if isinstance(value, str):
            return self.text(plain_text(value))
        if id(value) in seen:
            return "<recursive>"
        if depth > 32:
            return "<too deep>"
        nested = value if isinstance(value, Mapping) else _record_fields(value)
        if nested is not None:
            seen.add(id(value))
            try:
                items = _items(nested)
                if items is None:
                    return unreadable(value)
                result: dict[str, Any] = {}
                for k, v in items:
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
                items_list = _ordered(value)
                if items_list is None:
                    return unreadable(value)
                if all(type(i) is str for i in items_list):
                    items_list = self.redact_argv(items_list)
                return [self._jsonable(v, seen, depth + 1) for v in items_list]
            finally:
                seen.discard(id(value))
        return self.text(_scalar_text(value))


class _Budget:
    __slots__ = ("dropped", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.dropped = 0


def with_cut_marker(head: str, cut: int) -> str:
    """``head``, the start of a text ``cut`` characters longer, marked
    ``…[truncated N chars]``; a ``[REDACTED]`` marker the cut went through
    is left out whole, never left half visible."""
    marker = head.rfind("[")
    if marker >= 0 and REDACTED.startswith(head[marker:]) and head[marker:] != REDACTED:
        head = head[:marker]
    return f"{head}…[truncated {cut} chars]"


def _ordered(value: Any) -> Optional[list[Any]]:
    """The items of a sequence (sets sorted when they can be), or ``None`` when
    reading them fails (a hostile ``__iter__``)."""
    try:
        items = list(value)
    except Exception:
        return None
    if isinstance(value, (set, frozenset)):
        try:
            items.sort()
        except Exception:
            items.sort(key=plain_text)
    return items


def _items(mapping: Mapping[Any, Any]) -> Optional[list[tuple[Any, Any]]]:
    """The items of a mapping, or ``None`` when reading them fails."""
    try:
        return list(mapping.items())
    except Exception:
        return None


def _record_fields(value: object) -> Optional[dict[str, Any]]:
    """A dataclass instance's or a named tuple's fields as a mapping, else ``None``.

    So ``Creds(user="bob", password="...")`` is redacted like the mapping
    ``{"user": "bob", "password": ...}``.
    """
    try:
        if isinstance(value, tuple):
            names = getattr(type(value), "_fields", None)
            if isinstance(names, tuple) and all(type(n) is str for n in names):
                return dict(zip(names, tuple.__iter__(value)))
        fields = getattr(type(value), "__dataclass_fields__", None)
        if isinstance(fields, dict) and not isinstance(value, type):
            return {name: getattr(value, name, None) for name in fields if type(name) is str}
    except Exception:
        return {"fields": unreadable(value)}
    return None


def unreadable(value: object) -> str:
    """The placeholder for a value that cannot be read; counted as
    ``value_replaced`` in the self-diagnostics."""
    name = _type_name(value)
    _diagnostics.report(
        _diagnostics.VALUE_REPLACED,
        f"a value of type {name} could not be read and was replaced by a placeholder",
    )
    return f"<unrepresentable {name}>"


def _type_name(value: object) -> str:
    try:
        name = type(value).__name__
        return name if type(name) is str and name.isidentifier() else "object"
    except Exception:
        return "object"


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


def plain_text(value: object) -> str:
    """``value`` as an exact ``str``, never raising.

    A ``str`` subclass is read through ``str`` itself, so its own
    ``__str__``, ``__hash__`` or ``isascii`` (possibly hostile) are never
    called; anything else through ``str()``, or a counted placeholder.
    """
    if type(value) is str:
        return value
    if isinstance(value, str):
        try:
            return str.__str__(value)
        except Exception:
            return unreadable(value)
    try:
        text = str(value)
        return text if type(text) is str else str.__str__(text)
    except Exception:
        return unreadable(value)


def _scalar_text(value: object) -> str:
    """The text form of a value that is not a primitive, mapping or sequence."""
    try:
        if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
            return value.isoformat()
        if isinstance(value, _dt.timedelta):
            return format_duration(value.total_seconds())
        if isinstance(value, enum.Enum):
            return plain_text(value.value)
        if isinstance(value, _str_types()):
            return str(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value).decode("utf-8", "backslashreplace")
        if isinstance(value, BaseException):
            return exception_text(value)
        text = repr(value)
        return text if type(text) is str else str.__str__(text)
    except Exception:
        return unreadable(value)


def exception_text(exc: BaseException) -> str:
    """``"TypeName: message"``, or the type name alone for an empty message."""
    name = type(exc).__name__
    message = plain_text(exc)
    return f"{name}: {message}" if message else name
