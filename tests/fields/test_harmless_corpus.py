"""Ordinary data passes unchanged: a corpus of realistic log lines (HTTP access logs, SQL,
Kubernetes events, build output, cloud SDK debug lines, the seed's messages) and field sets
(token counts, image tags, file:line, commit SHAs, trace ids, UUIDs) goes through redaction and
through a log call byte for byte. Each line is one JSON string in corpus/harmless_lines.txt;
each field set one JSON object in corpus/harmless_fields.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import opslog
from opslog.fields.redaction import REDACTED, Redactor
from opslog.testing import capture_events

CORPUS = Path(__file__).parent / "corpus"
LINES = [json.loads(line) for line in (CORPUS / "harmless_lines.txt").read_text().splitlines()]
FIELD_SETS = [
    json.loads(line) for line in (CORPUS / "harmless_fields.jsonl").read_text().splitlines()
]


def test_the_corpus_is_large() -> None:
    assert len(LINES) + len(FIELD_SETS) >= 200


def test_every_line_passes_redaction_unchanged() -> None:
    redactor = Redactor()
    changed = {line: out for line in LINES if (out := redactor.redact_text(line)) != line}
    assert not changed, changed


def _flat(fields: dict[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in fields.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = tuple(value) if isinstance(value, list) else value
    return flat


@pytest.mark.parametrize("index", range(len(FIELD_SETS)))
def test_every_field_set_passes_a_log_call_unchanged(index: int) -> None:
    fields = FIELD_SETS[index]
    with capture_events() as captured:
        op = opslog.new_operation_logger("job").start_operation("op")
        op.log_step("s", LINES[index], fields)
        op.end_operation()
    event = captured.events[1].fields
    assert event["message"] == LINES[index]
    for key, value in _flat(fields).items():
        assert event[key] == value, (key, event[key])
    assert REDACTED not in json.dumps(event)


def test_every_line_passes_a_log_call_unchanged_on_every_output() -> None:
    with capture_events() as captured:
        op = opslog.new_operation_logger("job").start_operation("op")
        for line in LINES:
            op.log_step("s", line, {"line": line})
        op.end_operation()
    events = [e for e in captured.events if e.fields["event"] == "step_info"]
    assert [e.fields["message"] for e in events] == LINES
    assert [e.fields["line"] for e in events] == LINES
    records = [
        r for r in captured.log_records if r.log_record.attributes.get("event") == "step_info"
    ]
    assert [r.log_record.body for r in records] == LINES
