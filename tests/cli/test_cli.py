"""The demo command, the project's main job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import opslog
from opslog.cli import main
from opslog.cli.demo import STEPS, FailoverError, run_failover
from opslog.testing import capture_events

from ..helpers import run_opslog


def test_demo_command_prints_events_and_the_correlation_id(tmp_path: Path) -> None:
    result = run_opslog("demo", timeout=60, env={"TMPDIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "operation enhanced-test-failover started" in lines[0]
    assert any("WARN" in line and "virtio-injection" in line for line in lines)
    assert "demo-secret-key-do-not-print" not in result.stdout
    cid = next(line for line in lines if line.startswith("correlation id")).split(": ")[-1]
    assert opslog.parse_correlation_id(cid) is not None
    assert "\x1b[" not in result.stdout  # no colour when not a TTY
    assert list(tmp_path.iterdir()) == []  # no file written unless asked for
    assert not any(line.startswith("JSON log:") for line in lines)


def test_demo_writes_json_lines_where_asked(tmp_path: Path) -> None:
    path = tmp_path / "demo.jsonl"
    result = run_opslog("demo", "--json", str(path), timeout=60)
    assert result.returncode == 0, result.stderr
    cid = next(
        line for line in result.stdout.splitlines() if line.startswith("correlation id")
    ).split(": ")[-1]
    documents = [json.loads(line) for line in path.read_text().splitlines()]
    assert documents[0]["event"] == "operation_start"
    assert {d["correlation_id"] for d in documents} == {cid}
    assert result.stdout.splitlines()[-1] == f"JSON log: {path}"


def test_version() -> None:
    result = run_opslog("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"opslog {opslog.__version__}"


def test_demo_failure_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    assert main(["demo", "--fail-at", "vm-creation", "--json", str(path)]) == 1
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert events[-1]["event"] == "operation_end"
    assert events[-1]["status"] == "failed"
    assert events[-1]["level"] == "ERROR"


def test_demo_rejects_a_malformed_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--endpoint", "collector:4318"]) == 2
    assert "needs an http:// (plaintext) or https:// (TLS) scheme" in capsys.readouterr().err


def test_demo_job_shape() -> None:
    with capture_events() as captured:
        cid = run_failover()
    root = captured.span("enhanced-test-failover")
    assert root.context.trace_id == int(cid, 16)
    for name in STEPS:
        assert captured.span(name).parent.span_id == root.context.span_id
    snapshot = captured.span("linstor-snapshot-creation")
    assert snapshot.attributes["parent_operation"] == "enhanced-test-failover"
    # The child operation, the sub-steps and the retry's attempts nest under their steps.
    assert snapshot.parent.span_id == captured.span("linstor-snapshot").context.span_id
    for name in ("inject-viostor", "inject-netkvm"):
        assert (
            captured.span(name).parent.span_id == captured.span("virtio-injection").context.span_id
        )
    attempts = [s for s in captured.spans if "attempt" in s.name]
    assert [s.attributes["opslog.status"] for s in attempts] == ["retrying", "completed"]
    vm_creation = captured.span("vm-creation").context.span_id
    assert all(s.parent.span_id == vm_creation for s in attempts)
    assert captured.last("operation_end")["status"] == "completed"


def test_demo_failure_ends_failed() -> None:
    with capture_events() as captured:
        try:
            run_failover(fail_at="virtio-injection")
        except FailoverError:
            pass
    end = captured.last("operation_end")
    assert end["status"] == "failed"
    assert end["failure_step"] == "virtio-injection"
    assert end.level == "ERROR"


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_demo_exports_to_a_collector_and_prints_the_trace_id(protocol: str) -> None:
    from ..otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver().start_http().start_grpc()
    try:
        result = run_opslog(
            "demo",
            "--endpoint",
            receiver.endpoint(protocol),
            "--protocol",
            protocol,
            "--wait",
            "5",
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        cid = next(line for line in lines if line.startswith("correlation id")).split(": ")[-1]
        assert lines[-1] == f"look it up in Jaeger: http://localhost:16686/trace/{cid}"
        assert " 0 not delivered" in lines[-2]
        spans = receiver.spans()
        assert {span.trace_id.hex() for _, span in spans} == {cid}
        assert {resource["service.name"] for resource, _ in spans} == {"opslog-demo"}
        assert "enhanced-test-failover" in {span.name for _, span in spans}
        events = [r.event_name for _, r in receiver.log_records()]
        # The skipped driver, and the retried attempt (a warning, as in the seed's loop).
        assert events.count("step_warning") == 2 and events.count("step_error") == 0
    finally:
        receiver.stop()
