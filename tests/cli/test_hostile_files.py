"""opslog tree and opslog report on hostile files: no line of any content crashes
them, memory stays bounded, and nothing from the file reaches the terminal raw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opslog.cli import main
from opslog.cli.logread import MAX_LINE
from opslog.cli.report import MAX_NAMES, Report
from opslog.cli.tree import TreeBuilder

CID = "4bf92f3577b34da6a3ce929d0e0e4736"


def event(kind: str, span: str, parent: str = "", **fields: Any) -> dict[str, Any]:
    base = {
        "@timestamp": "2025-01-22T10:30:00.000000Z",
        "level": "INFO",
        "msg": "m",
        "message": "m",
        "correlation_id": CID,
        "job_id": "job",
        "operation": "op",
        "step": "_operation",
        "event": kind,
        "span_id": span,
        "parent_span_id": parent,
    }
    return {**base, **fields}


def write(path: Path, *lines: Any) -> Path:
    with path.open("wb") as out:
        for line in lines:
            if isinstance(line, bytes):
                out.write(line + b"\n")
            else:
                out.write(json.dumps(line).encode() + b"\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def both(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run ``opslog tree`` and ``opslog report --json`` on a file; both must succeed."""

    def check(path: Path, *extra: str) -> tuple[str, str]:
        code, tree_out, tree_err = run(capsys, "tree", str(path), *extra)
        assert code == 0, tree_err
        code, report_out, report_err = run(capsys, "report", "--json", str(path), *extra)
        assert code == 0, report_err
        json.loads(report_out)  # always valid JSON
        assert "\x1b" not in tree_out + report_out
        return tree_out, tree_err

    return check


def test_deeply_nested_json_is_a_skipped_line(tmp_path: Path, both: Any) -> None:
    path = write(tmp_path / "f", b"[" * 200_000, b"{" * 100_000)
    _, err = both(path)
    assert "2 line(s) skipped" in err


def test_a_chain_of_three_thousand_child_operations_draws_without_recursion(
    tmp_path: Path, both: Any
) -> None:
    lines = [event("operation_start", f"{0:016x}")]
    for n in range(1, 3000):
        lines.append(
            event("child_operation_start", f"{n:016x}", f"{n - 1:016x}", operation=f"c{n}")
        )
    for n in range(2999, 0, -1):
        lines.append(event("operation_end", f"{n:016x}", f"{n - 1:016x}", status="completed"))
    lines.append(event("operation_end", f"{0:016x}", status="completed"))
    out, _ = both(write(tmp_path / "f", *lines))
    assert "[depth 2999]" in out
    assert max(len(line) for line in out.splitlines()) < 400  # indentation is bounded


@pytest.mark.parametrize("stamp", ["9999999999d", "99999-01-01T00:00:00Z", "-1", "", "x" * 10_000])
def test_unusable_timestamps_with_since(tmp_path: Path, both: Any, stamp: str) -> None:
    path = write(
        tmp_path / "f",
        event("operation_start", "a" * 16, **{"@timestamp": stamp}),
        event("operation_end", "a" * 16, status="completed", total_duration_ms=5),
    )
    both(path, "--since", "1h")


def test_a_since_that_overflows_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "f", event("operation_start", "a" * 16))
    for command in ("tree", "report"):
        code, _, err = run(capsys, command, str(path), "--since", "99999999999d")
        assert code == 2 and "before the year 1" in err


def test_the_tail_of_an_over_long_line_is_never_read_as_an_event(tmp_path: Path, both: Any) -> None:
    forged = json.dumps(event("operation_start", "f" * 16, operation="forged")).encode()
    long_line = b"x" * (MAX_LINE + 1) + forged
    real = event("operation_start", "a" * 16, operation="real")
    out, err = both(write(tmp_path / "f", long_line, real))
    assert "forged" not in out and "real" in out
    assert "1 events" in err and "1 line(s) skipped" in err


