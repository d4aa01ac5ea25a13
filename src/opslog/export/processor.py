"""A bounded batch processor whose every wait has a deadline.

The SDK's batch processors block in ``force_flush`` for as long as the
exporter takes (their timeout argument is not applied) and count dropped
items only through a meter. opslog's processor keeps the same shape (a
bounded queue, a background worker exporting batches) with three
guarantees the hot path and process exit rely on:

* **the caller never waits**: ``on_end``/``on_emit`` append to a bounded
  deque, which drops its oldest item when full (counted by the worker:
  nothing but the append happens on the caller's thread);
* **every wait is bounded**: ``force_flush(timeout)`` and
  ``shutdown(timeout)`` return by their deadline even when the exporter is
  stuck on a black-holed collector (the worker is a daemon thread, so a
  stuck export cannot hold up interpreter exit either);
* **losses are counted**: items dropped from the queue and items in batches
  the exporter failed to deliver are counted (:meth:`ExportStats`) and
  reported as self-diagnostics from the worker, never on the hot path;
* **a collector that is down costs the caller nothing**: before its first
  export, and after a failed one, the worker checks that the endpoint
  accepts a connection at all (``reachable``: a TCP connect); if it does
  not, or the export failed, it backs off (1 s, doubling up to 5 s) and
  says so once (``export_unreachable``). The first batch, and the first
  after a failure, holds only :data:`PROBE_BATCH` items: full batches
  follow once the endpoint has answered, so a collector that accepts
  connections but never answers costs a few items' encoding per try.
  While the endpoint is down nothing is encoded or sent; the queue keeps
  the newest items and drops (counts) the oldest, and export resumes
  within 5 s of the collector's return. A flush or shutdown with the
  endpoint down fails what is queued at once, without waiting for the
  exporter's retries. (The OTLP exporters encode a batch before they find
  the collector down, then retry it for their whole timeout: done batch
  after batch, that work slowed the caller ~1.4x.)
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Generic, Optional, TypeVar

from opentelemetry import context as otel_context
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from .. import _diagnostics
from ..otel.internals import suppress_instrumentation

__all__ = [
    "BatchSettings",
    "BoundedBatchProcessor",
    "ExportStats",
    "LogProcessor",
    "SpanBatchProcessor",
]

T = TypeVar("T")

#: Backoff after a failed export: the first wait, and the longest.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 5.0

#: The size of the batch sent to an endpoint that has not answered yet (the
#: first export, and the first after a failed one); full batches follow
#: once it has. A collector that accepts connections and never answers (a
#: black hole, a proxy with no backend) then costs the encoding of a few
#: items per try instead of a full batch (~0.1 s of the interpreter for
#: 2048 spans, felt by a short job's caller), and fails only those: the
#: rest waits in the queue for the collector's return.
PROBE_BATCH = 32


@dataclass(frozen=True)
class BatchSettings:
    """Sizes and delays of a batch processor.

    The defaults were chosen by ``benchmarks/throughput.py``: with 2048/512
    (the SDK's) opslog delivered 42% of log records at about 8,400 events/s
    over OTLP/HTTP, larger batches delivered more. The price is memory while
    the queue is full (~80 MB more with the collector down, for the
    benchmark's spans of four events); ``benchmarks/README.md`` has the runs.
    The queue is bounded by its count of items, not their size: spans that
    hold many events each take proportionally more (lower
    ``max_queue_size`` where memory is tight).
    """

    max_queue_size: int = 8192
    max_batch_size: int = 2048
    schedule_delay: float = 1.0  # seconds between exports when the queue is not full
    #: The largest export request, in encoded bytes: a batch whose request
    #: would be larger goes in parts (see :func:`parts_within`), and an item
    #: larger alone is made smaller (``fit``) or not sent. The Collector's
    #: OTLP/gRPC receiver refuses messages over 4 MiB by default
    #: (``max_recv_msg_size_mib``): 2048 spans of 10 events each make ~8 MB.
    max_export_bytes: int = 4_000_000


@dataclass
class ExportStats:
    """Counters of one signal's pipeline (spans or log records)."""

    exported: int = 0
    dropped: int = 0  # pushed out of a full queue
    failed: int = 0  # in a batch the exporter did not deliver

    def as_dict(self) -> dict[str, int]:
        return {
            "exported": self.exported,
            "dropped": self.dropped,
            "failed": self.failed,
        }

    @property
    def used(self) -> bool:
        """True once anything was counted."""
        return bool(self.exported or self.dropped or self.failed)

    def add(self, other: ExportStats) -> None:
        """Fold ``other``'s counts into these."""
        self.exported += other.exported
        self.dropped += other.dropped
        self.failed += other.failed


#: The encoded size in bytes of the export request a part makes (None: unknown).
Measure = Callable[[Sequence[T]], Optional[int]]
#: Makes one item's request smaller (a span without its largest events, a
#: log record with its longest values cut):
#: ``fit(item, size, limit, measure)``, given the size of the item's request
#: alone, returns the item itself or a smaller copy.
Fit = Callable[[T, int, int, Measure[T]], T]


def parts_within(
    batch: Sequence[T],
    measure: Measure[T],
    limit: int,
    fit: Optional[Fit[T]] = None,
) -> Iterator[tuple[Sequence[T], Optional[int]]]:
    """``batch`` in order, in parts whose export request ``measure`` finds
    at most ``limit`` bytes, each with its measured size (None: unknown):
    the whole batch when it fits (the common case), else split into as many
    even parts as its size needs, each measured again (items differ in
    size) and split further if it must. A single item over the limit is
    given to ``fit`` and yielded as ``fit`` returns it, over the limit or
    not (the caller decides: see :meth:`BoundedBatchProcessor._send`). A
    part ``measure`` cannot size (or raises on) is yielded with size None.
    Parts are measured just before they are yielded, so the exporter can
    reuse the bytes measured (:class:`opslog.otel.internals.RequestSizes`)."""
    pending: list[Sequence[T]] = [batch]
    while pending:
        part = pending.pop()
        size = _size(measure, part)
        if size is None or size <= limit:
            yield part, size
            continue
        if len(part) == 1:
            if fit is not None:
                try:
                    smaller = fit(part[0], size, limit, measure)
                except Exception:
                    smaller = part[0]
                part = [smaller]
                size = _size(measure, part)  # measured last: its bytes are the ones sent
            yield part, size
            continue
        pieces = size // limit + 1
        step = -(-len(part) // pieces)  # ceiling division
        pending.extend(reversed([part[i : i + step] for i in range(0, len(part), step)]))


def _size(measure: Measure[T], part: Sequence[T]) -> Optional[int]:
    try:
        return measure(part)
    except Exception:
        return None


class _Tally:
    """A count kept per thread, without a lock: each thread adds to its own cell."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._cells: list[list[int]] = []
        self._lock = threading.Lock()

    def add(self) -> None:
        try:
            self._local.cell[0] += 1
        except AttributeError:  # this thread's first item
            cell = [1]
            self._local.cell = cell
            with self._lock:
                self._cells.append(cell)

    def total(self) -> int:
        return sum(cell[0] for cell in list(self._cells))


class BoundedBatchProcessor(Generic[T]):
    """Queue + worker around ``export(batch) -> bool`` (``True`` = delivered).

    The caller's whole cost is an append to a bounded deque (which evicts the
    oldest item itself, in O(1)) and a per-thread count; the worker does the
    rest. Batches are full: a partial batch goes only when the schedule delay
    has passed, or at a flush or shutdown. Counters are exact, derived rather
    than counted on the hot path (so no check-then-append race): every item
    produced is exported, failed, dropped or pending.
    """

    def __init__(
        self,
        signal: str,
        export: Callable[[Sequence[T]], bool],
        shutdown_exporter: Callable[[], None],
        settings: BatchSettings,
        probe: Optional[Callable[[], Optional[str]]] = None,
        reachable: Optional[Callable[[], bool]] = None,
        measure: Optional[Measure[T]] = None,
        fit: Optional[Fit[T]] = None,
    ) -> None:
        self.signal = signal
        self._export = export
        #: The encoded size of a batch's export request (None: unknown); a
        #: batch over ``settings.max_export_bytes`` is sent in parts.
        self._measure = measure
        #: Makes a single item over the limit smaller (see :func:`parts_within`).
        self._fit = fit
        #: Whether the endpoint accepts a connection now (cheap: no encoding,
        #: nothing sent); asked before exporting after a failure. ``None``:
        #: always try the exporter.
        self._reachable = reachable
        self._shutdown_exporter = shutdown_exporter
        self.settings = settings
        #: Asked once, after the first failed export: a message when the
        #: endpoint does not take this signal at all (HTTP 404/405, gRPC
        #: UNIMPLEMENTED), else None.
        self._probe = probe
        self._probed = False
        #: Set when the endpoint refuses the signal: nothing more is sent.
        self.refused: Optional[str] = None
        self._reported_losses = 0
        self._init_worker()
        _LIVE.add(self)

    def _init_worker(self) -> None:
        # Also the state of a forked child: it starts empty (the parent's
        # queued items are the parent's to deliver).
        self._queue: collections.deque[T] = collections.deque(maxlen=self.settings.max_queue_size)
        self._produced = _Tally()
        self._taken = 0  # popped by the worker
        self._exported = 0
        self._failed = 0
        self._discarded = 0  # popped but not sent (refused signal, given up at shutdown)
        self._closed = False  # after shutdown: what is still queued is dropped
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._flush_requests = 0
        self._flushes_done = 0
        self._in_flight = 0
        self._gave_up = False
        self._stopping = False
        # Backing off after a failure: the worker waits until _retry_at, and
        # the caller stops waking it (its wake threshold is out of reach).
        self._failures = 0  # consecutive failed exports (the backoff grows with them)
        self._endpoint_seen = False  # the endpoint has accepted a connection once
        self._unreachable_reported = False
        self._holding = False
        self._retry_at = 0.0
        self._wake_at = self.settings.max_batch_size
        self._worker = threading.Thread(
            target=self._run, name=f"opslog-{self.signal}-export", daemon=True
        )
        self._worker.start()

    # -- hot path -----------------------------------------------------------
    def add(self, item: T) -> None:
        """Queue ``item``; never blocks. A full queue drops its oldest item."""
        queue = self._queue
        queue.append(item)
        self._produced.add()
        if len(queue) >= self._wake_at and not self._wake.is_set():
            self._wake.set()

    # -- counters -------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Items queued or being exported."""
        return 0 if self._closed else len(self._queue) + self._in_flight

    @property
    def stats(self) -> ExportStats:
        """Exported, dropped and failed items; with :attr:`pending`, they add up
        to every item produced."""
        queued = len(self._queue)
        produced = self._produced.total()
        evicted = max(0, produced - self._taken - queued)
        dropped = evicted + self._discarded + (queued if self._closed else 0)
        return ExportStats(self._exported, dropped, self._failed)

    # -- worker ---------------------------------------------------------------
    def _run(self) -> None:
        token = suppress_instrumentation()  # the exporter's own HTTP calls
        self._next_export = time.monotonic() + self.settings.schedule_delay
        try:
            while True:
                try:
                    if self._round():
                        return
                except Exception as exc:
                    # A fault of opslog's own must not end delivery for good:
                    # a dead worker would leave every later item undelivered.
                    if self._recover(exc):
                        return
        finally:
            if token is not None:
                otel_context.detach(token)  # type: ignore[arg-type]

    def _round(self) -> bool:
        """Wait for work, then export what is due; True once stopped."""
        wake_at = self._retry_at if self._holding else self._next_export
        self._wake.wait(max(0.0, wake_at - time.monotonic()))
        self._wake.clear()
        # Read once: a stop or flush that arrives while this round drains
        # sets the wake flag again, and the next round sees it.
        stopping = self._stopping
        with self._idle:
            flush_target = self._flush_requests
        flushing = stopping or flush_target > self._flushes_done
        now = time.monotonic()
        due = now >= self._next_export
        if self._holding and not flushing:
            if now >= self._retry_at and not self._nobody_there(flushing=False):
                self._release()
                due = True  # up again: send what is queued now
            if self._holding:
                self._report_losses()
                return False
        self._drain(full_only=not (due or flushing), flushing=flushing)
        if due or flushing:
            self._next_export = time.monotonic() + self.settings.schedule_delay
        self._report_losses()
        self._flushed(flush_target)
        return stopping

    def _flushed(self, target: Optional[int] = None) -> None:
        """Flush requests up to ``target`` (None: every one made so far) are
        done: wake who waits on them."""
        with self._idle:
            self._flushes_done = self._flush_requests if target is None else target
            self._idle.notify_all()

    def _recover(self, exc: Exception) -> bool:
        """After an unexpected error in a round: the batch being exported is
        counted failed, the error reported, and the worker backs off before
        the next round (a fault that repeats must not spin). True when
        stopping: the stop ends here, with what was counted."""
        try:
            self._failed += self._in_flight
            self._in_flight = 0
            _diagnostics.report(
                _diagnostics.INTERNAL_ERROR,
                f"the {self.signal} export thread: {type(exc).__name__}; "
                "the batch being exported is counted failed, export goes on",
            )
            if self._stopping:
                self._flushed()
                return True
            self._back_off()
        except Exception:
            return self._stopping
        return False

    def _endpoint_up(self) -> bool:
        try:
            return self._reachable is None or bool(self._reachable())
        except Exception:
            return True  # a check that fails says nothing: let the exporter try

    def _back_off(self) -> None:
        """Wait before the next try; the caller stops waking the worker."""
        self._failures += 1
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(self._failures - 1, 16))
        self._retry_at = time.monotonic() + delay
        self._holding = True
        self._wake_at = sys.maxsize

    def _nobody_there(self, flushing: bool) -> bool:
        """Whether the endpoint takes no connection now. If so, it is said
        once per outage, and what is queued fails at once (a flush or stop)
        or waits out a backoff."""
        if self._endpoint_up():
            self._endpoint_seen = True
            self._unreachable_reported = False
            return False
        if not self._unreachable_reported:
            self._unreachable_reported = True
            self._report_unreachable()
        if flushing:
            self._fail_queued()
        else:
            self._back_off()
        return True

    def _report_unreachable(self) -> None:
        _diagnostics.report(
            _diagnostics.EXPORT_UNREACHABLE,
            f"the collector accepts no connection: {self.signal} wait in the queue "
            f"(the newest {self.settings.max_queue_size}; older ones are counted as "
            f"dropped) and are sent once it does; checked every {BACKOFF_MAX:g} s at most",
        )

    def _release(self) -> None:
        self._holding = False
        self._wake_at = self.settings.max_batch_size

    def _fail_queued(self) -> None:
        """The endpoint is down at a flush or shutdown: what is queued cannot
        go; count it failed now rather than wait out the exporter's retries."""
        queue = self._queue
        failed = 0
        try:
            while True:
                queue.popleft()
                failed += 1
        except IndexError:
            pass
        self._taken += failed
        self._failed += failed

    def _drain(self, full_only: bool, flushing: bool = False) -> None:
        # Before the first export, and after a failure: is anyone there?
        checking = self._failures or not self._endpoint_seen
        if checking and self._queue and self._nobody_there(flushing):
            return
        queue = self._queue
        full = self.settings.max_batch_size
        while True:
            # Full batches once an export has succeeded and none failed since.
            size = full if self._exported and not self._failures else min(PROBE_BATCH, full)
            if not (len(queue) >= size or (queue and not full_only)):
                return
            batch: list[T] = []
            try:
                while len(batch) < size:
                    batch.append(queue.popleft())
            except IndexError:
                pass
            if not batch:
                return
            self._in_flight = len(batch)
            self._taken += len(batch)
            if self.refused is not None:
                self._in_flight = 0
                self._discarded += len(batch)  # the endpoint takes no such signal: not sent
                continue
            settled = self._send(batch)
            self._in_flight = 0
            if self._gave_up:
                return  # shutdown already counted the undelivered rest as dropped
            if settled == len(batch):
                self._failures = 0
                if self._holding:
                    self._release()
            else:
                self._failed += len(batch) - settled
                self._check_refused()
                self._back_off()
                if not flushing or self._nobody_there(flushing=True):
                    return  # the next try after the backoff, or nothing left

    def _send(self, batch: list[T]) -> int:
        """Export ``batch``, in parts within the byte limit; how many items
        were settled: delivered, or not sent because even alone (and made
        smaller by ``fit``) an item's request is over the limit (counted
        failed and reported here: the receiver would refuse it, and the
        endpoint is not failing). Each part is counted as it lands; the
        first part that fails ends the batch (its rest is counted failed by
        the caller: the endpoint is failing, the next try waits for the
        backoff)."""
        settled = 0
        limit = self.settings.max_export_bytes
        parts: Iterator[tuple[Sequence[T], Optional[int]]] = (
            parts_within(batch, self._measure, limit, self._fit)
            if self._measure is not None
            else iter(((batch, None),))
        )
        for part, size in parts:
            if size is not None and size > limit:
                self._too_large(size, limit)
                settled += 1
                continue
            try:
                ok = self._export(part)
            except Exception:
                ok = False
            if not ok or self._gave_up:
                break
            settled += len(part)
            self._exported += len(part)
            self._in_flight -= len(part)
        return settled

    def _too_large(self, size: int, limit: int) -> None:
        """Count and report one item not sent: its request alone is ``size`` bytes."""
        self._failed += 1
        self._in_flight -= 1
        self._reported_losses += 1  # said here, with its cause
        _diagnostics.report(
            _diagnostics.EXPORT_LOSS,
            f"one of the {self.signal} was not sent: alone it makes a request of {size} "
            f"bytes, over max_export_bytes={limit}, which the receiver would refuse (raise "
            "max_export_bytes if the collector takes larger requests)",
        )

    def _check_refused(self) -> None:
        """After the first failed export: does the endpoint take this signal at all?"""
        if self._probed or self._probe is None:
            return
        self._probed = True
        try:
            reason = self._probe()
        except Exception:
            reason = None
        if reason is not None:
            self.refused = reason
            stats = self.stats
            self._reported_losses = stats.dropped + stats.failed  # said once, here
            _diagnostics.report(_diagnostics.EXPORT_UNSUPPORTED, reason)

    def _report_losses(self) -> None:
        if self.refused is not None:
            return  # reported once, with the fix, when it was found
        stats = self.stats
        losses = stats.dropped + stats.failed
        new = losses - self._reported_losses
        if new > 0:
            self._reported_losses = losses
            _diagnostics.report(
                _diagnostics.EXPORT_LOSS,
                f"{new} {self.signal} not delivered to the collector "
                f"(in all: {stats.dropped} dropped from a full queue, "
                f"{stats.failed} in failed exports)",
                new,
            )

    # -- bounded waits ------------------------------------------------------------
    def force_flush(self, timeout: float) -> bool:
        """Export what is queued; ``False`` if the deadline came first."""
        if not self._worker.is_alive():
            return False
        deadline = time.monotonic() + max(0.0, timeout)
        with self._idle:
            self._flush_requests += 1
            target = self._flush_requests
        self._wake.set()
        with self._idle:
            while self._flushes_done < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def shutdown(self, timeout: float) -> bool:
        """Flush, stop the worker and shut the exporter down, all by the deadline."""
        deadline = time.monotonic() + max(0.0, timeout)
        if self._stopping:
            return True
        self._stopping = True
        _LIVE.discard(self)
        self._wake.set()
        self._worker.join(max(0.0, deadline - time.monotonic()))
        finished = not self._worker.is_alive()
        if not finished:
            # A stuck export: neither its batch nor the queue will be delivered.
            self._gave_up = True
            self._discarded += self._in_flight
            self._in_flight = 0
        self._closed = True  # anything queued from now on is dropped
        self._report_losses()
        closer = threading.Thread(
            target=self._close_exporter, name=f"opslog-{self.signal}-close", daemon=True
        )
        closer.start()
        closer.join(max(0.0, deadline - time.monotonic()))
        return finished and not closer.is_alive()

    def _close_exporter(self) -> None:
        try:
            self._shutdown_exporter()
        except Exception:
            pass


class _ExporterBatch:
    """Exporter + :class:`BoundedBatchProcessor`, shared by the two signal processors."""

    signal = ""

    def __init__(
        self,
        exporter: Any,
        settings: BatchSettings,
        probe: Optional[Callable[[], Optional[str]]] = None,
        reachable: Optional[Callable[[], bool]] = None,
        measure: Optional[Measure[Any]] = None,
        fit: Optional[Fit[Any]] = None,
    ) -> None:
        self.exporter = exporter
        self.batch: BoundedBatchProcessor[Any] = BoundedBatchProcessor(
            self.signal, self._export, exporter.shutdown, settings, probe, reachable, measure, fit
        )

    def _export(self, items: Sequence[Any]) -> bool:
        result = self.exporter.export(items)
        return getattr(result, "name", "") == "SUCCESS"

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.batch.force_flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        self.batch.shutdown(5.0)


class SpanBatchProcessor(_ExporterBatch, SpanProcessor):
    """The span side: ended (sampled) spans into a :class:`BoundedBatchProcessor`."""

    signal = "spans"

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self.batch.add(span)


class LogProcessor(_ExporterBatch, LogRecordProcessor):
    """The log side: emitted log records into a :class:`BoundedBatchProcessor`."""

    signal = "log records"

    def on_emit(self, log_record: Any) -> None:
        self.batch.add(log_record)


#: Processors not shut down: after ``fork()`` the child restarts the workers
#: of these only (a replaced, stopped processor stays stopped), so a child
#: never runs more export threads than its parent.
_LIVE: weakref.WeakSet[BoundedBatchProcessor[Any]] = weakref.WeakSet()


def _restart_workers_in_child() -> None:
    for processor in list(_LIVE):
        processor._init_worker()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_workers_in_child)
