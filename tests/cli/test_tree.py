"""opslog tree: golden output on a log opslog wrote, filters, bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import opslog
from opslog.cli.tree import TreeBuilder

from ..logfixture import CID_A, CID_C, MALFORMED, normalise, write_scenario

GOLDEN = Path(__file__).parent.parent / "golden"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "events.jsonl"
    running = write_scenario(path)
    normalise(path, MALFORMED)
    opslog.configure(json_path=None, console=False)  # later events stay out of the file
    yield path
    running.end_operation()


def tree(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opslog", "tree", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("OPSLOG_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_tree_golden_output(log: Path) -> None:
    result = tree(str(log))
    assert result.returncode == 0, result.stderr
    check_golden("tree.txt", result.stdout)
    assert "1 operation(s) still running, 4 line(s) skipped" in result.stderr


def test_same_input_same_tree_and_stdin_works(log: Path) -> None:
    first = tree(str(log)).stdout
    assert tree(str(log)).stdout == first
    assert tree(stdin=log.read_bytes()).stdout == first


def test_unfinished_operation_is_drawn_as_running(log: Path) -> None:
    out = tree(str(log), "--status", "running").stdout
    assert out.startswith("long-migration  job_id=job-c")
    assert "[running since 10:00:" in out
    assert "copy-disks  [running since" in out
    assert "Copied 40%" in out


@pytest.mark.parametrize(
    "args,roots",
    [
        (["--correlation-id", CID_A], ["enhanced-test-failover"]),
        (["--correlation-id", "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"], ["enhanced-test-failover"]),
        (["--job-id", "job-b"], ["nightly-backup"]),
        (["--operation", "long-migration"], ["long-migration"]),
        (["--status", "failed"], ["nightly-backup"]),
        (["--since", "2025-01-22T10:00:00.025Z"], ["long-migration"]),
        (["--until", "2025-01-22T10:00:00.000Z"], ["enhanced-test-failover"]),
        (["--correlation-id", CID_C, "--status", "completed"], []),
    ],
)
def test_filters(log: Path, args: list[str], roots: list[str]) -> None:
    out = tree(str(log), *args).stdout
    drawn = [line.split("  ")[0] for line in out.splitlines() if line and line[0] not in "│├└ "]
    assert drawn == roots


def test_bad_arguments_fail_clearly(tmp_path: Path) -> None:
    assert "no such file" in tree(str(tmp_path / "missing.jsonl")).stderr
    bad = tree(str(tmp_path), "--since", "yesterday-ish")
    assert bad.returncode == 2 and "is not a time" in bad.stderr


def test_events_per_step_are_bounded() -> None:
    builder = TreeBuilder(max_events=10)
    base = {
        "@timestamp": "2025-01-22T10:00:00.000000Z",
        "correlation_id": CID_A,
        "job_id": "j",
        "operation": "op",
        "level": "INFO",
        "parent_span_id": "",
    }
    builder.add(
        {
            **base,
            "event": "operation_start",
            "step": "_operation",
            "span_id": "a",
            "message": "start",
        }
    )
    for i in range(100_000):
        builder.add(
            {**base, "event": "step_info", "step": "poll", "span_id": "a", "message": f"poll {i}"}
        )
    (root,) = builder.open_roots()
    assert len(root.head) + len(root.tail) == 10
    assert root.omitted == 100_000 - 10
    assert root.tail[-1]["message"] == "poll 99999"
    (done,) = builder.add(
        {
            **base,
            "event": "operation_end",
            "step": "_operation",
            "span_id": "a",
            "status": "completed",
            "message": "end",
        }
    )
    assert done is root and builder.nodes == {} and builder.open_roots() == []


def test_many_open_roots_are_bounded() -> None:
    builder = TreeBuilder(max_open_roots=100)
    evicted = []
    for i in range(1000):
        evicted += builder.add(
            {
                "@timestamp": "2025-01-22T10:00:00.000000Z",
                "correlation_id": f"{i:032x}",
                "job_id": "j",
                "operation": f"op-{i}",
                "step": "_operation",
                "event": "operation_start",
                "span_id": f"{i:016x}",
                "parent_span_id": "",
                "message": "start",
            }
        )
    assert len(builder.open_roots()) == 100
    assert len(evicted) == 900


def test_two_services_in_one_file_make_one_tree(tmp_path: Path) -> None:
    path = tmp_path / "both.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "opslog", "demo", "--services", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = tree(str(path)).stdout
    roots = [line for line in out.splitlines() if line and line[0] not in "│├└ "]
    assert len(roots) == 1 and roots[0].startswith("enhanced-test-failover")
    assert "── volume-attach (another service, same trace)  [completed" in out
    assert "── volume-detach (another service, same trace)  [completed" in out
    lines = path.read_text().splitlines()
    assert len({json.loads(line)["correlation_id"] for line in lines}) == 1


def test_follow_prints_operations_as_they_finish(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "growing.jsonl"
    path.write_text("")
    process = subprocess.Popen(
        [sys.executable, "-m", "opslog", "tree", "-f", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        base = {
            "correlation_id": CID_A,
            "job_id": "j",
            "operation": "watched",
            "level": "INFO",
            "span_id": "0000000000000001",
            "parent_span_id": "",
        }
        with path.open("a") as f:
            for i, (event, step) in enumerate(
                [
                    ("operation_start", "_operation"),
                    ("step_info", "copy"),
                    ("operation_end", "_operation"),
                ]
            ):
                document = {
                    **base,
                    "@timestamp": f"2025-01-22T10:00:0{i}.000000Z",
                    "event": event,
                    "step": step,
                    "message": f"m{i}",
                    "status": "completed",
                }
                f.write(json.dumps(document) + "\n")
                f.flush()
        import time

        deadline = time.monotonic() + 20
        while not any("watched" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(10)
    assert any(line.startswith("watched  job_id=j") for line in lines)