def test_fifty_megabytes_in_one_line_is_one_skipped_line(tmp_path: Path, both: Any) -> None:
    path = tmp_path / "f"
    with path.open("wb") as out:
        for _ in range(50):
            out.write(b"y" * (1 << 20))
        out.write(b"\n")
    _, err = both(path)
    assert "0 events" in err and "1 line(s) skipped" in err


def test_nan_and_infinity_never_reach_report_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        json.dumps(event("operation_end", f"{n:016x}", status="completed"))[:-1].encode()
        + b', "total_duration_ms": '
        + literal
        + b"}"
        for n, literal in enumerate([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"12"])
    ]
    path = write(tmp_path / "f", *lines)
    code, out, _ = run(capsys, "report", "--json", str(path))
    assert code == 0
    document = json.loads(out)  # strict: json.loads would accept NaN, so check the text too
    assert "NaN" not in out and "Infinity" not in out
    (row,) = document["performance"]
    assert row["avg_duration_ms"] == 12.0


def test_control_sequences_from_the_file_are_escaped(tmp_path: Path, both: Any) -> None:
    evil = "\x1b]52;c;c2VjcmV0\x07\x1b[2J\r\nFAKE"
    path = write(
        tmp_path / "f",
        event("operation_start", "a" * 16, operation=evil, job_id=evil),
        event("step_info", "a" * 16, step=evil, message=evil, **{evil: evil}),
        event("step_error", "a" * 16, step=evil, error_type=evil),
        event("operation_end", "a" * 16, operation=evil, status=evil, total_duration_ms=1),
    )
    out, _ = both(path)
    assert "\\x1b]52" in out


@pytest.mark.parametrize(
    "line",
    [
        b"\xff\xfe not utf-8",
        b'{"event": 1}',
        b"[]",
        b"null",
        b'"just a string"',
        b"1" * 5000,
        json.dumps(event("step_info", {"nested": "dict"}, ["list"])).encode(),  # type: ignore[arg-type]
        json.dumps(event("step_info", "a" * 16, status={"a": [1, {"b": None}]})).encode(),
        json.dumps(event("operation_end", "a" * 16, total_duration_ms=True)).encode(),
        json.dumps({**event("step_info", "a" * 16), "@timestamp": 12}).encode(),
    ],
)
def test_odd_lines_never_crash_either_command(tmp_path: Path, both: Any, line: bytes) -> None:
    both(write(tmp_path / "f", line, event("operation_start", "b" * 16)))


def test_tree_memory_is_bounded_by_open_steps_and_roots() -> None:
    builder = TreeBuilder(max_events=4, max_open_roots=50, max_open_nodes=500)
    for root in range(200):
        builder.add(event("operation_start", f"r{root:015d}"))
        for step in range(20):
            builder.add(event("step_start", f"s{root:05d}{step:010d}", f"r{root:015d}", step="s"))
        assert len(builder.nodes) <= 500 + 21 and len(builder.roots) <= 50
    assert builder.evicted > 0


def test_report_memory_is_bounded_by_distinct_names() -> None:
    report = Report()
    for n in range(MAX_NAMES + 500):
        report.add(event("operation_end", "a" * 16, operation=f"op-{n}", status=f"s{n}"))
        report.add(
            event("step_error", "a" * 16, operation=f"op-{n}", error_type=f"E{n}", step=f"x{n}")
        )
    assert len(report.outcomes) <= MAX_NAMES + 1
    assert len(report.errors) <= MAX_NAMES + 1
    assert "(other)" in report.outcomes and report.other_names > 0


def test_report_durations_are_bounded_and_say_they_were_sampled() -> None:
    from opslog.cli import report as report_module

    saved = report_module.MAX_DURATIONS
    report_module.MAX_DURATIONS = 100
    try:
        report = Report()
        for n in range(1000):
            report.add(event("operation_end", "a" * 16, status="completed", total_duration_ms=n))
        (row,) = report.performance()
    finally:
        report_module.MAX_DURATIONS = saved
    assert len(report.durations["op"]) == 100
    assert row["count"] == 1000 and row["sampled"] is True
    assert 300 < row["avg_duration_ms"] < 700
