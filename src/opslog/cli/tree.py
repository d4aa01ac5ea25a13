"""``opslog tree``: operations drawn as trees from opslog JSON lines.

One pass over the input. Each root operation (one whose parent span is not
in the input) is drawn when its ``operation_end`` arrives, with its steps
and child operations as branches and their events underneath; what is
still open at the end of the input is drawn as ``running``. Only the open
trees are held in memory, and each node keeps at most ``max_events`` events
(the first half and the last half, with the number left out in between), so
a 1 GB file takes bounded memory. An operation of another service that
continues the same trace (its parent is that service's client span, which
is not an event) is drawn inside the open root with the same correlation id.

Output is deterministic: the same input gives the same tree.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from ..channels.console import field_text, one_line
from ..vocabulary import (
    CHILD_OPERATION_START,
    FIELD_MESSAGE,
    FIELD_PARENT_STEP,
    FIELD_STEP,
    JSON_LINE_KEYS,
    OPERATION_END,
    OPERATION_START,
    OPERATION_STEP,
    REQUIRED_FIELDS,
    STEP_END,
    STEP_START,
)
from .logread import event_time

__all__ = ["Node", "TreeBuilder", "TreeFilter", "render"]

_STARTS = (OPERATION_START, CHILD_OPERATION_START, STEP_START)
_ENDS = (STEP_END, OPERATION_END)
_STRUCTURAL = frozenset((*_STARTS, *_ENDS))
#: Fields not repeated on event lines: shown in the headers, or opslog's own.
_HIDDEN = frozenset(
    (
        *JSON_LINE_KEYS,
        FIELD_MESSAGE,
        FIELD_PARENT_STEP,
        *REQUIRED_FIELDS,
        "exception.stacktrace",
        "span_events_dropped",
        "abandoned_steps",
        "abandoned_child_operations",
        "status",
        "step_duration_ms",
        "step_duration_str",
        "total_duration_ms",
        "total_duration_str",
        "parent_operation",
        "child_operation",
    )
)
_RED, _YELLOW, _DIM, _BOLD, _RESET = "\x1b[31;1m", "\x1b[33m", "\x1b[2m", "\x1b[1m", "\x1b[0m"


@dataclass
class Node:
    """An operation or a step."""

    kind: str  # "operation" | "step"
    name: str
    span_id: str
    correlation_id: str
    job_id: str
    started: str
    child_operation: bool = False
    status: Optional[str] = None
    duration: Optional[str] = None
    summary: dict[str, Any] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    head: list[dict[str, Any]] = field(default_factory=list)
    tail: list[dict[str, Any]] = field(default_factory=list)
    omitted: int = 0
    partial: bool = False  # its start was not in the input
    remote: bool = False  # continues the trace from another service

    def add_event(self, event: dict[str, Any], limit: int) -> None:
        half = max(1, limit // 2)
        if len(self.head) < half:
            self.head.append(event)
            return
        self.tail.append(event)
        if len(self.tail) > half:
            self.tail.pop(0)
            self.omitted += 1

    def walk(self) -> Iterator[Node]:
        """This node and everything under it, depth first (no recursion: a
        chain of child operations may be thousands deep)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


@dataclass(frozen=True)
class TreeFilter:
    """Which root operations to draw."""

    correlation_id: Optional[str] = None
    job_id: Optional[str] = None
    operation: Optional[str] = None
    status: Optional[str] = None  # a final status, or "running"
    since: Optional[_dt.datetime] = None
    until: Optional[_dt.datetime] = None

    def accepts(self, root: Node) -> bool:
        if self.correlation_id is not None and root.correlation_id != self.correlation_id:
            return False
        if self.job_id is not None and root.job_id != self.job_id:
            return False
        if self.operation is not None and root.name != self.operation:
            return False
        if self.status is not None and (root.status or "running") != self.status:
            return False
        if self.since is not None or self.until is not None:
            started = event_time({"@timestamp": root.started})
            if started is None:
                return False
            if self.since is not None and started < self.since:
                return False
            if self.until is not None and started > self.until:
                return False
        return True


