"""opslog report: the seed's three queries, golden output and exact percentiles."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
from pathlib import Path

import opslog
from opslog.cli.report import Report, percentile

from ..logfixture import MALFORMED, normalise, write_scenario
from .test_tree import check_golden


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opslog", "report", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_report_golden_output(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    running = write_scenario(path)
    normalise(path, MALFORMED)
    opslog.configure(json_path=None, console=False)  # later events stay out of the file
    running.end_operation()
    result = report(str(path))
    assert result.returncode == 0, result.stderr
    check_golden("report.txt", result.stdout)
    data = json.loads(report(str(path), "--json").stdout)
    rates = {row["operation"]: row for row in data["success_rate"]}
    assert rates["nightly-backup"]["by_status"] == {"failed": 1}
    assert rates["enhanced-test-failover"]["success_rate"] == 1.0
    assert data["errors"][0]["error_type"] == "tests.logfixture.VolumeError"
    assert data["errors"][0]["by_step"] == {"upload": 1}
    assert data["lines_skipped"] == 4


def test_percentiles_match_a_direct_computation(tmp_path: Path) -> None:
    rng = random.Random(42)
    durations = [rng.randint(1, 100_000) for _ in range(997)]
    lines = [
        json.dumps(
            {
                "@timestamp": "2025-01-22T10:00:00.000000Z",
                "correlation_id": "c",
                "job_id": "j",
                "operation": "failover",
                "step": "_operation",
                "event": "operation_end",
                "status": "completed",
                "total_duration_ms": d,
            }
        )
        for d in durations
    ]
    path = tmp_path / "durations.jsonl"
    path.write_text("\n".join(lines) + "\n")
    data = json.loads(report(str(path), "--json").stdout)
    (row,) = data["performance"]
    quantiles = statistics.quantiles(durations, n=100, method="inclusive")
    assert row["count"] == 997
    assert abs(row["avg_duration_ms"] - statistics.fmean(durations)) < 1e-6
    assert abs(row["p95_duration_ms"] - quantiles[94]) < 1e-6
    assert abs(row["p99_duration_ms"] - quantiles[98]) < 1e-6
    assert percentile([1.0], 99) == 1.0


def test_since_window(tmp_path: Path) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)

    def end(minutes_ago: int, status: str) -> str:
        stamp = (now - dt.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return json.dumps(
            {
                "@timestamp": stamp,
                "correlation_id": "c",
                "job_id": "j",
                "operation": "op",
                "step": "_operation",
                "event": "operation_end",
                "status": status,
                "total_duration_ms": 10,
            }
        )

    path = tmp_path / "window.jsonl"
    path.write_text("\n".join([end(120, "failed"), end(30, "completed")]) + "\n")
    last_hour = json.loads(report(str(path), "--json", "--since", "1h").stdout)
    assert last_hour["success_rate"][0]["by_status"] == {"completed": 1}
    last_day = json.loads(report(str(path), "--json", "--since", "24h").stdout)
    assert last_day["success_rate"][0]["by_status"] == {"completed": 1, "failed": 1}


def test_empty_report() -> None:
    assert Report().as_dict() == {"success_rate": [], "performance": [], "errors": []}
