"""Two real processes over HTTP on 127.0.0.1: the engine and the volume daemon, one trace."""

from __future__ import annotations

import pytest

from ..helpers import run_opslog
from ..otlp_receiver import OtlpReceiver, attributes_of


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_two_service_demo_is_one_trace(protocol: str) -> None:
    receiver = OtlpReceiver().start_http().start_grpc()
    try:
        result = run_opslog(
            "demo",
            "--services",
            "--endpoint",
            receiver.endpoint(protocol),
            "--protocol",
            protocol,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        cid = next(
            line for line in result.stdout.splitlines() if line.startswith("correlation id")
        ).split(": ")[-1]
        assert receiver.wait_until(
            lambda: (
                {r["service.name"] for r, _ in receiver.spans()}
                >= {"failover-engine", "volume-daemon"}
            )
        )
        assert receiver.wait_until(
            lambda: (
                len([s for r, s in receiver.spans() if r["service.name"] == "volume-daemon"]) == 4
            )
        )
    finally:
        receiver.stop()

    spans = receiver.spans()
    by_id = {span.span_id: (resource["service.name"], span) for resource, span in spans}
    assert {span.trace_id.hex() for _, span in spans} == {cid}  # one trace
    # The closing line counts both services' spans.
    exported = next(line for line in result.stdout.splitlines() if line.startswith("exported to"))
    assert f"(both services): {len(spans)} spans, 0 not delivered" in exported
    roots = [s for _, s in by_id.values() if not s.parent_span_id]
    assert [s.name for s in roots] == ["enhanced-test-failover"]
    for _, span in by_id.values():  # no orphan
        assert not span.parent_span_id or span.parent_span_id in by_id, span.name

    daemon = [s for service, s in by_id.values() if service == "volume-daemon"]
    daemon_ops = [s for s in daemon if s.kind != s.SPAN_KIND_SERVER]
    assert sorted(s.name for s in daemon_ops) == ["volume-attach", "volume-detach"]
    for op in daemon_ops:
        # The daemon's middleware: one SERVER span per request, the operation under it...
        server_service, server = by_id[op.parent_span_id]
        assert server_service == "volume-daemon" and server.kind == server.SPAN_KIND_SERVER
        # ...in turn under the engine's client-side span, under the engine's step.
        parent_service, parent = by_id[server.parent_span_id]
        assert parent_service == "failover-engine"
        assert parent.kind == parent.SPAN_KIND_CLIENT
        assert parent.name == "POST"
        _, step = by_id[parent.parent_span_id]
        assert step.name in ("volume-attachment", "cleanup")

    engine_job = {
        attributes_of(r.attributes)["job_id"]
        for res, r in receiver.log_records()
        if res["service.name"] == "failover-engine"
    }
    daemon_records = [
        attributes_of(r.attributes)
        for res, r in receiver.log_records()
        if res["service.name"] == "volume-daemon"
    ]
    assert len(engine_job) == 1
    assert daemon_records
    for record in daemon_records:
        assert record["correlation_id"] == cid
        assert {record["job_id"]} == engine_job
