"""The user's journey for real: opslog -> the OpenTelemetry Collector -> Jaeger and Prometheus.

Run with ``python -m pytest -m stack tests/stack`` (``.ci/run`` does): the ``the_stack`` fixture
builds and starts ``stack/stack.sh`` when it is not running. Each test names its own service,
so the metrics of one test never answer another's question.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from opslog.cli.demo import STEPS
from opslog.vocabulary import REQUIRED_FIELDS

from .conftest import (
    OTLP_HTTP,
    ROOT,
    by_name,
    jaeger_trace,
    monitor,
    parent_id,
    prometheus_query,
    run_demo,
    run_job,
    service_names,
    stack,
    tags,
    wait_for,
    wait_for_trace,
)

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("the_stack")]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def opslog_tree(json_lines: Path) -> dict[str, tuple[str, str]]:
    """span id -> (span name, parent span id), as opslog's own JSON lines record them."""
    tree: dict[str, tuple[str, str]] = {}
    for line in json_lines.read_text().splitlines():
        event = json.loads(line)
        name = event["operation"] if event["step"] == "_operation" else event["step"]
        tree.setdefault(event["span_id"], (name, event["parent_span_id"]))
    return tree


def assert_events_carry_the_five_fields(trace: dict[str, Any]) -> int:
    """Every span event of an opslog span has the five required fields, and its
    correlation id is the trace id. Returns how many events were checked."""
    checked = 0
    for span in trace["spans"]:
        if "opslog.kind" not in tags(span):
            continue  # an HTTP client or server span
        assert span["logs"], span["operationName"]
        for log in span["logs"]:
            fields = tags(log)
            missing = [f for f in REQUIRED_FIELDS if not fields.get(f)]
            assert not missing, (span["operationName"], fields)
            assert fields["correlation_id"] == trace["traceID"]
            checked += 1
    return checked


def test_the_built_collector_has_exactly_the_components_its_config_uses() -> None:
    """What the collector binary says it holds (``components``), against what
    collector-config.yaml names, by type: nothing missing, nothing extra."""
    binary = stack("bin", "collector").strip()
    listing = subprocess.run(
        [binary, "components"], capture_output=True, text=True, check=True
    ).stdout
    built = yaml.safe_load(listing)
    config = yaml.safe_load((ROOT / "collector-config.yaml").read_text())
    for kind in ("receivers", "processors", "exporters", "connectors", "extensions"):
        used = {name.split("/")[0] for name in config.get(kind, {})}
        assert {c["name"] for c in built.get(kind) or []} == used, kind
    assert built["buildinfo"]["version"] == "0.161.0"


def test_the_demo_is_one_trace_in_jaeger_shaped_as_opslog_ran_it(tmp_path: Path) -> None:
    service = unique("opslog-demo")
    json_lines = tmp_path / "demo.jsonl"
    cid, stdout = run_demo("--json", str(json_lines), service=service)
    expected = opslog_tree(json_lines)
    assert "0 not delivered" in stdout

    trace = wait_for_trace(cid, spans=len(expected))
    assert trace["traceID"] == cid  # the correlation id is the trace id
    assert service_names(trace) == {service}
    seen = {
        span["spanID"]: (span["operationName"], parent_id(span) or "") for span in trace["spans"]
    }
    assert seen == expected  # every span, under the parent opslog gave it

    roots = [span["operationName"] for span in trace["spans"] if parent_id(span) is None]
    assert roots == ["enhanced-test-failover"]  # one root span per operation
    spans = by_name(trace)
    root_id = spans["enhanced-test-failover"]["spanID"]
    for step in STEPS:
        assert parent_id(spans[step]) == root_id
    for sub in ("inject-viostor", "inject-netkvm"):
        assert parent_id(spans[sub]) == spans["virtio-injection"]["spanID"]
    for attempt in ("vm-creation-attempt-1", "vm-creation-attempt-2"):
        assert parent_id(spans[attempt]) == spans["vm-creation"]["spanID"]
    assert parent_id(spans["linstor-snapshot-creation"]) == spans["linstor-snapshot"]["spanID"]

    assert assert_events_carry_the_five_fields(trace) >= 3 * len(expected)
    assert not [s["operationName"] for s in trace["spans"] if tags(s).get("error")]
    # The secret in the demo's fields never reached Jaeger.
    assert "demo-secret-key-do-not-print" not in json.dumps(trace)


