"""Property-based: arbitrary fields and messages never break a call or leak a secret."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opslog
from opslog.testing import capture_events

from .conftest import CANARY, all_output

REQUIRED = ("correlation_id", "job_id", "operation", "step", "event")
SENSITIVE_KEYS = ["password", "API_KEY", "session_token", "Authorization", "db.secret"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(max_size=50),
    st.datetimes(),
    st.dates(),
    st.timedeltas(),
    st.decimals(allow_nan=True),
    st.uuids(),
    st.builds(object),
    st.builds(ValueError, st.text(max_size=20)),
)
keys = st.one_of(
    st.text(max_size=20), st.integers(), st.none(), st.booleans(), st.tuples(st.integers())
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.tuples(children, children),
        st.frozensets(st.integers(), max_size=4),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=25,
)


@st.composite
def fields_with_canary(draw: st.DrawFn) -> dict[Any, Any]:
    """Arbitrary fields with the canary planted under a sensitive key somewhere."""
    fields = draw(st.dictionaries(keys, values, max_size=8))
    key = draw(st.sampled_from(SENSITIVE_KEYS))
    plant = draw(st.sampled_from(["top", "nested", "list"]))
    if plant == "top":
        fields[key] = CANARY
    elif plant == "nested":
        fields["outer"] = {"inner": {key: CANARY}, "other": draw(values)}
    else:
        fields["items"] = [draw(values), {key: CANARY}]
    return fields


messages = st.one_of(
    st.text(),
    st.builds(lambda t: f"{t} password={CANARY} {t}", st.text(max_size=10)),
    st.builds(lambda t: f"Authorization: Bearer {CANARY}{t}", st.text(max_size=10)),
    st.just(None),
    st.integers(),
)
errors = st.one_of(
    st.none(),
    st.text(),
    st.builds(lambda t: RuntimeError(f"{t} token={CANARY}"), st.text(max_size=10)),
    st.builds(lambda t: OSError(t), st.text(max_size=10)),
    st.builds(object),
)
starts = st.one_of(
    st.floats(allow_nan=True),
    st.integers(),
    st.datetimes(),
    st.timedeltas(),
    st.text(max_size=5),
    st.none(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=fields_with_canary(),
    message=messages,
    err=errors,
    start=starts,
    status=st.one_of(st.text(max_size=10), st.none()),
    step_name=st.one_of(st.text(max_size=10), st.integers()),
)
def test_every_call_survives_arbitrary_input(
    fields: dict[Any, Any], message: Any, err: Any, start: Any, status: Any, step_name: Any
) -> None:
    snapshot = repr(fields)
    with capture_events(level="debug") as captured:
        logger = opslog.new_operation_logger_with_correlation(message, message)
        op = logger.start_operation(step_name, message)
        op.log_step(step_name, message, fields)
        op.log_debug(step_name, message, fields)
        op.log_warning(step_name, message, fields)
        op.log_error(step_name, message, err, fields)
        op.log_success(step_name, message, fields)
        op.log_duration(step_name, start)
        step = op.start_step(step_name)
        step.debug(message, fields)
        step.info(message, fields)
        step.warn(message, fields)
        step.error(message, err, fields)
        step.success(message, fields)
        step.log_duration(start)
        child = op.create_child_context(message)
        child.log_step(step_name, message, fields)
        step.end_step(status, fields)
        step.end_step(status, fields)  # double end
        step.info(message, fields)  # after end
        op.end_operation(status, fields)
        child.end_operation(status, fields)  # already abandoned
    assert repr(fields) == snapshot  # never mutated
    events = captured.events
    assert len(events) >= 20
    for event in events:
        for key in REQUIRED:
            assert isinstance(event.fields[key], str), (key, event.fields)
    for span in captured.spans:
        for span_event in span.events:  # the exception events too
            for key in REQUIRED:
                assert isinstance(span_event.attributes[key], str)
    for record in captured.log_records:
        for key in REQUIRED:
            assert isinstance(record.log_record.attributes[key], str)
    assert CANARY not in all_output(captured)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(keys, values, max_size=10))
def test_events_encode_as_otlp(fields: dict[Any, Any]) -> None:
    """Whatever the input, spans and log records encode into OTLP protobuf."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    with capture_events() as captured:
        op = opslog.new_operation_logger("j").start_operation("op")
        op.log_step("s", "m", fields)
        op.end_operation()
    spans = encode_spans(captured.spans).SerializeToString()
    logs = encode_logs(captured.log_records).SerializeToString()
    assert b"step_info" in spans and b"step_info" in logs


def test_known_tricky_values() -> None:
    tricky = {
        "nan": float("nan"),
        "dec": decimal.Decimal("NaN"),
        "aware": datetime.datetime.now(datetime.timezone.utc),
        "uuid": uuid.uuid4(),
        "surrogate": "\udc80",
    }
    with capture_events() as captured:
        op = opslog.new_operation_logger("j").start_operation("op")
        op.log_step("s", "m", tricky)
        op.end_operation()
    assert captured.last("step_info")["surrogate"] == "?"


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(keys, values, max_size=10), st.text(max_size=30))
def test_ready_span_events_equal_the_sdks_own_for_any_fields(
    fields: dict[Any, Any], message: str
) -> None:
    """The attributes opslog builds need no SDK validation: added as a ready
    event, they give exactly the event the SDK's own add_event gives."""
    from opentelemetry.sdk.trace import TracerProvider

    from opslog._config import get_settings
    from opslog.channels.emit import build_attributes
    from opslog.otel import internals

    tracer = TracerProvider().get_tracer("t")
    with capture_events():
        op = opslog.new_operation_logger("j").start_operation("op")
        attributes = build_attributes(
            get_settings(), op, "step_info", "s", message, fields, None, None
        )
        op.end_operation()
    ready_span, public_span = tracer.start_span("ready"), tracer.start_span("public")
    internals.span_event_adder(ready_span)("step_info", attributes, 1)
    public_span.add_event("step_info", attributes, 1)
    (ready,), (public,) = ready_span.events, public_span.events
    assert type(ready.attributes) is not type(public.attributes)  # two paths were taken
    assert dict(ready.attributes) == dict(public.attributes)
    assert list(ready.attributes) == list(public.attributes)  # same order
    assert ready.dropped_attributes == public.dropped_attributes == 0
