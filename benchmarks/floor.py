"""How low the public ``add_event`` row can go: the leanest code with opslog's output.

    python benchmarks/floor.py            # 31 interleaved rounds of 100 operations
    python benchmarks/floor.py --quick    # a few rounds, and the output check (for CI)

``bench.py``'s row ``opslog-spans(pub) / a`` has a target of 1.15: opslog's
own work per event at most ~15% of the SDK's, when its span events go
through the SDK's public ``add_event`` (which validates every attribute, as
it does for the hand-written (a)). This script measures what any
implementation of opslog's guarantees could reach there. It writes the
workload of ``bench.py`` (same ``fields()``, same pipeline) as the leanest
code that gives opslog's span output, span for span and event for event
(checked first, against opslog itself: see ``check_same_output``), and
keeps only the guarantees this workload exercises:

- **redaction**: every caller text passes opslog's two redaction gates
  (:meth:`Redactor.leaves_unchanged`, then :meth:`Redactor.finds_nothing`,
  over the texts joined by NUL, as ``plain_fields`` does); messages and
  step names are remembered once redacted;
- **typed attributes**: the workload's value types only (texts, 64-bit
  ints, floats, booleans, lists of texts made tuples), keys checked once
  (identifier, not sensitive, not reserved) and then remembered;
  the five required fields last;
- **activation**: the scope is current while it runs (a context with a
  :class:`~opslog.otel.activation.LiveSpan`), and ending restores what was
  current before, past scopes that ended earlier;
- **ending**: once (test-and-set under a lock), open children registered
  and unregistered, durations, the dropped-events count.

It leaves out all else opslog does per call: levels, diagnostics, test
listeners, the channel interface, calls after the end, errors, retries,
every other value type, limits. It is a measuring stick, not a library.

Rows, each over (a), median of per-round ratios of wall and CPU time:

  floor            the lean code above
  floor-unredacted the same with the redaction gates taken out (what
                   the redaction guarantee alone costs on this path)
  opslog(pub)      opslog's span channel through the SDK's public add_event
                   (``bench.py``'s opslog-spans(pub))
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Optional

import bench
from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import opslog
from opslog._config import get_settings
from opslog.fields.durations import format_duration
from opslog.otel.activation import LiveSpan, context_with_span
from opslog.otel.internals import events_dropped
from opslog.vocabulary import RESERVED_FIELDS

_SCOPE_KEY = "opslog-floor-scope"
_INT64 = 2**63
_closing = threading.Lock()


class FloorScope:
    """An operation or a step: a span, current while it runs."""

    __slots__ = (
        "__weakref__",
        "_context",
        "_outer_context",
        "children",
        "closing",
        "ended",
        "kind",
        "name",
        "parent",
        "required",
        "span",
        "started",
        "tail",
    )

    def __init__(
        self,
        floor: Floor,
        kind: str,
        name: str,
        step: str,
        parent: Optional[FloorScope],
        parent_context: Context,
    ) -> None:
        self.kind, self.name, self.parent = kind, name, parent
        self.closing = self.ended = False
        self.children: Optional[dict[int, FloorScope]] = None
        if parent is None:
            # The trace id is the correlation id: known once the span started.
            span = floor.tracer.start_span(name, context=parent_context)
            cid = format(span.get_span_context().trace_id, "032x")
            self.required = {"correlation_id": cid, "job_id": "job-1", "operation": name}
            span.set_attributes({**self.required, "opslog.kind": kind})
        else:
            self.required = parent.required
            attributes = {**self.required, "opslog.kind": kind, "step": step}
            span = floor.tracer.start_span(name, context=parent_context, attributes=attributes)
            children = parent.children
            if children is None:
                children = parent.children = {}
            children[id(self)] = self
        self.span = span
        self.tail = {**self.required, "step": step}
        self._outer_context = restore_live_context()
        self._context: Any = context_with_span(
            parent_context if parent is not None else self._outer_context,
            LiveSpan(self),
            _SCOPE_KEY,
            self,
        )
        context.attach(self._context)
        self.started = time.perf_counter()
        floor.event(self, f"{kind}_start", floor.text(f"{kind} {name} started"), None, None)

    def own_context(self) -> Optional[Context]:
        own = self._context
        return own() if isinstance(own, weakref.ref) else own

    def end(self, floor: Floor) -> None:
        with _closing:
            already, self.closing = self.closing, True
        if already:
            return
        seconds = time.perf_counter() - self.started
        extras: dict[str, object] = (
            {"abandoned_steps": 0, "abandoned_child_operations": 0}
            if self.kind == "operation"
            else {}
        )
        prefix = "total" if self.kind == "operation" else "step"
        extras["status"] = "completed"
        extras[f"{prefix}_duration_ms"] = round(seconds * 1000)
        extras[f"{prefix}_duration_str"] = format_duration(seconds)
        extras["span_events_dropped"] = events_dropped(self.span, adding=1)
        message = floor.text(f"{self.kind} {self.name} completed")
        floor.event(self, f"{self.kind}_end", message, None, extras)
        self.span.set_attribute("opslog.status", "completed")
        self.span.end()
        self.ended = True
        own = self._context
        if context.get_current() is own:
            context.attach(self._outer_context)
        else:
            restore_live_context()
        self._context = weakref.ref(own)
        if self.parent is not None and self.parent.children:
            self.parent.children.pop(id(self), None)


def restore_live_context() -> Context:
    """Make current what was current before the ended scopes on top."""
    current = context.get_current()
    restored = current
    while True:
        scope = restored.get(_SCOPE_KEY)
        if not isinstance(scope, FloorScope) or not scope.ended:
            break
        if scope.own_context() is not restored:
            break
        restored = scope._outer_context
    if restored is not current:
        context.attach(restored)
    return restored


class Floor:
    """The event path: caller fields checked and redacted, required fields last."""

    def __init__(self, tracer_provider: TracerProvider, redaction: bool) -> None:
        self.tracer = tracer_provider.get_tracer("opslog-floor")
        self.redaction = redaction
        self.redactor = get_settings().coercer.redactor
        self.texts: dict[str, str] = {}  # messages and names, once redacted
        self.keys: set[str] = set()  # field names checked once

    def text(self, message: str) -> str:
        done = self.texts.get(message)
        if done is None:
            done = self.texts[message] = self.redactor.redact_text(message)
        return done

    def fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        if not fields.keys() <= self.keys:
            for key in fields:
                plain = (
                    key.isidentifier()
                    and key not in RESERVED_FIELDS
                    and not self.redactor.is_sensitive_key(key)
                )
                if not plain:
                    raise ValueError(f"not a plain field name here: {key!r}")
                self.keys.add(key)
        out = fields.copy()
        texts: list[str] = []
        for key, value in fields.items():
            kind = type(value)
            if kind is str:
                texts.append(value)
            elif kind is int:
                if not -_INT64 <= value < _INT64:
                    raise ValueError("beyond 64 bits")
            elif kind is list:
                out[key] = value = tuple(value)
                for item in value:
                    if type(item) is not str:
                        raise ValueError("only lists of texts here")
                texts.extend(value)
            elif kind is not float and kind is not bool:
                raise ValueError(f"not a type of this workload: {kind.__name__}")
        if self.redaction and texts:
            joined = "\x00".join(texts)
            redactor = self.redactor
            if not (redactor.leaves_unchanged(joined) or redactor.finds_nothing(joined)):
                raise ValueError("a text to redact: not this workload")
        return out

    def event(
        self,
        scope: FloorScope,
        name: str,
        message: str,
        fields: Optional[dict[str, Any]],
        extras: Optional[dict[str, object]],
    ) -> None:
        out = self.fields(fields) if fields is not None else {}
        if extras:
            out.update(extras)
        out["message"] = message
        out.update(scope.tail)
        out["event"] = name
        if not scope.ended:
            scope.span.add_event(name, out, time.time_ns())

    def __call__(self, ops: int) -> None:
        """``bench.opslog_workload``, written with the floor."""
        for _ in range(ops):
            op = FloorScope(
                self, "operation", "enhanced-test-failover", "_operation", None, Context()
            )
            parent_context = trace.set_span_in_context(op.span)
            for n in range(bench.STEPS):
                name = self.text(f"step-{n}")
                step = FloorScope(self, "step", name, name, op, parent_context)
                self.event(step, "step_info", self.text("working"), bench.fields(), None)
                self.event(step, "step_success", self.text("done"), bench.fields(), None)
                step.end(self)
            op.end(self)


# -- checking the floor gives opslog's output ---------------------------------------------

_MEASURED = ("_duration_ms", "_duration_str")


def _comparable(spans: Any) -> list[Any]:
    """Spans as (name, parent's name, attributes, events), with the measured
    durations left out (they differ between any two runs) and each
    correlation id replaced by whether it is its span's trace id."""
    names = {span.context.span_id: span.name for span in spans}
    out = []
    for span in spans:
        trace_id = format(span.context.trace_id, "032x")
        parent = names.get(span.parent.span_id) if span.parent else None
        events = [(event.name, _kept(event.attributes, trace_id)) for event in span.events]
        out.append((span.name, parent, sorted(_kept(span.attributes, trace_id)), events))
    return out


def _kept(attributes: Any, trace_id: str) -> list[tuple[str, Any]]:
    return [
        (k, v == trace_id if k == "correlation_id" else v)
        for k, v in attributes.items()
        if not k.endswith(_MEASURED)
    ]


def check_same_output() -> None:
    """Run one operation through opslog and through the floor, with the same
    field values; exit if their spans differ (the floor would measure less work)."""
    outputs = []
    for make in ("opslog", "floor"):
        provider, exporter = TracerProvider(), InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        bench._serial = iter(range(10**9))  # the same values on both sides
        if make == "opslog":
            case = bench.with_opslog(
                bench.Pipeline(provider, LoggerProvider()),
                ready_events=False,  # the public add_event path, as measured
                span_events=True,
                log_records=False,
                stdlib_logging=False,
            )
            case.setup()
            case(1)
        else:
            Floor(provider, redaction=True)(1)
        outputs.append(_comparable(exporter.get_finished_spans()))
    if outputs[0] != outputs[1]:
        for mine, theirs in zip(*outputs):
            if mine != theirs:
                print(f"opslog: {mine}\nfloor:  {theirs}")
                break
        sys.exit("the floor's output is not opslog's: its figures would mean nothing")
    print(f"output check: the floor's {len(outputs[0])} spans are opslog's (ids, durations aside)")


# -- measuring ---------------------------------------------------------------------------


def main() -> int:
    opslog.configure(console=False)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few short rounds (for CI)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--ops", type=int, help="operations per timed block")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 31)
    ops = args.ops or (20 if args.quick else 100)
    check_same_output()

    plain = bench.pipeline(False)
    cases: dict[str, Callable[[int], None]] = {
        "a": bench.raw_otel(plain, with_logs=False),
        "floor": Floor(plain.tracer_provider, redaction=True),
        "floor-unredacted": Floor(plain.tracer_provider, redaction=False),
        "opslog(pub)": bench.with_opslog(
            plain, ready_events=False, span_events=True, log_records=False, stdlib_logging=False
        ),
    }
    results = {name: bench.Series() for name in cases}
    for run in cases.values():  # warm-up
        getattr(run, "setup", lambda: None)()
        run(max(1, ops // 5))
        plain.flush()
    order = list(cases)
    shuffle = random.Random(20261129).shuffle
    for _ in range(rounds):
        shuffle(order)
        for name in order:
            hot, _total, cpu = bench.timed(cases[name], plain.flush, ops)
            results[name].hot.append(hot)
            results[name].cpu.append(cpu)

    def ratio(name: str, times: Callable[[bench.Series], list[float]]) -> float:
        return statistics.median([m / b for m, b in zip(times(results[name]), times(results["a"]))])

    print(f"{rounds} interleaved rounds of {ops} operations (42 events, 11 spans each)")
    print(f"{'implementation':<18}{'hot us/op':>10}{'/ a wall':>10}{'/ a cpu':>9}")
    for name, series in results.items():
        wall = ratio(name, lambda s: s.hot)
        cpu = ratio(name, lambda s: s.cpu)
        print(f"{name:<18}{statistics.median(series.hot) * 1e6:10.1f}{wall:10.3f}{cpu:9.3f}")
    print("target for opslog(pub) / a: <= 1.15 (bench.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