def test_a_failed_step_and_its_operation_are_errors_in_jaeger() -> None:
    service = unique("opslog-demo-failing")
    cid, _ = run_demo("--fail-at", "vm-creation", service=service)
    trace = wait_for_trace(cid, spans=3)
    spans = by_name(trace)
    failed = {s["operationName"] for s in trace["spans"] if tags(s).get("error") is True}
    assert failed == {"enhanced-test-failover", "vm-creation"}
    assert tags(spans["vm-creation"])["otel.status_code"] == "ERROR"
    events = [tags(log) for log in spans["vm-creation"]["logs"]]
    error = next(e for e in events if e["event"] == "step_error")
    assert error["step"] == "vm-creation" and error["correlation_id"] == cid
    end = next(e for e in events if e["event"] == "step_end")
    assert end["status"] == "failed"
    assert "volume-attachment" not in spans  # the job stopped at the failing step
    assert_events_carry_the_five_fields(trace)


def test_two_services_are_one_trace_with_two_services() -> None:
    cid, stdout = run_demo("--services", service=unique("failover-engine"))
    assert "(both services)" in stdout and "0 not delivered" in stdout
    trace = wait_for_trace(cid, spans=15, services=2)
    assert len(service_names(trace)) == 2
    processes = trace["processes"]
    daemon_ops = [
        s
        for s in trace["spans"]
        if processes[s["processID"]]["serviceName"] == "volume-daemon"
        and tags(s).get("opslog.kind") == "operation"
    ]
    assert {s["operationName"] for s in daemon_ops} == {"volume-attach", "volume-detach"}
    ids = {s["spanID"] for s in trace["spans"]}
    roots = [s for s in trace["spans"] if parent_id(s) is None]
    assert [s["operationName"] for s in roots] == ["enhanced-test-failover"]
    assert all(parent_id(s) in ids for s in trace["spans"] if s not in roots)  # no orphan
    for op in daemon_ops:  # the daemon's operations carry the engine's job id
        assert tags(op)["job_id"] == tags(roots[0])["job_id"]
    assert_events_carry_the_five_fields(trace)


def test_log_records_reach_the_collectors_logs_pipeline(the_stack: dict[str, str]) -> None:
    cid, _ = run_demo(service=unique("opslog-demo-logs"))
    path = Path(the_stack["logs"])

    def records() -> list[dict[str, str]]:
        found = []
        if not path.exists():
            return found
        for line in path.read_text().splitlines():
            for resource_logs in json.loads(line).get("resourceLogs", []):
                for scope_logs in resource_logs.get("scopeLogs", []):
                    for record in scope_logs.get("logRecords", []):
                        if record.get("traceId") == cid:
                            found.append(
                                {
                                    a["key"]: a["value"].get("stringValue", "")
                                    for a in record.get("attributes", [])
                                }
                            )
        return found

    found: list[dict[str, str]] = wait_for(
        lambda: (lambda r: r if len(r) >= 30 else None)(records()), "log records of the demo"
    )
    for record in found:
        assert all(record.get(field) for field in REQUIRED_FIELDS), record
        assert record["correlation_id"] == cid
    assert {"operation_start", "step_start", "step_end", "operation_end"} <= {
        r["event"] for r in found
    }


