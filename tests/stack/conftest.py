"""The real deployment (stack/stack.sh): its programs, and reading back what they hold.

The ``stack`` fixture starts the stack (``stack.sh up`` builds it first when needed) and stops it
again at the end of the session if it was not running before. Everything is read the way a
user's tools read it: Jaeger's HTTP query API (what its UI calls), Jaeger's Monitor API,
Prometheus's HTTP API, and the collector's log-record file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "stack" / "stack.sh"
JAEGER = "http://127.0.0.1:16686"
PROMETHEUS = "http://127.0.0.1:9090"
OTLP_HTTP = "http://127.0.0.1:4318"
#: The collector's span-metrics flush when the tests start the stack (the compose's is 15 s).
FLUSH_INTERVAL = "2s"


def stack(*args: str) -> str:
    result = subprocess.run(
        ["bash", str(STACK), *args],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
        env={**os.environ, "OTELCOL_SPANMETRICS_FLUSH_INTERVAL": FLUSH_INTERVAL},
    )
    assert result.returncode == 0, f"stack.sh {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def running() -> set[str]:
    return {line.split(":")[0] for line in stack("status").splitlines() if ": healthy" in line}


@pytest.fixture(scope="session")
def the_stack() -> Iterator[dict[str, str]]:
    """The running stack, and where its collector writes log records."""
    before = running()
    stack("up")
    status = stack("status")
    logs = next(
        line.split(": ", 1)[1]
        for line in status.splitlines()
        if line.startswith("collector log records: ")
    )
    yield {"logs": logs}
    if not before:
        stack("down")
    else:
        stack("up")  # what a fault test stopped runs again


def wait_for(
    probe: Callable[[], Any], what: str, timeout: float = 60.0, interval: float = 0.5
) -> Any:
    """``probe()`` once it returns something true; fails naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout:g} s (last: {last!r})")
        time.sleep(interval)


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


# --- Jaeger's HTTP query API --------------------------------------------------------------


def jaeger_trace(trace_id: str) -> Optional[dict[str, Any]]:
    """The trace as Jaeger's UI gets it (``/api/traces/{id}``), or None."""
    body = get_json(f"{JAEGER}/api/traces/{trace_id}")
    if not body or not body.get("data"):
        return None
    trace: dict[str, Any] = body["data"][0]
    return trace


def wait_for_trace(
    trace_id: str, spans: int, services: int = 1, timeout: float = 60.0
) -> dict[str, Any]:
    """The trace once Jaeger has ``spans`` spans of ``services`` services for it."""

    def complete() -> Optional[dict[str, Any]]:
        trace = jaeger_trace(trace_id)
        if trace is None or len(trace["spans"]) < spans:
            return None
        if len(service_names(trace)) < services:
            return None
        return trace

    result: dict[str, Any] = wait_for(complete, f"trace {trace_id} in Jaeger", timeout)
    return result


def service_names(trace: dict[str, Any]) -> set[str]:
    return {process["serviceName"] for process in trace["processes"].values()}


def tags(item: dict[str, Any]) -> dict[str, Any]:
    """A Jaeger span's tags, or an event's fields, as a dict."""
    return {tag["key"]: tag["value"] for tag in item.get("tags", item.get("fields", []))}


def parent_id(span: dict[str, Any]) -> Optional[str]:
    for reference in span.get("references", []):
        if reference["refType"] == "CHILD_OF":
            parent: str = reference["spanID"]
            return parent
    return None


def by_name(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {span["operationName"]: span for span in trace["spans"]}


# --- Prometheus and Jaeger's Monitor API ----------------------------------------------------


def prometheus_query(query: str) -> list[dict[str, Any]]:
    body = get_json(f"{PROMETHEUS}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def monitor(kind: str, service: str, **params: Any) -> dict[str, float]:
    """Jaeger's Monitor API (``/api/metrics/{kind}``) for opslog's INTERNAL spans, grouped by
    span name: the newest non-NaN value of each group."""
    query = {
        "service": service,
        "spanKind": "internal",
        "groupByOperation": "true",
        "endTs": int(time.time() * 1000),
        "lookback": 10 * 60 * 1000,
        "step": 5 * 1000,
        "ratePer": 60 * 1000,
        **params,
    }
    body = get_json(f"{JAEGER}/api/metrics/{kind}?" + urllib.parse.urlencode(query))
    values: dict[str, float] = {}
    for metric in body.get("metrics", []):
        labels = {label["name"]: label["value"] for label in metric["labels"]}
        points = [
            p["gaugeValue"]["doubleValue"]
            for p in metric["metricPoints"]
            if isinstance(p.get("gaugeValue", {}).get("doubleValue"), (int, float))
        ]
        if points:
            values[labels.get("operation", "")] = points[-1]
    return values


# --- running opslog against the stack --------------------------------------------------------


def run_demo(*args: str, service: str, timeout: float = 120) -> tuple[str, str]:
    """``python -m opslog demo ARGS --endpoint <collector>``: (correlation id, stdout)."""
    result = subprocess.run(
        [sys.executable, "-m", "opslog", "demo", "--endpoint", OTLP_HTTP, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "OTEL_SERVICE_NAME": service},
    )
    assert result.returncode in (0, 1), result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("correlation id"))
    return line.split(": ")[-1], result.stdout


def run_job(code: str, service: str, timeout: float = 120) -> dict[str, Any]:
    """Run ``code`` in a new interpreter with opslog configured for the stack's collector
    (``shutdown`` at the end); returns ``{"cid": ..., "stats": export_stats(), **extra}``
    where ``code`` sets ``cid`` and may set a dict ``extra``."""
    script = (
        textwrap.dedent(
            f"""
        import json, opslog
        opslog.configure(service_name={service!r}, endpoint={OTLP_HTTP!r}, console=False,
                         timeout=2.0)
        extra = {{}}
        """
        )
        + textwrap.dedent(code)
        + textwrap.dedent(
            """
        delivered = opslog.shutdown(timeout=5)
        print(json.dumps({"cid": cid, "stats": opslog.export_stats(), "delivered": delivered,
                          **extra}))
        """
        )
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome
