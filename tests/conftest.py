from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import context

import opslog
from opslog import _diagnostics
from opslog._config import get_settings, restore_settings
from opslog.channels.console import ConsoleFormatter
from opslog.channels.jsonlines import JsonLinesFormatter
from opslog.fields.redaction import KNOWN_SECRETS
from opslog.testing import Capture, capture_events

CANARY = "canary-7f3a9c1e5b-secret"


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    """Every test starts with default settings, zeroed diagnostics, an empty context."""
    saved = get_settings()
    _diagnostics.reset_diagnostics()
    KNOWN_SECRETS.clear()  # remembered secret values are process-wide
    token = context.attach(context.Context())
    yield
    context.detach(token)
    restore_settings(saved)


@pytest.fixture
def captured() -> Iterator[Capture]:
    with capture_events(level="debug") as capture:
        yield capture


def all_output(capture: Capture) -> str:
    """Every byte of text any channel produced, for secret searches."""
    parts: list[str] = []
    for span in capture.spans:
        parts.append(span.to_json())
    for record in capture.log_records:
        parts.append(record.to_json())
    for record in capture.logging_records:
        parts.append(repr(sorted(record.__dict__.items(), key=lambda kv: kv[0])))
        parts.append(record.getMessage())
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)


def five_outputs(capture: Capture) -> dict[str, str]:
    """What each of the five outputs carried: span events, OpenTelemetry log
    records, stdlib records, the console and JSON lines (the last two as
    opslog's own formatters write the stdlib records)."""
    console, json_lines = ConsoleFormatter(), JsonLinesFormatter()
    stdlib: list[str] = []
    for record in capture.logging_records:
        stdlib.append(repr(sorted(record.__dict__.items(), key=lambda kv: kv[0])))
        stdlib.append(record.getMessage())
        if record.exc_text:
            stdlib.append(record.exc_text)
    return {
        "span events": "\n".join(span.to_json() for span in capture.spans),
        "log records": "\n".join(record.to_json() for record in capture.log_records),
        "stdlib": "\n".join(stdlib),
        "console": "\n".join(console.format(r) for r in capture.logging_records),
        "json lines": "\n".join(json_lines.format(r) for r in capture.logging_records),
    }


def leaked_parts(secret: str, text: str, window: int = 8) -> list[str]:
    """The parts of ``secret`` (every ``window`` characters long) found in ``text``."""
    if len(secret) <= window:
        return [secret] if secret in text else []
    return [
        secret[i : i + window]
        for i in range(len(secret) - window + 1)
        if secret[i : i + window] in text
    ]


__all__ = ["CANARY", "all_output", "five_outputs", "leaked_parts", "opslog"]


@pytest.fixture(autouse=True)
def _reset_pipeline() -> Iterator[None]:
    """Undo whatever a test's opslog.configure() set up (handlers, export)."""
    import logging

    from opslog.export.pipeline import PIPELINE

    logger = logging.getLogger("opslog")
    level, propagate = logger.level, logger.propagate
    yield
    if PIPELINE.config is not None:
        PIPELINE.reset()
    logger.setLevel(level)
    logger.propagate = propagate