class TreeBuilder:
    """Feed events in order; completed roots come out of :meth:`add`.

    Memory is bounded whatever the input: at most ``max_open_roots`` open
    root operations and ``max_open_nodes`` operations and steps in them. At
    either bound the oldest open root is drawn early (as still running) and
    forgotten; :attr:`evicted` counts them.
    """

    def __init__(
        self, max_events: int = 100, max_open_roots: int = 10_000, max_open_nodes: int = 100_000
    ) -> None:
        self.max_events = max_events
        self.max_open_roots = max_open_roots
        self.max_open_nodes = max_open_nodes
        self.nodes: dict[str, Node] = {}  # span id -> node, open trees only
        self.roots: dict[str, Node] = {}  # span id -> open root, in start order
        self._trace_roots: dict[str, str] = {}  # correlation id -> first open root's span id
        self._root_of: dict[str, str] = {}  # span id -> its root's span id
        #: Open roots drawn early and forgotten to keep memory bounded.
        self.evicted = 0

    def add(self, event: dict[str, Any]) -> list[Node]:
        """Record ``event``; returns the roots it completed (usually none)."""
        span_id = str(event.get("span_id") or "")
        kind = event["event"]
        node = self.nodes.get(span_id)
        if node is None:
            node = self._start(
                event,
                span_id,
                partial=kind not in _STARTS,
            )
        if kind not in _STRUCTURAL:
            node.add_event(event, self.max_events)
        elif kind in _ENDS:
            node.status = str(event.get("status", ""))
            duration = event.get("step_duration_str", event.get("total_duration_str"))
            node.duration = str(duration) if duration is not None else None
            node.summary = {k: v for k, v in event.items() if k not in _HIDDEN}
            if kind == OPERATION_END and span_id in self.roots:
                return [self._finish(span_id)]
        evicted: list[Node] = []
        while self.roots and (
            len(self.roots) > self.max_open_roots or len(self.nodes) > self.max_open_nodes
        ):  # bound memory: the oldest goes out
            evicted.append(self._finish(next(iter(self.roots))))
            self.evicted += 1
        return evicted

    def _start(self, event: dict[str, Any], span_id: str, partial: bool) -> Node:
        kind = event["event"]
        if kind in (OPERATION_START, CHILD_OPERATION_START, OPERATION_END):
            is_operation = True
        elif kind in (STEP_START, STEP_END):
            is_operation = False
        else:  # an event whose span started before the input did: guess by its step
            is_operation = event[FIELD_STEP] == OPERATION_STEP
        node = Node(
            kind="operation" if is_operation else "step",
            name=event["operation"] if is_operation else event["step"],
            span_id=span_id,
            correlation_id=event["correlation_id"],
            job_id=event["job_id"],
            started=event["@timestamp"],
            child_operation=kind == CHILD_OPERATION_START,
            partial=partial,
        )
        parent = self.nodes.get(str(event.get("parent_span_id") or ""))
        if parent is None and is_operation:
            root_id = self._trace_roots.get(node.correlation_id)
            parent = self.roots.get(root_id) if root_id is not None else None
            node.remote = parent is not None
        if parent is None:
            self.roots[span_id] = node
            self._root_of[span_id] = span_id
            self._trace_roots.setdefault(node.correlation_id, span_id)
        else:
            parent.children.append(node)
            self._root_of[span_id] = self._root_of.get(parent.span_id, parent.span_id)
        self.nodes[span_id] = node
        return node

    def _finish(self, root_id: str) -> Node:
        root = self.roots.pop(root_id)
        for node in root.walk():
            self.nodes.pop(node.span_id, None)
            self._root_of.pop(node.span_id, None)
        if self._trace_roots.get(root.correlation_id) == root_id:
            del self._trace_roots[root.correlation_id]
        return root

    def open_roots(self) -> list[Node]:
        """The roots still running, in the order they started."""
        return list(self.roots.values())


