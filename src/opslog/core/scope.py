"""What operations and steps share: a span, its events, its children, how it ends.

A :class:`Scope` is one span plus the fixed part of its events' required
fields (computed once, at start). Operations and steps
(:mod:`opslog.core.operation`) are scopes; everything they log goes through
:func:`opslog.channels.emit.emit`.

**Activation.** Starting a scope makes it current in the calling thread or
task (as ``tracer.start_as_current_span`` would), so instrumented HTTP
clients and :func:`opslog.current_correlation_id` see it. Ending it restores
what was current before, exactly, in the thread or task that ends it: the
current context becomes the one that was current when the scope started,
going further down past scopes that ended earlier (out of order). If
third-party code made its own span current on top, that context is left to
its owner. A scope ended from another thread or task cannot change the
current context of the thread that started it; the span in that context is
an :class:`~opslog.otel.activation.LiveSpan`, which from then on stands for
what was current before the scope started, so no span is ever parented to an
ended opslog span. That thread's context is cleaned up the next time it
starts or ends a scope. Parentage never depends on activation: a step is a child of
the object it was started from, whichever thread starts it.

**Ending.** ``end_*`` is the only way a span ends, and it happens once. A
second ``end_*`` is ignored (the first status stands) and reported as the
``double_end`` self-diagnostic; this makes Go's ``defer EndOperation
("completed")`` next to an early ``EndOperation("failed")`` do the right
thing. Ending a scope first ends its still-open children (sub-steps and
child operations) with status ``abandoned``. A scope started on a scope that
has ended is refused: it gets no span, a diagnostic is reported, and its
events reach the log channels marked ``opslog.after_end``.

**Context managers.** ``with`` ends the scope ``completed``, or, when the
block raises, records the exception (``step_error`` plus a semantic
conventions ``exception`` span event) and ends it ``failed``
(``cancelled`` for a ``BaseException`` that is not an ``Exception``; a
generator closed early by its consumer ends ``completed``); the exception
propagates unchanged. An exception already recorded by an inner step is not
recorded again by its operation, which ends ``failed`` with
``failure_step`` naming that step.

**Memory.** A scope's context holds the scope (so ``current_step()`` and the
:class:`~opslog.otel.activation.LiveSpan` can find it), and a running scope
holds its context. Once the scope has ended it keeps its context only
weakly, so an ended span, its events and its attributes are freed by
reference counting as soon as nothing else uses them, not by the cyclic
garbage collector much later. Without this, every span waited in memory for
a full collection, whose cost grows with everything in memory (the export
queue too): with the collector down that made the caller ~1.5x slower.
"""

from __future__ import annotations

import threading
import time
import weakref
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Optional, TypeVar

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Status, StatusCode

from .. import _config, _diagnostics
from .._config import get_settings
from ..channels.emit import emit
from ..fields.durations import elapsed_seconds, format_duration
from ..fields.errors import classify_error
from ..otel.activation import LiveSpan, context_with_span
from ..otel.correlation import SCOPE_KEY, with_job_baggage
from ..otel.internals import SpanEventAdder, events_dropped, span_event_adder
from ..otel.providers import start_span, unrecorded_span
from ..vocabulary import (
    FIELD_CORRELATION_ID,
    FIELD_JOB_ID,
    FIELD_OPERATION,
    FIELD_PARENT_STEP,
    FIELD_STEP,
    STATUS_ABANDONED,
    STATUS_CANCELLED,
    STATUS_COMPLETED,
    STATUS_FAILED,
    STATUS_RETRYING,
    STEP_DURATION,
    STEP_ERROR,
    Level,
)
from . import lifecycle

if TYPE_CHECKING:
    from opentelemetry.trace import Span

__all__ = ["Scope", "restore_live_context"]

_S = TypeVar("_S", bound="Scope")

#: Set on an exception once a scope has recorded it, to the step name.
_RECORDED_ATTR = "__opslog_failure_step__"

#: Guards the "already ending?" test-and-set of every scope: held for two
#: attribute operations, cheaper than a lock per span.
_closing_lock = threading.Lock()