def test_span_metrics_reach_prometheus_by_operation_step_and_status() -> None:
    service = unique("opslog-demo-metrics")
    run_demo(service=service)
    run_demo("--fail-at", "volume-attachment", service=service)
    selector = f'traces_span_metrics_calls_total{{service_name="{service}"}}'

    def series() -> list[dict[str, str]] | None:
        result = [r["metric"] for r in prometheus_query(selector)]
        statuses = {(r.get("span_name"), r.get("opslog_status")) for r in result}
        wanted = {
            ("enhanced-test-failover", "completed"),
            ("enhanced-test-failover", "failed"),
            ("volume-attachment", "failed"),
        }
        return result if wanted <= statuses else None

    result = wait_for(series, "span metrics in Prometheus", timeout=90)
    failed_step = next(
        r
        for r in result
        if r["span_name"] == "volume-attachment" and r["opslog_status"] == "failed"
    )
    assert failed_step["operation"] == "enhanced-test-failover"  # the seed's dimension
    assert failed_step["status_code"] == "STATUS_CODE_ERROR"
    assert failed_step["opslog_kind"] == "step"
    durations = prometheus_query(
        "histogram_quantile(0.95, sum by (le, span_name) "
        f'(traces_span_metrics_duration_milliseconds_bucket{{service_name="{service}"}}))'
    )
    assert {d["metric"]["span_name"] for d in durations} >= {"enhanced-test-failover", *STEPS}


def test_jaegers_monitor_api_answers_the_seeds_three_questions() -> None:
    """Rates need a counter seen to grow: the jobs run as a service's traffic does, one
    demo process after another (every fourth failing at vm-creation), until the Monitor
    API answers all three questions."""
    service = unique("opslog-demo-monitor")

    def answers() -> tuple[dict[str, float], ...] | None:
        calls, errors = monitor("calls", service), monitor("errors", service)
        p95 = monitor("latencies", service, quantile="0.95")
        p99 = monitor("latencies", service, quantile="0.99")
        wanted = ("enhanced-test-failover", "vm-creation")
        if all(calls.get(n, 0) > 0 and errors.get(n, 0) > 0 for n in wanted) and all(
            latencies.get("enhanced-test-failover", 0) > 0 for latencies in (p95, p99)
        ):
            return calls, errors, p95, p99
        return None

    found = None
    for run in range(40):
        run_demo(*(("--fail-at", "vm-creation") if run % 4 == 3 else ()), service=service)
        found = answers() if run >= 3 else None
        if found:
            break
    assert found, "the Monitor API did not answer within 40 runs"
    calls, errors, p95, p99 = found
    # Success rate by operation: calls and errors per span name.
    assert set(STEPS) <= set(calls)
    # Errors by step: the failing step and its operation, nothing else.
    assert {name for name, rate in errors.items() if rate > 0} == {
        "enhanced-test-failover",
        "vm-creation",
    }
    assert 0 < errors["enhanced-test-failover"] < 1  # some runs failed: a success rate < 1
    # p95/p99 duration by operation; the 99th percentile is never below the 95th.
    assert p99["enhanced-test-failover"] >= p95["enhanced-test-failover"] > 0


def job_while_down(program: str, steps: int) -> dict[str, Any]:
    """Stop ``program``, run one operation of ``steps`` steps, start it again."""
    stack("down", program)
    try:
        return run_job(
            f"""
            logger = opslog.new_operation_logger("job-{program}-outage")
            with logger.operation("during-{program}-outage") as op:
                for n in range({steps}):
                    with op.step(f"step-{{n}}") as step:
                        step.info("working", {{"n": n}})
            cid = logger.correlation_id
            """,
            service=unique(f"outage-{program}"),
        )
    finally:
        stack("up")


def new_trace_arrives(service: str) -> dict[str, Any]:
    """One more operation, which must reach Jaeger."""
    outcome = run_job(
        'cid = opslog.new_operation_logger("j").start_operation("after-restart").correlation_id\n'
        "opslog.shutdown()",
        service=unique(service),
    )
    wait_for_trace(outcome["cid"], spans=1)
    return outcome


