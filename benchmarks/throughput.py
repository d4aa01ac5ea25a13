"""Delivery under load: opslog against the raw SDK's batch processors.

For each protocol (OTLP over HTTP and gRPC) and each offered rate, one
process runs the same workload for a few seconds, either through opslog or
through the raw OpenTelemetry SDK (``BatchSpanProcessor`` and
``BatchLogRecordProcessor`` with the same OTLP exporters), then shuts down
with a deadline. A receiver in its own process counts what arrives. The
table gives the delivered fraction of spans and of log records for each.

The workload is the benchmark's: one operation with 10 steps, each step an
``info`` and a ``success`` with 5 fields whose string values change on every
event (42 events and 11 spans per operation; ``--infos N`` puts N ``info``
events in each step, for larger spans). The raw SDK side sends the
same data as opslog: the same attributes on every span, span event and log
record (message, the five required fields with the trace id as correlation
id, the end events' status and durations).

    python benchmarks/throughput.py                 # rates 2000, 8400 and max events/s
    python benchmarks/throughput.py --rates 500,4000,12000,16000   # other offered rates
    python benchmarks/throughput.py --infos 8       # larger spans: 8 info events per step
    python benchmarks/throughput.py --quick         # one short run per case
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

RECEIVER = r"""
import json, sys, threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

counts = {"spans": 0, "log_records": 0}
lock = threading.Lock()

def count(request, signal):
    if signal == "spans":
        n = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    else:
        n = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    with lock:
        counts[signal] += n

class Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):
        count(request, "spans")
        return trace_service_pb2.ExportTraceServiceResponse()

class Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def Export(self, request, context):
        count(request, "log_records")
        return logs_service_pb2.ExportLogsServiceResponse()

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/traces":
            request = trace_service_pb2.ExportTraceServiceRequest(); signal = "spans"
        elif self.path == "/v1/logs":
            request = logs_service_pb2.ExportLogsServiceRequest(); signal = "log_records"
        elif self.path == "/counts":
            with lock:
                payload = json.dumps(counts).encode()
                counts.update(spans=0, log_records=0)
            self.send_response(200); self.send_header("Content-Length", str(len(payload)))
            self.end_headers(); self.wfile.write(payload); return
        else:
            self.send_error(404); return
        request.ParseFromString(body)
        count(request, signal)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args):
        pass

server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
grpc_port = server.add_insecure_port("127.0.0.1:0")
server.start()
http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
http.daemon_threads = True
print(json.dumps({"http": http.server_address[1], "grpc": grpc_port}), flush=True)
threading.Timer(float(sys.argv[1]), lambda: (http.shutdown(), server.stop(0))).start()
http.serve_forever()
"""

WORKLOAD = r"""
import json, sys, time
impl, protocol, endpoint = sys.argv[1:4]
rate, seconds, options = float(sys.argv[4]), float(sys.argv[5]), json.loads(sys.argv[6])
INFOS = int(sys.argv[7])
STEPS = 10
EVENTS_PER_OP = 2 + STEPS * (3 + INFOS)
counter = iter(range(10**9))

