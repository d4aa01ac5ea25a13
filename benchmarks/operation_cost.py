"""One realistic operation's cost with opslog, for before/after comparisons of a change.

    python benchmarks/operation_cost.py                        # this checkout
    PYTHONPATH=<other tree>/src python benchmarks/operation_cost.py   # another one

One operation with 10 steps, each with an ``info`` carrying five values that change on
every event (an id, a URL with a port, a timestamp, a tuple of names, a number) and a
``success``, through the SDK's own providers with nothing attached (what opslog adds,
not the export). Prints the best of seven blocks of 200 operations, in microseconds
per operation. Alternate the two trees several times and compare medians: on a shared
2-core machine single runs move by 10% or more.
"""

from __future__ import annotations

import gc
import itertools
import time

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider

import opslog

_counter = itertools.count()


def run(operations: int) -> None:
    for _ in range(operations):
        i = next(_counter)
        op = opslog.new_operation_logger("job").start_operation("enhanced-test-failover")
        for s in range(10):
            step = op.start_step(f"step-{s}")
            step.info(
                "Running step",
                {
                    "vm_id": f"vm-{i:08x}",
                    "url": f"https://esx-3.dc1.example.com:443/sdk/vm/{i}",
                    "started": f"2026-12-08T01:{i % 60:02d}:{s:02d}Z",
                    "drivers": ("viostor", "netkvm"),
                    "attempt": i,
                },
            )
            step.success("Step done", {"device_path": "/dev/vdc", "size_gb": 110})
            step.end_step("completed")
        op.end_operation("completed")


def main() -> None:
    opslog.configure(
        tracer_provider=TracerProvider(), logger_provider=LoggerProvider(), console=False
    )
    run(50)
    gc.collect()
    best = float("inf")
    for _ in range(7):
        started = time.perf_counter()
        run(200)
        best = min(best, time.perf_counter() - started)
    print(f"{best / 200 * 1e6:.0f} us per operation")


if __name__ == "__main__":
    main()