def test_jaeger_down_for_a_while_loses_nothing_the_collector_queue_holds_it() -> None:
    outcome = job_while_down("jaeger", steps=20)
    spans = outcome["stats"]["spans"]
    # The app saw nothing of the outage: every span went to the collector.
    assert (spans["exported"], spans["failed"], spans["dropped"]) == (21, 0, 0)
    assert outcome["delivered"] is True
    # The collector's sending queue held them and retries once Jaeger is back.
    trace = wait_for_trace(outcome["cid"], spans=21, timeout=90)
    assert len(trace["spans"]) == 21
    new_trace_arrives("after-jaeger-restart")


def test_collector_down_the_app_counts_what_it_lost_and_recovers() -> None:
    outcome = job_while_down("collector", steps=5)
    spans, records = outcome["stats"]["spans"], outcome["stats"]["log_records"]
    # Nothing delivered, and every span and record counted as lost, none in limbo.
    assert spans["exported"] == 0 and spans["failed"] + spans["dropped"] == 6
    assert records["exported"] == 0 and records["failed"] + records["dropped"] >= 6
    assert spans["pending"] == records["pending"] == 0
    assert jaeger_trace(outcome["cid"]) is None
    after = new_trace_arrives("after-collector-restart")
    assert after["stats"]["spans"]["exported"] == 1


def test_one_trace_across_python_and_go_with_the_job_id_on_both_sides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opslog.cli.services import VolumeDaemonProcess

    go_binary = stack("bin", "snapshot-service").strip()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", OTLP_HTTP)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    job_id = unique("job-go")
    with VolumeDaemonProcess(service_name="volume-daemon") as daemon:
        go = subprocess.Popen(
            [go_binary, "-callback", f"{daemon}/attach", "-max-lifetime", "2m"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "OTEL_SERVICE_NAME": "snapshot-service"},
        )
        try:
            assert go.stdout is not None
            listening = go.stdout.readline()
            assert listening.startswith("listening on "), listening
            go_url = "http://" + listening.split()[-1]
            outcome = run_job(
                f"""
                import json as _json
                logger = opslog.new_operation_logger({job_id!r})
                with logger.operation("go-snapshot-job") as op:
                    with op.step("linstor-snapshot") as step:
                        response = opslog.urlopen({go_url + "/snapshot"!r}, data=b"{{}}",
                                                  method="POST", timeout=10)
                        extra["answer"] = _json.loads(response.read())
                        step.success("snapshot taken by the Go service")
                cid = logger.correlation_id
                """,
                service="failover-engine",
            )
        finally:
            go.terminate()
            go.wait(10)
    assert outcome["answer"]["job_id"] == job_id  # baggage reached the Go service
    assert outcome["answer"]["callback_status"] == 200

    trace = wait_for_trace(outcome["cid"], spans=7, services=3)
    processes = trace["processes"]
    service_of = {s["spanID"]: processes[s["processID"]]["serviceName"] for s in trace["spans"]}
    spans = {s["spanID"]: s for s in trace["spans"]}
    assert set(service_of.values()) == {"failover-engine", "snapshot-service", "volume-daemon"}
    go_spans = [s for s in trace["spans"] if service_of[s["spanID"]] == "snapshot-service"]
    server = next(s for s in go_spans if tags(s).get("span.kind") == "server")
    assert tags(server)["job_id"] == job_id
    assert tags(server)["http.route"] == "/snapshot"
    assert server["operationName"] == "POST /snapshot"
    assert service_of[parent_id(server) or ""] == "failover-engine"  # under the Python client
    daemon_op = next(s for s in trace["spans"] if s["operationName"] == "volume-attach")
    assert tags(daemon_op)["job_id"] == job_id  # and back on the Python side, from baggage
    # The daemon's operation descends from the Go service's spans.
    ancestor = parent_id(daemon_op)
    chain = []
    while ancestor:
        chain.append(service_of[ancestor])
        ancestor = parent_id(spans[ancestor])
    assert "snapshot-service" in chain and chain[-1] == "failover-engine"
    assert_events_carry_the_five_fields(trace)
