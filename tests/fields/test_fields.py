"""Field coercion: any value becomes a bounded OpenTelemetry attribute."""

from __future__ import annotations

import datetime
import decimal
import enum
import pathlib
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from types import MappingProxyType

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import opslog
from opslog.fields.coercion import FieldCoercer, FieldLimits, _Budget
from opslog.fields.redaction import KnownSecrets, Redactor
from opslog.testing import Capture, capture_events


def coerce(fields: object, **limits: int) -> dict[str, object]:
    return FieldCoercer(Redactor(), FieldLimits(**limits)).fields(fields)[0]


class Colour(enum.Enum):
    RED = "red"


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


class Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


def test_documented_coercion_rule() -> None:
    when = datetime.datetime(2025, 1, 22, 10, 30, tzinfo=datetime.timezone.utc)
    out = coerce(
        {
            "s": "text",
            "b": True,
            "i": 110,
            "f": 204.8,
            "big": 2**70,
            "none": None,
            "nested": {"vm": {"id": "x", "size": 3}},
            "empty": {},
            "strs": ["viostor", "netkvm"],
            "ints": (1, 2, 3),
            "mixed": [1, "a", None],
            "set": {"b", "a"},
            "dq": deque([1.5, 2.5]),
            "when": when,
            "date": datetime.date(2025, 1, 22),
            "delta": datetime.timedelta(seconds=5.42),
            "dec": decimal.Decimal("1.10"),
            "uid": uuid.UUID(int=1),
            "path": pathlib.PurePosixPath("/dev/vdc"),
            "colour": Colour.RED,
            "bytes": b"ok\xff",
            "exc": ValueError("bad"),
            "obj": Opaque(),
            "hostile": Hostile(),
            1: "int key",
            "": "empty key",
        }
    )
    assert out["s"] == "text"
    assert out["b"] is True
    assert out["i"] == 110
    assert out["f"] == 204.8
    assert out["big"] == str(2**70)
    assert out["none"] == "null"
    assert out["nested.vm.id"] == "x"
    assert out["nested.vm.size"] == 3
    assert out["empty"] == "{}"
    assert out["strs"] == ("viostor", "netkvm")
    assert out["ints"] == (1, 2, 3)
    assert out["mixed"] == '[1, "a", null]'
    assert out["set"] == ("a", "b")
    assert out["dq"] == (1.5, 2.5)
    assert out["when"] == "2025-01-22T10:30:00+00:00"
    assert out["date"] == "2025-01-22"
    assert out["delta"] == "5.42s"
    assert out["dec"] == "1.10"
    assert out["uid"] == "00000000-0000-0000-0000-000000000001"
    assert out["path"] == "/dev/vdc"
    assert out["colour"] == "red"
    assert out["bytes"] == "ok\\xff"
    assert out["exc"] == "ValueError: bad"
    assert out["obj"] == "<Opaque thing>"
    assert out["hostile"] == "<unrepresentable Hostile>"
    assert out["1"] == "int key"
    assert out["_"] == "empty key"


def test_every_coerced_value_is_a_valid_otel_attribute() -> None:
    from opentelemetry.attributes import BoundedAttributes

    values = coerce({"a": [1, 2.0], "b": [True, 1], "c": [[1], [2]], "d": [{"x": 1}], "e": ()})
    bounded = BoundedAttributes(attributes=values)
    assert dict(bounded) == values  # nothing rejected by OpenTelemetry's validation


def test_recursive_structures_terminate() -> None:
    loop: dict[str, object] = {"name": "a"}
    loop["self"] = loop
    items: list[object] = [1]
    items.append(items)
    out = coerce({"loop": loop, "items": items})
    assert out["loop.name"] == "a"
    assert out["loop.self"] == '"<recursive>"'
    assert out["items"] == '[1, "<recursive>"]'


def test_deep_nesting_becomes_json_beyond_max_depth() -> None:
    deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    out = coerce(deep, max_depth=3)
    assert out == {"a.b.c": '{"d": {"e": {"f": 1}}}'}


def test_long_strings_are_truncated_with_a_marker() -> None:
    out = coerce({"log": "x" * 10_000}, max_value_length=100)
    assert out["log"].startswith("x" * 100)
    assert out["log"].endswith("…[truncated 9900 chars]")
    assert len(out["log"]) < 130


def test_long_lists_are_cut_with_a_marker() -> None:
    out = coerce({"ids": list(range(500))}, max_items=10)
    assert out["ids"].startswith("[0, 1, 2")
    assert out["ids"].endswith("…[+490 items]")


