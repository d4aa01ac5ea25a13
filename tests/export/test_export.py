"""OTLP export to a real receiver over gRPC and HTTP/protobuf, and collector outages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Status

import opslog
from opslog.export.config import SignalConfig
from opslog.export.pipeline import PIPELINE, _reachability

from ..conftest import CANARY
from ..otlp_receiver import BlackHole, OtlpReceiver, attributes_of, free_port

PROTOCOLS = ["http/protobuf", "grpc"]
SERVICE = "opslog-test"  # providers are created once per process: one name for all tests
REQUIRED = ("correlation_id", "job_id", "operation", "step", "event")


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver().start_grpc().start_http()
    yield r
    r.stop()


def export_to(endpoint: str, protocol: str, **options: object) -> None:
    opslog.configure(
        service_name=SERVICE,
        endpoint=endpoint,
        protocol=protocol,
        timeout=options.pop("timeout", 2.0),  # type: ignore[arg-type]
        schedule_delay=0.05,
        console=False,
        **options,  # type: ignore[arg-type]
    )


def run_job() -> tuple[str, opslog.OperationContext]:
    logger = opslog.new_operation_logger("job-42")
    op = logger.start_operation("enhanced-test-failover")
    op.log_step("initialization", f"start password={CANARY}", {"vm_id": "vm-1", "token": CANARY})
    step = op.start_step("virtio-injection")
    step.info("injecting", {"drivers": ["viostor", "netkvm"]})
    try:
        raise ConnectionError(f"auth failed: api_key={CANARY}")
    except ConnectionError as exc:
        step.error("injection failed", exc, {"device_path": "/dev/vdc"})
    step.end_step("failed")
    child = op.create_child_context("linstor-snapshot-creation")
    child.end_operation("completed")
    op.end_operation("failed", {"failure_step": "virtio-injection"})
    return logger.correlation_id, op


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_spans_and_log_records_arrive_decoded(receiver: OtlpReceiver, protocol: str) -> None:
    export_to(receiver.endpoint(protocol), protocol)
    correlation_id, _op = run_job()
    assert opslog.shutdown(timeout=10)

    spans = {span.name: (resource, span) for resource, span in receiver.spans()}
    assert set(spans) == {"enhanced-test-failover", "virtio-injection", "linstor-snapshot-creation"}
    for resource, span in spans.values():
        assert resource["service.name"] == SERVICE
        assert span.trace_id.hex() == correlation_id
    root = spans["enhanced-test-failover"][1]
    step = spans["virtio-injection"][1]
    child = spans["linstor-snapshot-creation"][1]
    assert root.parent_span_id == b""
    assert step.parent_span_id == root.span_id
    assert child.parent_span_id == root.span_id
    assert step.status.code == Status.STATUS_CODE_ERROR
    assert "auth failed" in step.status.message
    assert attributes_of(step.attributes)["opslog.status"] == "failed"
    event_names = [e.name for e in step.events]
    assert event_names == ["step_start", "step_info", "step_error", "exception", "step_end"]
    error_event = attributes_of(step.events[2].attributes)
    assert error_event["error_type"] == "ConnectionError"
    assert error_event["retry_possible"] is True
    assert error_event["device_path"] == "/dev/vdc"
    assert attributes_of(step.events[1].attributes)["drivers"] == ("viostor", "netkvm")
    for _, span in spans.values():
        for event in span.events:
            if event.name != "exception":
                attrs = attributes_of(event.attributes)
                assert all(isinstance(attrs[k], str) for k in REQUIRED)

    records = receiver.log_records()
    names = [record.event_name for _, record in records]
    assert names.count("step_error") == 1
    assert names[0] == "operation_start"
    assert len(records) == 9
    span_ids = {span.span_id for _, span in spans.values()}
    for resource, record in records:
        assert resource["service.name"] == SERVICE
        assert record.trace_id.hex() == correlation_id
        assert record.span_id in span_ids
        attrs = attributes_of(record.attributes)
        assert all(isinstance(attrs[k], str) for k in REQUIRED)
        assert attrs["event"] == record.event_name
    error_record = next(r for _, r in records if r.event_name == "step_error")
    assert error_record.severity_text == "ERROR"
    assert error_record.severity_number == 17
    assert error_record.span_id == step.span_id
    assert error_record.body.string_value == "injection failed"
    assert "exception.stacktrace" in attributes_of(error_record.attributes)
    assert CANARY.encode() not in receiver.raw_bytes()
    assert b"[REDACTED]" in receiver.raw_bytes()
    stats = opslog.export_stats()
    assert stats["spans"]["exported"] == 3
    assert stats["log_records"]["exported"] == 9


def test_gzip_and_headers_reach_the_collector(receiver: OtlpReceiver) -> None:
    export_to(
        receiver.endpoint("http/protobuf"),
        "http/protobuf",
        compression="gzip",
        headers={"x-tenant": "ops"},
    )
    run_job()
    assert opslog.shutdown(timeout=10)
    assert len(receiver.spans()) == 3
    assert all(h.get("x-tenant") == "ops" for h in receiver.received.headers)
    assert all(h.get("content-encoding") == "gzip" for h in receiver.received.headers)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_collector_down_at_start_then_started(protocol: str) -> None:
    port = free_port()
    export_to(f"http://127.0.0.1:{port}", protocol, timeout=1.0)
    before = opslog.export_stats()["spans"]
    op = opslog.new_operation_logger("j").start_operation("while-down")
    op.end_operation()
    time.sleep(2.0)  # past the schedule delay: the worker found nobody there
    stats = opslog.export_stats()["spans"]
    # Held in the queue (counted as pending), nothing encoded or sent, nothing lost.
    assert stats["pending"] == 1
    assert (stats["exported"], stats["failed"], stats["dropped"]) == (
        before["exported"],
        before["failed"],
        before["dropped"],
    )
    receiver = OtlpReceiver(port=port)
    receiver.start_grpc() if protocol == "grpc" else receiver.start_http()
    try:
        # A service keeps working: an operation every 0.2 s until one arrives.
        arrived = False
        for _ in range(100):
            opslog.new_operation_logger("j").start_operation("after-start").end_operation()
            if receiver.wait_until(lambda: len(receiver.spans()) > 0, timeout=0.2):
                arrived = True
                break
        assert arrived
        # The span held while the collector was down arrives too.
        assert receiver.wait_until(lambda: len(receiver.spans()) >= 2, timeout=10)
        assert {s.name for _, s in receiver.spans()} == {"while-down", "after-start"}
    finally:
        opslog.shutdown(timeout=5)
        receiver.stop()
    assert "export_unreachable" in opslog.diagnostics()  # the outage was said


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_collector_stopped_mid_run(receiver: OtlpReceiver, protocol: str) -> None:
    export_to(receiver.endpoint(protocol), protocol, timeout=1.0)
    first = opslog.new_operation_logger("j").start_operation("before-stop")
    first.end_operation()
    assert receiver.wait_until(lambda: len(receiver.spans()) == 1)
    receiver.stop()
    started = time.monotonic()
    op = opslog.new_operation_logger("j").start_operation("after-stop")
    for i in range(200):
        op.log_step("poll", "still working", {"i": i})
    op.end_operation()
    calls = time.monotonic() - started
    assert calls < 5.0  # nothing waited for the dead collector (an export times out at 1 s)
    opslog.shutdown(timeout=3)
    stats = opslog.export_stats()
    lost = stats["spans"]["failed"] + stats["spans"]["dropped"]
    assert lost >= 1
    assert [s.name for _, s in receiver.spans()] == ["before-stop"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_black_holed_collector_never_stalls_the_caller(protocol: str) -> None:
    hole = BlackHole()
    try:
        export_to(hole.endpoint, protocol, timeout=30.0, max_queue_size=50)
        started = time.monotonic()
        for n in range(20):
            op = opslog.new_operation_logger("j").start_operation(f"op-{n}")
            for i in range(10):
                op.log_step("s", "m", {"i": i})
            op.end_operation()
        calls = time.monotonic() - started
        assert calls < 10.0  # an export blocks for 30 s; the caller never did
        shutdown_started = time.monotonic()
        delivered = opslog.shutdown(timeout=1.0)
        shutdown_took = time.monotonic() - shutdown_started
        assert delivered is False
        assert shutdown_took < 6.0  # the 1 s deadline held, not the 30 s export timeout
        stats = opslog.export_stats()
        # 240 log records into a queue of 50, nothing delivered: all counted as lost
        assert stats["log_records"]["dropped"] + stats["log_records"]["failed"] >= 190
        assert stats["log_records"]["exported"] == 0
    finally:
        hole.stop()


def test_reconfiguring_is_idempotent(receiver: OtlpReceiver) -> None:
    export_to(receiver.endpoint("http/protobuf"), "http/protobuf")
    processors = (PIPELINE.span_switch.inner, PIPELINE.log_switch.inner)
    handlers = list(PIPELINE.handlers)
    export_to(receiver.endpoint("http/protobuf"), "http/protobuf")
    assert (PIPELINE.span_switch.inner, PIPELINE.log_switch.inner) == processors
    assert PIPELINE.handlers == handlers
    opslog.configure(level="debug")  # an event option does not touch the export
    assert PIPELINE.span_switch.inner is processors[0]
    export_to(receiver.endpoint("grpc"), "grpc")  # a new endpoint swaps the exporter
    assert PIPELINE.span_switch.inner is not processors[0]
    opslog.new_operation_logger("j").start_operation("over-grpc").end_operation()
    assert opslog.shutdown(timeout=5)
    assert [s.name for _, s in receiver.spans()] == ["over-grpc"]


def _exit_run(endpoint: str, protocol: str) -> tuple[int, float, str]:
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        f"""
        import opslog
        opslog.configure(service_name="{SERVICE}", endpoint="{endpoint}", protocol="{protocol}",
                         timeout=30.0, console=False, exit_timeout=1.0)
        op = opslog.new_operation_logger("j").start_operation("left-open-at-exit")
        op.log_step("s", "the process ends without calling shutdown()")
        """
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    return result.returncode, time.monotonic() - started, result.stderr


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_process_exit_ends_open_operations_and_flushes(
    receiver: OtlpReceiver, protocol: str
) -> None:
    code, _, stderr = _exit_run(receiver.endpoint(protocol), protocol)
    assert code == 0, stderr
    assert receiver.wait_until(lambda: len(receiver.spans()) == 1)
    _, span = receiver.spans()[0]
    assert span.name == "left-open-at-exit"
    assert attributes_of(span.attributes)["opslog.status"] == "abandoned"
    assert receiver.wait_until(
        lambda: (
            [r.event_name for _, r in receiver.log_records()]
            == ["operation_start", "step_info", "operation_end"]
        )
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_process_exit_is_bounded_with_a_black_holed_collector(protocol: str) -> None:
    hole = BlackHole()
    try:
        code, took, stderr = _exit_run(hole.endpoint, protocol)
    finally:
        hole.stop()
    assert code == 0, stderr
    # exit_timeout is 1 s and an export would block for 30 s; interpreter start-up and
    # imports take the rest.
    assert took < 15.0


# -- is the endpoint there at all? -------------------------------------------------------
def _signal(endpoint: str, protocol: str = "http/protobuf") -> SignalConfig:
    return SignalConfig(endpoint, protocol, (), "none", 2.0)


def test_the_reachability_check_tells_a_closed_port_from_a_listening_one(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "grpc_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    up = _reachability(_signal(f"http://127.0.0.1:{receiver.http_port}/v1/traces"))
    down = _reachability(_signal(f"http://127.0.0.1:{free_port()}/v1/traces"))
    grpc_up = _reachability(_signal(f"http://127.0.0.1:{receiver.grpc_port}", "grpc"))
    assert up is not None and down is not None and grpc_up is not None
    assert up() and grpc_up() and not down()


def test_no_reachability_check_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a proxy a direct connect says nothing: the exporter always tries."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    assert _reachability(_signal("https://collector.example:4318/v1/traces")) is None
    monkeypatch.setenv("NO_PROXY", "collector.example")
    monkeypatch.setenv("no_proxy", "collector.example")
    assert _reachability(_signal("https://collector.example:4318/v1/traces")) is not None


def _spans_over_grpc(receiver: OtlpReceiver, **settings: Any) -> None:
    """Spans only, to ``receiver`` over gRPC (its server refuses messages over
    4 MiB, as the Collector's does by default: max_recv_msg_size_mib)."""
    opslog.configure(
        service_name=SERVICE,
        endpoint=receiver.endpoint("grpc"),
        protocol="grpc",
        console=False,
        log_records=False,
        **settings,
    )


def test_a_step_too_large_for_one_request_arrives_without_its_bulkiest_events() -> None:
    """A step that logs 130 events of 10 fields of 4,000 characters makes a
    span of ~5 MB, over the gRPC receiver's 4 MiB: it arrives without the
    fewest of its largest events (marked), and so does everything around it
    (before, this span was refused, retried, and the rest of its batch
    failed with it: the operation's own span was lost)."""
    receiver = OtlpReceiver().start_grpc()
    try:
        _spans_over_grpc(receiver)
        op = opslog.new_operation_logger("j").start_operation("dump")
        for n in range(5):
            with op.start_step(f"before-{n}") as step:
                step.info("ok")
        with op.start_step("collect-diagnostics") as step:
            for n in range(130):
                step.info("dump", {f"k{i}": f"{n:03d}{i}" + "x" * 3996 for i in range(10)})
            with step.start_step("inner") as inner:
                inner.info("child")
            step.error("collection failed", "disk full")
            step.end_step("failed")
        for n in range(5):
            with op.start_step(f"after-{n}") as step:
                step.info("ok")
        op.end_operation()
        started = time.monotonic()
        assert opslog.shutdown(timeout=20)
        assert time.monotonic() - started < 5  # nothing refused, nothing retried
        stats = opslog.export_stats()["spans"]
        assert (stats["exported"], stats["failed"], stats["dropped"]) == (13, 0, 0)
        spans = {span.name: span for _, span in receiver.spans()}
        assert set(spans) == {"dump", "collect-diagnostics", "inner"} | {
            f"{when}-{n}" for when in ("before", "after") for n in range(5)
        }
        bulky = spans["collect-diagnostics"]
        trimmed = attributes_of(bulky.attributes)["opslog.span_events_trimmed"]
        assert 0 < trimmed < 128
        assert len(bulky.events) == 128 - trimmed
        assert [event.name for event in bulky.events[-2:]] == ["step_error", "step_end"]
        assert bulky.status.code == Status.STATUS_CODE_ERROR
        largest = max(len(r.SerializeToString()) for r in receiver.received.trace_requests)
        assert largest <= 4_000_000
    finally:
        receiver.stop()


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_event_too_large_for_one_request_still_arrives_as_a_log_record(
    protocol: str,
) -> None:
    """With ``max_export_bytes`` at its lowest, one event of 20 fields of
    4,000 two-byte characters (~160 kB) fits no request: its span goes
    without it (marked), and its log record arrives with its values cut
    alike (marked), its required fields whole. Before, the record was not
    sent and the event reached the collector nowhere."""
    receiver = OtlpReceiver()
    receiver = receiver.start_grpc() if protocol == "grpc" else receiver.start_http()
    try:
        opslog.configure(
            service_name=SERVICE,
            endpoint=receiver.endpoint("grpc" if protocol == "grpc" else "http"),
            protocol=protocol,
            console=False,
            max_export_bytes=65_536,
        )
        op = opslog.new_operation_logger("job-9").start_operation("collect")
        with op.start_step("dump") as step:
            step.info("before")
            step.info("bulky", {f"k{i}": "é" * 4_000 for i in range(20)})
            step.info("after")
        op.end_operation()
        assert opslog.shutdown(timeout=20)
        stats = opslog.export_stats()["log_records"]
        assert (stats["exported"], stats["failed"], stats["dropped"]) == (7, 0, 0)
        records = [attributes_of(record.attributes) for _, record in receiver.log_records()]
        (bulky,) = [r for r in records if r.get("message") == "bulky"]
        assert bulky["opslog.values_trimmed"] == 20
        assert all(bulky[f"k{i}"].endswith(" chars]") for i in range(20))
        assert (bulky["job_id"], bulky["operation"], bulky["step"]) == ("job-9", "collect", "dump")
        assert bulky["correlation_id"] == op.correlation_id
        (span,) = [span for _, span in receiver.spans() if span.name == "dump"]
        assert attributes_of(span.attributes)["opslog.span_events_trimmed"] == 1
        assert [event.name for event in span.events] == [
            "step_start",
            "step_info",
            "step_info",
            "step_end",
        ]
        largest = max(len(r.SerializeToString()) for r in receiver.received.log_requests)
        assert largest <= 65_536
    finally:
        receiver.stop()


def test_an_instrumented_span_with_a_statement_over_the_grpc_limit_arrives_cut() -> None:
    """Instrumentation puts the whole statement on its span (the SDK sets no
    length limit by default): a 5 MB one is over the receiver's 4 MiB. It
    arrives with the statement cut (marked), its events and the opslog step
    under it too; before, it was refused and not sent."""
    from opentelemetry import trace

    receiver = OtlpReceiver().start_grpc()
    try:
        _spans_over_grpc(receiver)
        statement = "INSERT INTO blocks VALUES " + "(1, 'aGVsbG8='), " * 300_000
        op = opslog.new_operation_logger("j").start_operation("restore")
        tracer = trace.get_tracer("sqlalchemy")
        attributes = {"db.statement": statement}
        with (
            op.start_step("write-blocks"),
            tracer.start_as_current_span("INSERT blocks", attributes=attributes) as db_span,
        ):
            db_span.add_event("retry", {"n": 1})
        op.end_operation()
        assert opslog.shutdown(timeout=20)
        stats = opslog.export_stats()["spans"]
        assert (stats["exported"], stats["failed"], stats["dropped"]) == (3, 0, 0)
        spans = {span.name: span for _, span in receiver.spans()}
        sent = spans["INSERT blocks"]
        arrived = attributes_of(sent.attributes)
        assert arrived["opslog.values_trimmed"] == 1
        assert statement.startswith(arrived["db.statement"].split("…[truncated ")[0])
        assert [event.name for event in sent.events] == ["retry"]
        assert sent.parent_span_id == spans["write-blocks"].span_id
    finally:
        receiver.stop()


def test_batches_larger_than_the_collectors_grpc_limit_still_arrive() -> None:
    """The receiver's gRPC server refuses messages over 4 MiB, as the
    Collector's does by default (max_recv_msg_size_mib): a full batch of
    2048 steps with 10 events each (~8 MB encoded) goes in parts, and every
    span arrives."""
    receiver = OtlpReceiver().start_grpc()
    try:
        _spans_over_grpc(receiver, schedule_delay=30)  # only full batches (and the last)
        op = opslog.new_operation_logger("j").start_operation("bulk-copy")
        for n in range(2100):
            step = op.start_step(f"chunk-{n}")
            for i in range(10):
                step.info("copied", {"offset": i * 4096, "device_path": f"/dev/vd{n}-{i}"})
            step.end_step()
        op.end_operation()
        assert opslog.shutdown(timeout=20)
        stats = opslog.export_stats()["spans"]
        assert (stats["exported"], stats["failed"], stats["dropped"]) == (2101, 0, 0)
        assert len(receiver.spans()) == 2101
        largest = max(len(r.SerializeToString()) for r in receiver.received.trace_requests)
        assert (
            largest
            <= 4_000_000
            < sum(len(r.SerializeToString()) for r in receiver.received.trace_requests)
        )
    finally:
        receiver.stop()
