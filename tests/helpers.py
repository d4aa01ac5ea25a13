"""Running a snippet in a fresh interpreter (global OpenTelemetry state is per process)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any


def run_python(code: str, timeout: float = 60) -> Any:
    """Run ``code`` in a new interpreter; it prints one JSON document last."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_script(
    code: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter with ``env`` added to this environment."""
    import os

    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_opslog(
    *args: str,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    cwd: object = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m opslog ARGS`` in a new interpreter (``env`` added to this one's)."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "opslog", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,  # type: ignore[arg-type]
    )


@contextmanager
def logged_messages(logger_name: str) -> Iterator[list[str]]:
    """The messages logged to ``logger_name`` while the block runs."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Keep()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def diagnostic_messages() -> AbstractContextManager[list[str]]:
    """The messages opslog's self-diagnostics log while the block runs."""
    return logged_messages("opslog.diagnostics")


@contextmanager
def in_memory_tracing() -> Iterator[tuple[Any, Any]]:
    """A ``TracerProvider`` whose spans end up, as they end, in an
    ``InMemorySpanExporter``: (provider, exporter). Shut down afterwards."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider, exporter
    finally:
        provider.shutdown()