def test_lone_surrogates_become_valid_utf8() -> None:
    out = coerce({"s": "a\ud800b", "k\udfff": 1})
    assert out["s"].encode("utf-8")
    assert all(k.encode("utf-8") for k in out)


def test_colliding_keys_keep_both_values() -> None:
    out = coerce({1: "int", "1": "str"})
    assert sorted(out.values()) == ["int", "str"]
    assert set(out) == {"1", "1~2"}


def test_any_mapping_is_accepted_and_never_mutated(captured: Capture) -> None:
    fields = {"vm_id": "x", "operation": "mine", "event": "mine", "password": "hunter22"}
    snapshot = dict(fields)
    op = opslog.new_operation_logger("j").start_operation("op")
    op.log_step("s", "m", fields)
    op.log_step("s", "m", OrderedDict(a=1))
    op.log_step("s", "m", MappingProxyType({"b": 2}))
    op.log_step("s", "m", None)
    op.log_step("s", "m", ["not", "a", "mapping"])  # type: ignore[arg-type]
    op.end_operation("completed", fields)
    assert fields == snapshot
    infos = captured.events_named("step_info")
    assert infos[0]["operation"] == "op"
    assert infos[0]["event"] == "step_info"
    assert infos[0]["fields.operation"] == "mine"
    assert infos[0]["fields.event"] == "mine"
    assert infos[1]["a"] == 1
    assert infos[2]["b"] == 2
    assert infos[4]["fields"] == ("not", "a", "mapping")


def test_500_fields_cannot_evict_the_required_fields(captured: Capture) -> None:
    fields = {f"f{i}": i for i in range(500)}
    op = opslog.new_operation_logger("j").start_operation("op")
    op.log_step("s", "many", fields)
    op.end_operation()
    event = captured.events_named("step_info")[0]
    assert event["opslog.fields_dropped"] == 500 - 64
    assert event["f0"] == 0
    assert "f499" not in event.fields
    span_event = next(e for e in captured.span("op").events if e.name == "step_info")
    record = next(r for r in captured.log_records if r.log_record.event_name == "step_info")
    for attrs in (span_event.attributes, record.log_record.attributes, event.fields):
        for key in ("correlation_id", "job_id", "operation", "step", "event"):
            assert isinstance(attrs[key], str)
        assert attrs["step"] == "s"


def test_required_fields_survive_a_tiny_sdk_attribute_limit() -> None:
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_event_attributes=8))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    opslog.configure(tracer_provider=provider, log_records=False, stdlib_logging=False)
    op = opslog.new_operation_logger("j").start_operation("op")
    op.log_step("s", "m", {f"f{i}": i for i in range(50)})
    op.end_operation()
    (span,) = exporter.get_finished_spans()
    event = next(e for e in span.events if e.name == "step_info")
    assert event.attributes["event"] == "step_info"
    assert event.attributes["step"] == "s"
    assert event.attributes["correlation_id"] == op.correlation_id
    assert event.attributes["job_id"] == "j"
    assert event.attributes["operation"] == "op"


def test_untrusted_names_are_coerced(captured: Capture) -> None:
    op = opslog.new_operation_logger(12345).start_operation(None)  # type: ignore[arg-type]
    op.start_step(Opaque()).end_step(None)  # type: ignore[arg-type]
    op.log_step(object(), b"bytes message")  # type: ignore[arg-type]
    op.end_operation(3.5)  # type: ignore[arg-type]
    for event in captured.events:
        for key in ("correlation_id", "job_id", "operation", "step", "event"):
            assert isinstance(event[key], str)
    assert captured.events[0]["job_id"] == "12345"
    assert captured.last("operation_end")["status"] == "3.5"
    assert captured.last("step_end")["status"] == "completed"


