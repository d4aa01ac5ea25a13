"""The export path under faults: a failing disk, fork, reconfiguration."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import opslog
from opslog import _diagnostics
from opslog.channels.jsonlines import JsonLinesFileHandler
from opslog.export.pipeline import PIPELINE

from ..helpers import run_python
from ..otlp_receiver import BlackHole, OtlpReceiver

DEV_FULL = "/dev/full"  # every write fails with ENOSPC, as on a full disk


def _log(n: int, name: str = "op") -> None:
    for i in range(n):
        op = opslog.new_operation_logger("job").start_operation(f"{name}-{i}")
        op.log_step("s", "m", {"i": i})
        op.end_operation()


def _json_handler() -> JsonLinesFileHandler:
    (handler,) = [h for h in PIPELINE.handlers if isinstance(h, JsonLinesFileHandler)]
    return handler


def test_a_full_disk_loses_events_countably_and_writing_resumes(tmp_path: Path) -> None:
    assert os.path.exists(DEV_FULL), "this test needs Linux's /dev/full"
    opslog.configure(json_path=DEV_FULL, console=False)
    _log(5)  # 15 events, none of which fit
    stats = opslog.export_stats()["json_lines"]
    assert stats == {"written": 0, "lost": 15}
    assert _diagnostics.diagnostics()["json_lines_loss"] == 15
    # Space returns: the same handler reopens its file on the next event.
    recovered = tmp_path / "events.jsonl"
    _json_handler().baseFilename = str(recovered)
    _log(2)
    assert opslog.export_stats()["json_lines"] == {"written": 6, "lost": 15}
    lines = [line for line in recovered.read_text().splitlines() if line]
    assert [json.loads(line)["event"] for line in lines] == [
        "operation_start",
        "step_info",
        "operation_end",
    ] * 2


def test_configure_never_raises_because_of_a_failing_disk(tmp_path: Path) -> None:
    opslog.configure(json_path=DEV_FULL, console=False)
    _log(1)
    settings = opslog.configure(json_path=str(tmp_path / "new.jsonl"), console=False)
    assert settings is not None
    _log(1)
    assert opslog.export_stats()["json_lines"] == {"written": 3, "lost": 3}


def test_fork_while_threads_write_json_lines_never_hangs_a_child(tmp_path: Path) -> None:
    result = run_python(
        f"""
        import json, os, threading, time
        import opslog
        opslog.configure(json_path={str(tmp_path / "events.jsonl")!r}, console=False)
        stop = threading.Event()

        def writer(n):
            op = opslog.new_operation_logger("job").start_operation(f"writer-{{n}}")
            while not stop.is_set():
                op.log_step("s", "x" * 2000, {{"n": n}})
            op.end_operation()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        children = []
        for n in range(40):
            pid = os.fork()
            if pid == 0:
                op = opslog.new_operation_logger("child").start_operation(f"child-{{n}}")
                op.log_step("s", "from the child")
                op.end_operation()
                os._exit(0)
            children.append(pid)
            time.sleep(0.005)
        hung = 0
        deadline = time.monotonic() + 20
        for pid in children:
            while True:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    hung += 1
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
        stop.set()
        for t in threads:
            t.join()
        print(json.dumps({{"hung": hung}}))
        """,
        timeout=90,
    )
    assert result["hung"] == 0
    written = [
        json.loads(line)
        for line in (tmp_path / "events.jsonl").read_text().splitlines()
        if line.startswith("{") and line.endswith("}")
    ]
    assert sum(1 for e in written if e["step"] == "s" and e["message"] == "from the child") == 40


def test_a_forked_child_runs_no_more_export_threads_than_its_parent() -> None:
    hole = BlackHole()
    try:
        result = run_python(
            f"""
            import json, os, threading
            import opslog
            for n in range(20):
                opslog.configure(endpoint={hole.endpoint!r}, console=False,
                                 max_export_batch_size=10 + n, timeout=0.2, exit_timeout=1)
            def exporters():
                return sum(1 for t in threading.enumerate()
                           if t.name.startswith("opslog-") and t.name.endswith("-export"))
            parent = exporters()
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.write(write, str(exporters()).encode())
                os._exit(0)
            os.waitpid(pid, 0)
            child = int(os.read(read, 100))
            print(json.dumps({{"parent": parent, "child": child}}))
            """,
            timeout=90,
        )
    finally:
        hole.stop()
    assert result["child"] <= result["parent"]
    assert result["child"] == 2  # the live span and log processors, not the 38 replaced ones


def test_export_counters_are_cumulative_across_reconfiguration() -> None:
    receiver = OtlpReceiver().start_http()
    try:
        endpoint = receiver.endpoint("http/protobuf")
        opslog.configure(endpoint=endpoint, console=False, schedule_delay=0.05)
        _log(10, "first")
        opslog.configure(endpoint=endpoint, console=False, max_export_batch_size=7)
        _log(5, "second")
        assert opslog.shutdown(timeout=5)
        stats = opslog.export_stats()
        assert receiver.wait_until(lambda: len(receiver.spans()) == 15)
    finally:
        receiver.stop()
    spans, records = stats["spans"], stats["log_records"]
    assert spans["exported"] == 15 and spans["pending"] == 0
    assert records["exported"] == 45
    assert spans["dropped"] == spans["failed"] == 0


def test_reconfiguring_away_from_a_black_holed_collector_does_not_block() -> None:
    hole = BlackHole()
    receiver = OtlpReceiver().start_http()
    try:
        opslog.configure(endpoint=hole.endpoint, console=False, timeout=30, schedule_delay=0.05)
        _log(20)
        time.sleep(0.3)  # an export is now stuck on the black hole
        started = time.monotonic()
        opslog.configure(endpoint=receiver.endpoint("http/protobuf"), console=False)
        took = time.monotonic() - started
        _log(3, "after")
        opslog.shutdown(timeout=1)
        assert receiver.wait_until(lambda: len(receiver.spans()) == 3)
    finally:
        hole.stop()
        receiver.stop()
    assert took < 1.0, f"configure() waited {took:.1f}s for the old pipeline"
    stats = opslog.export_stats()["spans"]
    # Nothing vanished: what the black hole swallowed is counted as lost.
    assert stats["exported"] + stats["dropped"] + stats["failed"] + stats["pending"] == 23


@pytest.fixture(autouse=True)
def _stop_export() -> None:
    yield
    opslog.shutdown(timeout=1)