def _fields(event: dict[str, Any]) -> str:
    return " ".join(
        f"{one_line(str(k))}={field_text(v, 80)}" for k, v in event.items() if k not in _HIDDEN
    )


def _clock(timestamp: str) -> str:
    # "2025-01-22T10:30:00.123456Z" -> "10:30:00.123"
    return one_line(timestamp[11:23] if len(timestamp) >= 23 else timestamp[:32])


def _header(node: Node, colour: bool, root: bool = False) -> str:
    label = one_line(node.name) + (" (child operation)" if node.child_operation else "")
    if node.remote:
        label += " (another service, same trace)"
    if root:
        label += f"  job_id={one_line(node.job_id)}  correlation_id={one_line(node.correlation_id)}"
    if node.status is None:
        state = f"running since {_clock(node.started)}"
    else:
        state = one_line(node.status + (f" {node.duration}" if node.duration else ""))
    if node.partial:
        state += ", start not in input"
    summary = _fields(node.summary)
    line = f"{label}  [{state}]" + (f"  {summary}" if summary else "")
    if colour:
        if node.status == "failed":
            return f"{_RED}{line}{_RESET}"
        if node.status is None:
            return f"{_BOLD}{line}{_RESET}"
    return line


def _event_line(event: dict[str, Any], node: Node, colour: bool) -> str:
    level = str(event.get("level", ""))
    step = event.get("step")
    where = (
        f"[{one_line(str(step))}] " if node.kind == "operation" and step != OPERATION_STEP else ""
    )
    message = one_line(str(event.get("message", "")))
    text = f"{_clock(event['@timestamp'])} {one_line(level):<5} {where}{message}"
    fields = _fields(event)
    if fields:
        text += f"  {fields}"
    if level == "ERROR":
        text = f"!! {text}"
        if colour:
            text = f"{_RED}{text}{_RESET}"
    elif level == "WARN" and colour:
        text = f"{_YELLOW}{text}{_RESET}"
    return text


#: Deeper levels are drawn at this indentation, with their depth written out:
#: a chain thousands of operations deep must not print megabytes of guides.
MAX_INDENT = 32


def render(root: Node, colour: bool = False) -> list[str]:
    """The lines drawing ``root`` and everything under it (no recursion)."""
    lines = [_header(root, colour, root=True)]
    # (node, prefix of its body, depth); children are pushed in reverse.
    stack: list[tuple[Node, str, int, Optional[str]]] = [(root, "", 0, None)]
    while stack:
        node, prefix, depth, branch = stack.pop()
        if branch is not None:
            label = _header(node, colour)
            if depth > MAX_INDENT:
                label = f"[depth {depth}] {label}"
            lines.append(branch + label)
        guide = prefix + ("│   " if node.children else "    ")
        for event in node.head:
            lines.append(guide + _event_line(event, node, colour))
        if node.omitted:
            lines.append(guide + f"… {node.omitted} more events")
        for event in node.tail:
            lines.append(guide + _event_line(event, node, colour))
        count = len(node.children)
        for index in range(count - 1, -1, -1):
            child = node.children[index]
            last = index == count - 1
            deeper = depth + 1 < MAX_INDENT
            child_prefix = prefix + ("    " if last else "│   ") if deeper else prefix
            stack.append((child, child_prefix, depth + 1, prefix + ("└── " if last else "├── ")))
    return lines


def draw(roots: Iterable[Node], tree_filter: TreeFilter, colour: bool) -> Iterator[str]:
    """Rendered lines of the roots the filter accepts, a blank line after each."""
    for root in roots:
        if tree_filter.accepts(root):
            yield from render(root, colour)
            yield ""
