"""A second, deliberately plain harness for bench.py's hot-path ratios.

    python benchmarks/crosscheck.py            # ~20 seconds
    python benchmarks/crosscheck.py --quick    # only to prove it still runs

bench.py's ratios come from its own harness: its raw-SDK code, interleaved
rounds in a shuffled order, the median of per-round ratios. A figure in the
README should hold in anyone's harness running the same work, so this one
shares nothing with bench.py: its own providers, its own hand-written SDK
code, fixed alternating blocks, and the plainest statistic there is, the
ratio of total wall times (the first block of each case is a warm-up).

The work is the issue's: one operation, 10 steps, per step ``info`` and
``success`` with 5 fields whose values change on every event (an id, a
number, a host with its port, a timestamp, a tuple of texts). The
hand-written side is *lighter* than opslog: its events carry the five
required fields and the message but no durations or statuses, so the
ratios here are, if anything, less favourable to opslog than bench.py's.

Rows (targets as in bench.py; nothing here asserts on time):

  opslog / b                  all three channels against span events + log records
  opslog+handler / b+stdlib   the same with a stdlib handler at INFO on both sides
                              (the hand-written record has no span ids)
  opslog-spans / a            the span channel only, against span events only
  opslog-spans(pub) / a       the same through the SDK's public ``add_event``
  logfire / opslog            with --logfire: Pydantic Logfire (a reference: at least 3)

Logfire is opt-in: importing it (pydantic and the rest) multiplies the heap,
so each full garbage collection costs tens of milliseconds and lands in
whichever block it falls, blurring every row. With --logfire the heap built
by the imports and the set-up is frozen (``gc.freeze()``) before timing, for
every case alike.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any, Callable, Optional

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import set_span_in_context

import opslog
from opslog.otel import internals

_counter = itertools.count()


def changing_fields() -> dict[str, Any]:
    n = next(_counter)
    return {
        "vm_id": f"vm-{n:08d}",
        "disk_gb": n % 500,
        "host": f"esx{n % 9}.example.net:902",
        "when": f"2026-11-29 14:{n // 60 % 60:02d}:{n % 60:02d}",
        "tags": ("prod", f"rack-{n % 12}"),
    }


class _NoSpans(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _NoLogs(LogRecordExporter):
    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        self.last = record.getMessage()


def _providers() -> tuple[TracerProvider, LoggerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(_NoSpans(), max_queue_size=500_000))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(_NoLogs(), max_queue_size=500_000)
    )
    return tracer_provider, logger_provider


def by_hand(
    tracer_provider: TracerProvider,
    logger_provider: LoggerProvider,
    log_records: bool,
    stdlib: bool,
) -> Callable[[int], None]:
    """The work against the SDK: span events, optionally log records and stdlib records."""
    tracer = tracer_provider.get_tracer("crosscheck")
    otel_logger = logger_provider.get_logger("crosscheck")
    stdlib_logger = logging.getLogger("crosscheck")
    stdlib_logger.setLevel(logging.INFO)
    if stdlib and not stdlib_logger.handlers:
        stdlib_logger.addHandler(_Handler())

    def event(
        span: Any,
        ctx: Any,
        required: dict[str, str],
        name: str,
        message: str,
        fields: dict[str, Any] | None,
    ) -> None:
        attributes = {**fields, **required} if fields else dict(required)
        attributes["message"] = message
        attributes["event"] = name
        span.add_event(name, attributes)
        if log_records:
            otel_logger.emit(
                context=ctx,
                severity_number=SeverityNumber.INFO,
                severity_text="INFO",
                body=message,
                attributes=attributes,
            )
        if stdlib:
            # As opslog builds its record (no caller lookup): the fields as
            # attributes and the whole dict as ``record.opslog``.
            record = stdlib_logger.makeRecord("crosscheck", logging.INFO, "", 0, message, (), None)
            record.__dict__.update(attributes)
            record.opslog = attributes
            stdlib_logger.handle(record)

    def run(operations: int) -> None:
        for _ in range(operations):
            op = tracer.start_span("failover")
            cid = format(op.get_span_context().trace_id, "032x")
            base = {"correlation_id": cid, "job_id": "job-7", "operation": "failover"}
            op.set_attributes(base)
            op_ctx = set_span_in_context(op)
            op_required = {**base, "step": "_operation"}
            event(op, op_ctx, op_required, "operation_start", "operation failover started", None)
            for n in range(10):
                name = f"step-{n}"
                required = {**base, "step": name}
                span = tracer.start_span(name, context=op_ctx, attributes=required)
                ctx = set_span_in_context(span, op_ctx)
                event(span, ctx, required, "step_start", f"step {name} started", None)
                event(span, ctx, required, "step_info", "working", changing_fields())
                event(span, ctx, required, "step_success", "done", changing_fields())
                event(span, ctx, required, "step_end", f"step {name} completed", None)
                span.end()
            event(op, op_ctx, op_required, "operation_end", "operation failover completed", None)
            op.end()

    return run


class WithOpslog:
    """The same work through opslog; ``channels``: all, handler, spans or pub.
    ``setup()`` configures opslog for it, outside the timing (an application
    configures once)."""

    def __init__(
        self, tracer_provider: TracerProvider, logger_provider: LoggerProvider, channels: str
    ) -> None:
        self.providers = tracer_provider, logger_provider
        self.channels = channels
        self.handler = _Handler()

    def setup(self) -> None:
        all_channels = self.channels in ("all", "handler")
        opslog.configure(
            tracer_provider=self.providers[0],
            logger_provider=self.providers[1],
            console=False,
            span_events=True,
            log_records=all_channels,
            stdlib_logging=all_channels,
        )
        internals.READY_SPAN_EVENTS = self.channels != "pub"
        stdlib_logger = logging.getLogger("opslog")
        stdlib_logger.removeHandler(self.handler)
        stdlib_logger.setLevel(logging.INFO if self.channels == "handler" else logging.NOTSET)
        if self.channels == "handler":
            stdlib_logger.addHandler(self.handler)

    def teardown(self) -> None:
        logging.getLogger("opslog").removeHandler(self.handler)
        internals.READY_SPAN_EVENTS = True

    def __call__(self, operations: int) -> None:
        for _ in range(operations):
            op = opslog.new_operation_logger("job-7").start_operation("failover")
            for n in range(10):
                step = op.start_step(f"step-{n}")
                step.info("working", changing_fields())
                step.success("done", changing_fields())
                step.end_step()
            op.end_operation()


def with_logfire() -> Optional[Callable[[int], None]]:
    """The same work through Pydantic Logfire, if it is installed: a span per
    operation and step, ``info`` per event (Logfire makes a log a span),
    nothing sent, its defaults otherwise (its scrubbing on, as opslog's
    redaction is)."""
    try:
        import logfire
    except ImportError:
        return None
    instance = logfire.configure(
        local=True,
        send_to_logfire=False,
        console=False,
        additional_span_processors=[BatchSpanProcessor(_NoSpans(), max_queue_size=500_000)],
    )

    def run(operations: int) -> None:
        for _ in range(operations):
            with instance.span("failover", job_id="job-7", operation="failover"):
                instance.info("operation failover started", job_id="job-7")
                for n in range(10):
                    name = f"step-{n}"
                    with instance.span(name, job_id="job-7", step=name):
                        instance.info(f"step {name} started", step=name)
                        instance.info("working", step=name, **changing_fields())
                        instance.info("done", step=name, **changing_fields())
                        instance.info(f"step {name} completed", step=name)
                instance.info("operation failover completed", job_id="job-7")

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two short blocks (for CI)")
    parser.add_argument("--blocks", type=int, default=9, help="timed blocks per case")
    parser.add_argument("--ops", type=int, default=200, help="operations per block")
    parser.add_argument(
        "--logfire", action="store_true", help="add Pydantic Logfire (pip install logfire)"
    )
    args = parser.parse_args()
    blocks, ops = (2, 10) if args.quick else (args.blocks, args.ops)
    tracer_provider, logger_provider = _providers()

    def flush() -> None:
        tracer_provider.force_flush()
        logger_provider.force_flush()

    cases: dict[str, Callable[[int], None]] = {
        "a": by_hand(tracer_provider, logger_provider, log_records=False, stdlib=False),
        "b": by_hand(tracer_provider, logger_provider, log_records=True, stdlib=False),
        "b+stdlib": by_hand(tracer_provider, logger_provider, log_records=True, stdlib=True),
        "opslog": WithOpslog(tracer_provider, logger_provider, "all"),
        "opslog+handler": WithOpslog(tracer_provider, logger_provider, "handler"),
        "opslog-spans": WithOpslog(tracer_provider, logger_provider, "spans"),
        "opslog-spans(pub)": WithOpslog(tracer_provider, logger_provider, "pub"),
    }
    if args.logfire:
        logfire_run = with_logfire()
        if logfire_run is None:
            parser.error("--logfire: logfire is not installed (pip install logfire)")
        cases["logfire"] = logfire_run
        gc.collect()
        gc.freeze()  # see the module's docstring
    total = dict.fromkeys(cases, 0.0)
    for block in range(blocks + 1):  # block 0 warms up
        for name, run in cases.items():
            getattr(run, "setup", lambda: None)()
            start = time.perf_counter()
            run(ops)
            elapsed = time.perf_counter() - start
            flush()
            getattr(run, "teardown", lambda: None)()
            if block:
                total[name] += elapsed
    timed_ops = blocks * ops
    print(f"{blocks} alternating blocks of {ops} operations (42 events each) per case")
    for name, seconds in total.items():
        print(f"  {name:<20}{seconds / timed_ops * 1e6:9.0f} us/op")
    print("ratio of total wall times (target: at most 1.15 each)")
    for mine, base in (
        ("opslog", "b"),
        ("opslog+handler", "b+stdlib"),
        ("opslog-spans", "a"),
        ("opslog-spans(pub)", "a"),
    ):
        ratio = total[mine] / total[base]
        verdict = "ok" if ratio <= 1.15 else "ABOVE TARGET"
        print(f"  {mine + ' / ' + base:<30}{ratio:7.3f}  {verdict}")
    if "logfire" in total:
        ratio = total["logfire"] / total["opslog"]
        verdict = "ok" if ratio >= 3 else "BELOW TARGET"
        print(f"  {'logfire / opslog (reference)':<30}{ratio:7.3f}  {verdict} (target: at least 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