def fields():
    n = next(counter)
    return {"vm_id": f"vm-{n}", "url": f"https://kvm-{n % 97}.example.com:8443/v1/{n}",
            "at": f"2026-11-29T14:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "disks": ["vda", f"vd{n % 26}"], "size_gb": n % 500}

if impl == "opslog":
    import opslog
    opslog.configure(
        endpoint=endpoint, protocol=protocol, console=False, service_name="bench", **options
    )

    def operation():
        with opslog.new_operation_logger("job").operation("failover") as op:
            for s in range(STEPS):
                with op.step(f"step-{s}") as step:
                    for _ in range(INFOS):
                        step.info("working", fields())
                    step.success("done", fields())

    def finish(deadline):
        opslog.shutdown(timeout=deadline)
else:
    from opentelemetry import trace
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        span_exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True)
        log_exporter = OTLPLogExporter(endpoint=endpoint, insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        span_exporter = OTLPSpanExporter(endpoint=endpoint + "/v1/traces")
        log_exporter = OTLPLogExporter(endpoint=endpoint + "/v1/logs")
    resource = Resource.create({"service.name": "bench"})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(BatchSpanProcessor(span_exporter))
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    tracer, logger = tp.get_tracer("bench"), lp.get_logger("bench")

    # The same data as opslog sends: every attribute, the message as body and
    # attribute, the trace id as correlation id, the end events' status and
    # durations, opslog's span attributes.
    def emit(span, name, message, attributes):
        attributes = {**attributes, "message": message, "event": name}
        span.add_event(name, attributes)
        ctx = trace.set_span_in_context(span)
        logger.emit(body=message, attributes=attributes, context=ctx,
                    severity_number=SeverityNumber.INFO, event_name=name)

    def ended(started, prefix):
        seconds = time.perf_counter() - started
        return {"status": "completed", f"{prefix}_duration_ms": round(seconds * 1000),
                f"{prefix}_duration_str": f"{seconds * 1e6:.3f}µs", "span_events_dropped": 0}

    def operation():
        op_started = time.perf_counter()
        with tracer.start_as_current_span("failover") as root:
            cid = format(root.get_span_context().trace_id, "032x")
            required = {"correlation_id": cid, "job_id": "job", "operation": "failover"}
            root.set_attributes({**required, "opslog.kind": "operation"})
            top = {**required, "step": "_operation"}
            emit(root, "operation_start", "operation failover started", top)
            for s in range(STEPS):
                name = f"step-{s}"
                step_started = time.perf_counter()
                with tracer.start_as_current_span(
                    name, attributes={**required, "opslog.kind": "step", "step": name}
                ) as span:
                    base = {**required, "step": name}
                    emit(span, "step_start", f"step {name} started", base)
                    for _ in range(INFOS):
                        emit(span, "step_info", "working", {**fields(), **base})
                    emit(span, "step_success", "done", {**fields(), **base})
                    emit(span, "step_end", f"step {name} completed",
                         {**ended(step_started, "step"), **base})
                    span.set_attribute("opslog.status", "completed")
            emit(root, "operation_end", "operation failover completed",
                 {"abandoned_steps": 0, "abandoned_child_operations": 0,
                  **ended(op_started, "total"), **top})
            root.set_attribute("opslog.status", "completed")

    def finish(deadline):
        tp.shutdown(); lp.shutdown()

ops = 0
start = time.perf_counter()
interval = EVENTS_PER_OP / rate if rate > 0 else 0.0
while time.perf_counter() - start < seconds:
    operation()
    ops += 1
    if interval:
        ahead = start + ops * interval - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
elapsed = time.perf_counter() - start
finish(10.0)
print(json.dumps({"ops": ops, "elapsed": elapsed}))
"""


def _python(code: str, *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return result.stdout.strip().splitlines()[-1]


def _counts(http_port: int) -> dict[str, int]:
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/counts", data=b"")
    with urllib.request.urlopen(request, timeout=10) as r:
        counts: dict[str, int] = json.loads(r.read())
    return counts


def run(
    rates: list[float],
    seconds: float,
    protocols: list[str],
    options: dict[str, Any],
    infos: int = 1,
) -> list[dict[str, Any]]:
    events_per_op = 2 + 10 * (3 + infos)
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(600)], stdout=subprocess.PIPE, text=True
    )
    assert receiver.stdout is not None
    ports = json.loads(receiver.stdout.readline())
    rows: list[dict[str, Any]] = []
    try:
        for protocol in protocols:
            endpoint = (
                f"http://127.0.0.1:{ports['grpc']}"
                if protocol == "grpc"
                else f"http://127.0.0.1:{ports['http']}"
            )
            for rate in rates:
                for impl in ("raw SDK", "opslog"):
                    _counts(ports["http"])  # zero the counters
                    outcome = json.loads(
                        _python(
                            WORKLOAD,
                            "opslog" if impl == "opslog" else "raw",
                            protocol,
                            endpoint,
                            str(rate),
                            str(seconds),
                            json.dumps(options),
                            str(infos),
                        )
                    )
                    time.sleep(0.5)
                    got = _counts(ports["http"])
                    ops = outcome["ops"]
                    rows.append(
                        {
                            "protocol": protocol,
                            "offered": rate,
                            "impl": impl,
                            "events_per_s": round(ops * events_per_op / outcome["elapsed"]),
                            "spans": got["spans"] / (ops * 11),
                            "log_records": got["log_records"] / (ops * events_per_op),
                        }
                    )
                    row = rows[-1]
                    print(
                        f"{protocol:<14}{'max' if not rate else int(rate):>6}  {impl:<8}"
                        f"{row['events_per_s']:>9} ev/s  spans {row['spans']:7.2%}"
                        f"  log records {row['log_records']:7.2%}",
                        flush=True,
                    )
    finally:
        receiver.kill()
        receiver.wait(10)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run per case")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--options", default="{}", help="opslog.configure keywords as JSON, e.g. batch sizes"
    )
    parser.add_argument(
        "--rates",
        default="2000,8400,max",
        help="offered rates in events/s, comma-separated; max (or 0) means no pacing",
    )
    parser.add_argument(
        "--infos",
        type=int,
        default=1,
        help="info events per step (default 1: 4 events per step span; 8 make ~3.9 KB spans)",
    )
    args = parser.parse_args()
    if args.infos < 0:
        parser.error("--infos: a number of events, 0 or more")
    try:
        rates = [0.0 if r.strip() == "max" else float(r) for r in args.rates.split(",")]
    except ValueError:
        parser.error("--rates: numbers of events/s or max, comma-separated, e.g. 2000,8400,max")
    if any(r < 0 for r in rates):
        parser.error("--rates: a rate is events/s, 0 or more (0 or max: no pacing)")
    seconds = 1.0 if args.quick else args.seconds
    print(f"offered rates (events/s, 0 = max): {rates}; {seconds:g} s per run")
    rows = run(rates, seconds, ["http/protobuf", "grpc"], json.loads(args.options), args.infos)
    worse = [
        (r, raw)
        for r in rows
        if r["impl"] == "opslog"
        for raw in rows
        if raw["impl"] == "raw SDK"
        and raw["protocol"] == r["protocol"]
        and raw["offered"] == r["offered"]
        and (r["spans"] < raw["spans"] - 0.005 or r["log_records"] < raw["log_records"] - 0.005)
    ]
    for r, raw in worse:
        print(
            f"BELOW THE RAW SDK: {r['protocol']} at {r['offered'] or 'max'}: "
            f"spans {r['spans']:.2%} vs {raw['spans']:.2%}, "
            f"log records {r['log_records']:.2%} vs {raw['log_records']:.2%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