# -- the fast path for plain dicts --------------------------------------------------------
_VALUE_TEXT = st.text(
    alphabet="=:-_./@ abeyJAKISz0189\t\x00\u00e9\u2028", max_size=40
) | st.sampled_from(["eyJhbGciOi.eyJzdWIi.c2ln", "AKIAABCDEFGHIJKLMNOP", "a-----b", "x" * 5000])
_SCALARS = (
    _VALUE_TEXT
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.booleans()
)
_LIST_TEXT = _VALUE_TEXT | st.sampled_from(["--password", "-p", "hunter2", "--token=x"])
_SEQUENCES = st.one_of(
    st.lists(_LIST_TEXT, max_size=5),
    st.lists(st.integers(min_value=-(2**70), max_value=2**70), max_size=5),
    st.lists(st.floats(allow_nan=False), max_size=5),
    st.lists(st.booleans(), max_size=5),
    st.lists(_SCALARS, max_size=5),  # mixed types: the full rule makes JSON of them
    st.lists(st.lists(st.integers(), max_size=2), max_size=2),
).flatmap(lambda items: st.sampled_from([items, tuple(items)]))
_KEYS = st.sampled_from(["vm_id", "path", "password", "step", "event", "x", "api_key", "n"])
#: Names that are not identifiers: kept as text by the full rule (redacted, cut).
_TEXT_KEYS = st.sampled_from(
    [
        "vm-id",
        "vm.host",
        "app.kubernetes.io/name",
        "pass-word",
        "a b",
        "k=v",
        "x:y",
        "é-n",
        "k" * 70,
        "url https://u:hunter2@h",
    ]
)
_NESTED = st.dictionaries(
    _KEYS | st.sampled_from(["host", "a.b", "", "ok key"]),
    _SCALARS | _SEQUENCES | st.dictionaries(_KEYS, _SCALARS, max_size=2),
    max_size=4,
)
_PLAIN_DICTS = st.dictionaries(_KEYS | _TEXT_KEYS, _SCALARS | _SEQUENCES | _NESTED, max_size=6)


@given(_PLAIN_DICTS)
@example({"x": ["mysql", "--password", "hunter2"]})  # a command line: its secret redacted
@example({"n": (1, 2**64)})  # beyond 64 bits: the full rule makes JSON text of it
@example({"x": ["a" * 40, "b" * 40]})  # within max_value_length each, not together
@example({"vm": {"host": "h", "password": "hunter2"}})  # a sensitive nested key
@example({"vm": {}, "n": 1})  # an empty nested dict: the full rule writes "{}"
@example({"vm": {"n": 2**64}})  # a nested number beyond 64 bits: text
@example({"vm.host": "a", "vm": {"host": "b"}})  # the same name twice once flat: numbered
@example({"pass-word": "hunter2"})  # a sensitive name that is not an identifier
@example({"k" * 70: 1})  # a name over max_value_length: cut like a value
@example({"url https://u:hunter2@h": 1})  # a secret in a name: redacted
@example({f"k{i}": {"a": 1, "b": 2} for i in range(3)})  # more than max_fields once flat
@settings(max_examples=1500, deadline=None)
def test_the_fast_path_for_plain_dicts_gives_what_the_full_rule_gives(
    fields: dict[str, object],
) -> None:
    """``plain_fields`` checks all string values with one gate over them
    joined; whenever it answers, the answer is the full rule's, secrets
    redacted and long values cut the same way."""
    # Its own (empty) store of known secret values: with one remembered, the
    # gate always says "look closer" and the fast path would not be tested.
    coercer = FieldCoercer(
        Redactor(known=KnownSecrets()),
        FieldLimits(max_value_length=64, max_items=4, max_fields=5),
    )
    fast = coercer.plain_fields(fields)
    out: dict[str, object] = {}
    coercer._mapping("", fields, out, _Budget(5), 0, set())  # the full rule
    if fast is not None:
        assert fast == out
        assert fast is not fields


@pytest.mark.parametrize("learned_before", [False, True])
@pytest.mark.parametrize(
    "shape",
    [
        lambda k: {k: 1},
        lambda k: {"nested": {k: 2}},
        lambda k: {"deeper": {"nested": {k: 3}}},
        lambda k: {f"user-{k}": 4},
        lambda k: {k: {"x": 5}},
    ],
    ids=["top", "nested", "deeper", "inside a name", "holding a mapping"],
)
def test_a_known_secret_or_a_token_used_as_a_key_is_hidden(
    shape: Callable[[str], dict[str, object]], learned_before: bool
) -> None:
    """A value remembered as secret, or a credential token, used as a field name:
    hidden on every path, also when the same name was seen (and learned plain) before."""
    secret = "Zx9Qw7Er5Ty3Kp"
    token = "ghp_" + "a1" * 18
    with capture_events() as captured:
        op = opslog.new_operation_logger("j").start_operation("o")
        if learned_before:
            op.log_step("s", "before", shape(secret))
        op.log_step("s", "configured", {"password": secret})
        op.log_step("s", "as a key", shape(secret))
        op.log_step("s", "token as a key", shape(token))
        op.end_operation()
    for event in captured.events[-3:-1]:
        names = " ".join(event.fields)
        assert secret not in names and token not in names, names