# Read per event: a module global is several times faster than Level.X (an enum lookup).
_DEBUG_LEVEL = Level.DEBUG
_INFO_LEVEL = Level.INFO
_WARN_LEVEL = Level.WARN
_ERROR_LEVEL = Level.ERROR

#: A safety bound on following chains of ended scopes.
_MAX_HOPS = 10_000


def restore_live_context() -> Context:
    """Make current, in this thread or task, the context that was current
    before the ended scopes on top of it started; returns it.

    Only contexts that are exactly an ended scope's own are undone: a
    context someone else made current on top is theirs to undo.
    """
    current = context.get_current()
    restored = current
    for _ in range(_MAX_HOPS):
        scope = restored.get(SCOPE_KEY)  # a Context is a dict: what get_value reads
        if not isinstance(scope, Scope) or not scope.ended or scope._own_context() is not restored:
            break
        restored = scope._outer_context
    if restored is not current:
        context.attach(restored)
    return restored


class Scope:
    """A span with opslog's bookkeeping. Not instantiated directly.

    Steps are started by the thousand: everything here that is paid per
    span is kept to plain attribute and dict operations (``__slots__``, the
    required fields shared by an operation and its steps, no lock per span).
    """

    # A dict: the public slots get their docstrings (help(), the API docs).
    __slots__ = {
        "__weakref__": None,
        "_add_span_event": None,
        "_base_context": None,
        "_closing": None,
        "_context": None,
        "_event_tail": None,
        "_failure_step": None,
        "_last_error": None,
        "_open_children": None,
        "_outer_context": None,
        "_parent_span_id": None,
        "_required": None,
        "_sdk_span_context": None,
        "_span_context": None,
        "_span_id": None,
        "_started": None,
        "_step_field": None,
        "correlation_id": "The correlation id: the trace id, 32 lowercase hex digits.",
        "ended": "True once the span has ended (a second end is ignored).",
        "job_id": "The job id every event of this scope carries.",
        "name": "The scope's name: the operation's or the step's.",
        "operation_name": "The name of the operation it belongs to (its own for an operation).",
        "parent": "The scope it was started from (None for a root operation).",
        "span": "The OpenTelemetry span (a non-recording one without an SDK).",
    }

    #: ``"operation"`` or ``"step"``.
    kind: ClassVar[str] = "scope"
    #: The end event and the names of its duration fields.
    _end_event: ClassVar[str]
    _duration_fields: ClassVar[tuple[str, str]]
    #: What :meth:`_end_extras` gives when no child was abandoned (copied).
    _no_abandoned_extras: ClassVar[dict[str, object]] = {}
    #: Put ``job_id``/``correlation_id`` into the context's W3C baggage.
    _carries_job_baggage: ClassVar[bool] = False

    #: The scope's name (operation or step name).
    name: str
    #: The correlation id (= trace id, 32 hex digits) and job id of its events.
    correlation_id: str
    job_id: str
    #: The name of the operation it belongs to (its own name for an operation).
    operation_name: str
    #: The scope it was started from (``None`` for a root operation).
    parent: Optional[Scope]
    #: True once the span has ended.
    ended: bool
    #: The OpenTelemetry span (a non-recording one without an SDK).
    span: Span
    _span_context: trace.SpanContext
    _parent_span_id: Optional[str]

    def __init__(
        self,
        name: str,
        required: dict[str, str],
        step: str,
        parent: Optional[Scope],
        parent_context: Optional[Context],
        span_attributes: Optional[dict[str, Any]],
        pinned_trace_id: int = 0,
        parent_step: Optional[str] = None,
    ) -> None:
        self.name = name
        self._required = required
        self.correlation_id = required[FIELD_CORRELATION_ID]
        self.job_id = required[FIELD_JOB_ID]
        self.operation_name = required[FIELD_OPERATION]
        self._step_field = step
        tail = {FIELD_PARENT_STEP: parent_step} if parent_step is not None else {}
        self._event_tail = {**tail, **required, FIELD_STEP: step}
        self.parent = parent
        self.ended = False
        self._closing = False
        self._open_children: Optional[dict[int, Scope]] = None
        self._last_error: Optional[str] = None
        self._failure_step: Optional[str] = None
        attributes: dict[str, Any] = {**required, "opslog.kind": self.kind}
        if span_attributes:
            attributes.update(span_attributes)
        # The thread's context, cleaned of scopes that ended elsewhere.
        self._outer_context = outer = restore_live_context()
        refused = parent is not None and parent._closing
        if refused:
            # Started on a scope that has ended: no span may be parented to an
            # ended opslog span, and nothing would ever end this one. It gets
            # ids in the same trace (so its events still correlate) and is
            # born ended: its events reach the log channels, marked after_end.
            assert parent is not None
            span: Span = unrecorded_span(parent._span_context)
            self._closing = self.ended = True
            _diagnostics.report(
                _diagnostics.CALL_AFTER_END,
                f"{self.kind} {name!r} started on {parent.kind} {parent.name!r} "
                "after it ended: refused (no span; events go to the log channels)",
            )
        else:
            span = start_span(
                name,
                parent_context,
                pinned_trace_id=pinned_trace_id,
                attributes=attributes,
                parent_span_context=parent._span_context if parent is not None else None,
            )
        self.span = span
        self._span_context = span.get_span_context()
        self._span_id: Optional[str] = None  # its hex form, made when first read
        # A step's parent span id is formatted when first read (rarely).
        self._parent_span_id = None if parent is not None else _root_parent_id(parent_context)
        self._add_span_event: SpanEventAdder = span_event_adder(span)
        base = parent_context if parent_context is not None else outer
        if self._carries_job_baggage:
            # So any propagator (ours, or auto-instrumentation's) carries the job.
            base = with_job_baggage(base, self.job_id, self.correlation_id)
        self._base_context = base
        self._sdk_span_context: Optional[Context] = None
        self._context: Any = _scope_context(self, base)
        self._started = time.perf_counter()
        if refused:
            self._context = weakref.ref(self._context)  # never current: nothing to keep
            return
        if parent is not None:
            children = parent._open_children
            if children is None:
                children = parent._open_children = {}
            # A single dict write is atomic: no lock (see _close).
            children[id(self)] = self
        context.attach(self._context)

    # -- introspection ----------------------------------------------------
    @property
    def otel_context(self) -> Context:
        """The OpenTelemetry ``Context`` this scope runs in (its span current,
        the job in the W3C baggage): pass it to code that takes a context."""
        own = self._own_context()
        return own if own is not None else _scope_context(self, self._base_context)

    def _sdk_context(self) -> Context:
        """Its base context with its SDK span itself current, not the
        :class:`LiveSpan`: what the SDK reads when it starts a child span or
        stamps a log record (it reads the current span several times per
        start; one context per scope, made when first needed). The span's ids
        stay right after it ended (for events marked ``after_end``)."""
        made = self._sdk_span_context
        if made is None:
            made = self._sdk_span_context = trace.set_span_in_context(self.span, self._base_context)
        return made

    def _own_context(self) -> Optional[Context]:
        """The context this scope made current; ``None`` once it has ended
        and nothing uses that context any more (see "Memory" above)."""
        own = self._context
        return own() if isinstance(own, weakref.ref) else own

    @property
    def span_context(self) -> trace.SpanContext:
        """The span's ``SpanContext`` (its trace id is the correlation id)."""
        return self._span_context

    @property
    def span_id(self) -> str:
        """The span id, 16 hex digits."""
        hex_id = self._span_id
        if hex_id is None:
            hex_id = self._span_id = format(self._span_context.span_id, "016x")
        return hex_id

    @property
    def parent_span_id(self) -> str:
        """The parent span id, 16 hex digits, or "" for a trace root."""
        if self._parent_span_id is None:
            assert self.parent is not None
            self._parent_span_id = format(self.parent._span_context.span_id, "016x")
        return self._parent_span_id

    def __repr__(self) -> str:
        state = "ended" if self.ended else "open"
        return f"<{type(self).__name__} {self.name!r} {state} correlation_id={self.correlation_id}>"

    # -- events -------------------------------------------------------------
    def _record_error(
        self,
        step: Optional[str],
        message: object,
        err: object,
        fields: object,
    ) -> None:
        """``step_error`` with the error classification; never raises."""
        settings = get_settings()
        defaults = classify_error(err, settings.error_classifier)
        exception = err if isinstance(err, BaseException) else None
        emit(
            self,
            STEP_ERROR,
            _ERROR_LEVEL,
            message,
            step=step,
            fields=fields,
            defaults=defaults,
            exception=exception,
        )
        self._last_error = settings.coercer.any_text(defaults.get("error", ""))
        self._failure_step = self._step_field if step is None else settings.coercer.name(step)
        if exception is not None:
            try:
                setattr(exception, _RECORDED_ATTR, self._failure_step)
            except Exception:
                pass

    def _log_duration(self, step: Optional[str], start: object) -> None:
        seconds = elapsed_seconds(start)
        if seconds is None:
            extras: dict[str, object] = {"duration_ms": -1, "duration_str": "unknown"}
            message = (
                f"duration unknown: a start value of type {type(start).__name__} that is not "
                "a time.perf_counter() reading, a datetime or a timedelta"
            )
        else:
            extras = {
                "duration_ms": round(seconds * 1000),
                "duration_str": format_duration(seconds),
            }
            message = f"took {extras['duration_str']}"
        emit(self, STEP_DURATION, _INFO_LEVEL, message, step=step, extras=extras)

    # -- ending ---------------------------------------------------------------
    def _close(
        self,
        status: object,
        fields: object,
        defaults: Optional[dict[str, object]] = None,
    ) -> bool:
        """End this scope once. Returns False (and reports) if already ended.

        The span always ends, whatever goes wrong on the way (a status that
        cannot be read becomes a placeholder, reported as ``status_replaced``).
        """
        with _closing_lock:  # one end wins, whichever thread calls
            already = self._closing
            self._closing = True
        status_text = _status_text(status)
        if already:
            _diagnostics.report(
                _diagnostics.DOUBLE_END,
                f"{self.kind} {self.name!r} ended again with status {status_text!r}; "
                "the first end stands",
            )
            restore_live_context()  # it may have ended in another thread: clean up here
            return False
        dropped = 0
        try:
            extras = (
                self._end_extras(self._abandon_children())
                if self._open_children
                else dict(self._no_abandoned_extras)
            )
            seconds = time.perf_counter() - self._started
            ms_key, str_key = self._duration_fields
            # Counted before the end event is added; it may push out one more.
            dropped = events_dropped(self.span, adding=1)
            extras["status"] = status_text
            extras[ms_key] = round(seconds * 1000)
            extras[str_key] = format_duration(seconds)
            extras["span_events_dropped"] = dropped
            failed = status_text == STATUS_FAILED
            if failed and self._failure_step is not None:
                defaults = {"failure_step": self._failure_step, **(defaults or {})}
            emit(
                self,
                self._end_event,
                _ERROR_LEVEL if failed else _INFO_LEVEL,
                f"{self.kind} {self.name} {status_text}",
                fields=fields,
                extras=extras,
                defaults=defaults,
            )
            if failed and self.parent is not None:
                # The parent learns which step failed, for its own end.
                self.parent._failure_step = self._failure_step or self.name
                self.parent._last_error = self._last_error or self.parent._last_error
        except Exception as exc:  # pragma: no cover - defensive
            _diagnostics.report(_diagnostics.INTERNAL_ERROR, f"ending: {type(exc).__name__}")
        finally:
            self._end_span(status_text, dropped)
        return True

    def _end_extras(self, abandoned: list[Scope]) -> dict[str, object]:
        """The end event's own fields before status and duration (a new dict):
        how many still-open children were ended as abandoned."""
        if not abandoned:
            return {}
        operations = sum(1 for child in abandoned if child.kind == "operation")
        return {
            "abandoned_steps": len(abandoned) - operations,
            "abandoned_child_operations": operations,
        }

    def _abandon_children(self) -> list[Scope]:
        """End the still-open children as ``abandoned``; returns them."""
        # Children add and remove themselves with single dict operations,
        # which are atomic; list() of the values is one too.
        children = list(self._open_children.values()) if self._open_children else []
        for child in children:
            child._close(STATUS_ABANDONED, None)
        if children:
            _diagnostics.report(
                _diagnostics.ABANDONED,
                f"{len(children)} open step(s)/child operation(s) of {self.kind} "
                f"{self.name!r} ended as abandoned",
                len(children),
            )
        return children

    def _end_span(self, status: str, dropped: int) -> None:
        span = self.span
        try:
            span.set_attribute("opslog.status", status)
            if dropped:
                span.set_attribute("opslog.span_events_dropped", dropped)
                _diagnostics.report(
                    _diagnostics.SPAN_EVENTS_DROPPED,
                    f"{self.kind} {self.name!r}: {dropped} span event(s) beyond the span's "
                    "event limit (all of them are on the log channels)",
                    dropped,
                )
            if status == STATUS_FAILED:
                description = self._last_error or f"{self.kind} {self.name} failed"
                span.set_status(Status(StatusCode.ERROR, description))
            span.end()
        finally:
            self.ended = True
            own = self._context
            outer = self._outer_context
            top = outer.get(SCOPE_KEY)
            if context.get_current() is own and not (isinstance(top, Scope) and top.ended):
                context.attach(outer)  # ended in order: what was current before it
            else:
                restore_live_context()
            self._context = weakref.ref(own)  # see "Memory" above
            parent = self.parent
            if parent is None:
                lifecycle.unregister(self)  # only root operations are registered
            elif parent._open_children is not None:
                parent._open_children.pop(id(self), None)

    # -- context manager protocol ---------------------------------------------
    def _end_for_exit(self, status: str) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self._closing:
            return
        if exc is None or isinstance(exc, GeneratorExit):
            # GeneratorExit: the consumer of a traced generator stopped early.
            self._end_for_exit(STATUS_COMPLETED)
            return
        recorded = getattr(exc, _RECORDED_ATTR, None)
        if isinstance(recorded, str):
            self._failure_step = recorded
        else:
            self._record_error(
                None, f"{self.kind} {self.name} raised {type(exc).__name__}", exc, None
            )
        self._end_for_exit(STATUS_FAILED if isinstance(exc, Exception) else STATUS_CANCELLED)

    async def __aenter__(self: _S) -> _S:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def _scope_context(scope: Scope, base: Context) -> Context:
    """``base`` with ``scope`` and its :class:`LiveSpan` in it."""
    return context_with_span(base, LiveSpan(scope), SCOPE_KEY, scope)


def _root_parent_id(parent_context: Optional[Context]) -> str:
    """The span id (16 hex digits) of the span in ``parent_context`` a scope
    without a parent scope starts under: "" for a trace root."""
    if parent_context is None:
        return ""
    span_context = trace.get_current_span(parent_context).get_span_context()
    return format(span_context.span_id, "016x") if span_context.is_valid else ""


#: Statuses taken as given: opslog's own words are never redacted.
_OWN_STATUSES = frozenset(
    (STATUS_COMPLETED, STATUS_FAILED, STATUS_ABANDONED, STATUS_CANCELLED, STATUS_RETRYING)
)


def _status_text(status: object) -> str:
    """The end status as text: opslog's own words as they are, anything
    else through the name rule; never raises."""
    if status is None:
        return STATUS_COMPLETED
    if type(status) is str and status in _OWN_STATUSES:
        return status
    text = _config._settings.coercer.name(status)
    if text.startswith("<unrepresentable "):
        _diagnostics.report(
            _diagnostics.STATUS_REPLACED,
            f"an end status could not be read; the scope ended with status {text!r}",
        )
    return text or STATUS_COMPLETED
