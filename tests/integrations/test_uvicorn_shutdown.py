"""A real uvicorn process, one request, then SIGTERM: every span of the request arrives.

uvicorn re-raises SIGTERM after its graceful shutdown, so exit handlers never
run. opslog flushes at ASGI ``lifespan.shutdown`` (ASGIMiddleware), or from
its own SIGTERM handler when asked (``configure(flush_on_signals=True)``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest
import uvicorn  # noqa: F401  (the server under test; a missing install must fail, not skip)

from ..otlp_receiver import OtlpReceiver, free_port

SERVER = """
import opslog, uvicorn
opslog.configure(endpoint={endpoint!r}, console=False, flush_on_signals={signals})

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({{"type": "lifespan.startup.complete"}})
            elif message["type"] == "lifespan.shutdown":
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    elif scope["type"] == "http":
        logger = opslog.new_operation_logger("job-1")
        with logger.operation("volume-attach") as op, op.step("mount"):
            pass
        await send({{"type": "http.response.start", "status": 200, "headers": []}})
        await send({{"type": "http.response.body", "body": logger.correlation_id.encode()}})

uvicorn.run(opslog.ASGIMiddleware(app), host="127.0.0.1", port={port},
            lifespan={lifespan!r}, log_level="warning")
"""


def _serve_one_request_then_sigterm(lifespan: str, signals: bool) -> tuple[str, OtlpReceiver]:
    receiver = OtlpReceiver().start_http()
    port = free_port()
    code = SERVER.format(
        endpoint=receiver.endpoint("http/protobuf"), port=port, lifespan=lifespan, signals=signals
    )
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/attach", timeout=5) as r:
                    correlation_id = r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        process.send_signal(signal.SIGTERM)  # at once: the spans are still queued
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    return correlation_id, receiver


@pytest.mark.parametrize(
    ("lifespan", "signals"), [("on", False), ("off", True)], ids=["lifespan", "signal handler"]
)
def test_every_span_of_a_completed_request_arrives(lifespan: str, signals: bool) -> None:
    correlation_id, receiver = _serve_one_request_then_sigterm(lifespan, signals)
    try:
        assert receiver.wait_until(lambda: len(receiver.spans()) == 3, timeout=10)
        spans = {span.name: span for _, span in receiver.spans()}
        assert set(spans) == {"GET", "volume-attach", "mount"}
        assert {span.trace_id.hex() for span in spans.values()} == {correlation_id}
        assert spans["GET"].kind == spans["GET"].SPAN_KIND_SERVER
        events = sorted(record.event_name for _, record in receiver.log_records())
        assert events == ["operation_end", "operation_start", "step_end", "step_start"]
    finally:
        receiver.stop()
