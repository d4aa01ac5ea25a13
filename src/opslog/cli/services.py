"""The two-service demo: the failover engine calls a volume daemon over HTTP.

``opslog demo --services`` starts :func:`run_volume_daemon` as a separate
process on 127.0.0.1 (a port the OS picks), then runs the failover, whose
``volume-attachment`` and ``cleanup`` steps call the daemon's ``/attach``
and ``/detach`` endpoints with :func:`opslog.urlopen`. The daemon's
:class:`opslog.WSGIMiddleware` makes the caller's context current, and each
request runs as an operation that continues the engine's trace: one trace,
one correlation id and one job id across both processes, the daemon's
operations children of the engine's client spans (the seed's "cross-service
correlation").

The daemon stops on SIGTERM/SIGINT (flushing its export), or by itself
after ``max_lifetime`` seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Optional
from wsgiref.simple_server import WSGIRequestHandler, make_server

from ..core import operation as operations
from ..integrations.http import WSGIMiddleware

__all__ = ["VolumeDaemonProcess", "run_volume_daemon", "volume_daemon_app"]


def _attach(op: operations.OperationContext, body: dict[str, Any]) -> dict[str, Any]:
    op.log_step(
        "cloudstack-api",
        "Calling CloudStack attach volume",
        {"volume_id": body.get("volume_id"), "vm_id": body.get("vm_id")},
    )
    time.sleep(0.005)
    op.log_step("device-correlation", "Correlating device path", {"expected_device": "/dev/vdc"})
    return {"device_path": "/dev/vdc"}


def _detach(op: operations.OperationContext, body: dict[str, Any]) -> dict[str, Any]:
    op.log_step(
        "cloudstack-api", "Calling CloudStack detach volume", {"volume_id": body.get("volume_id")}
    )
    return {"detached": True}


_ROUTES: dict[str, tuple[str, Callable[[operations.OperationContext, dict[str, Any]], Any]]] = {
    "/attach": ("volume-attach", _attach),
    "/detach": ("volume-detach", _detach),
}


def volume_daemon_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The volume daemon's WSGI app (wrap it in :class:`opslog.WSGIMiddleware`)."""
    route = _ROUTES.get(environ.get("PATH_INFO", ""))
    if environ.get("REQUEST_METHOD") != "POST" or route is None:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": "not found"}']
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except (ValueError, KeyError):
        body = {}
    name, handler = route
    # The caller's trace and job id come from the request headers.
    logger = operations.new_operation_logger()
    with logger.start_operation(name) as op:
        result = handler(op, body)
        op.end_operation("completed", result)
    payload = json.dumps(result).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def run_volume_daemon(port: int = 0, max_lifetime: float = 120.0) -> None:
    """Serve the volume daemon on 127.0.0.1 until SIGTERM/SIGINT or ``max_lifetime``."""
    from ..export.setup import configure, export_stats, shutdown

    configure(console=False)  # export from the OTEL_* variables, no terminal noise
    server = make_server(
        "127.0.0.1", port, WSGIMiddleware(volume_daemon_app), handler_class=_QuietHandler
    )
    server.timeout = 0.2
    stop = False

    def request_stop(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    deadline = time.monotonic() + max_lifetime
    while not stop and time.monotonic() < deadline:
        server.handle_request()
    server.server_close()
    shutdown(timeout=5.0)
    # For the parent: what this service exported (the demo counts both).
    print("export_stats " + json.dumps(export_stats()), flush=True)


class VolumeDaemonProcess:
    """The volume daemon as a child process (``with VolumeDaemonProcess() as url:``)."""

    def __init__(self, service_name: str = "volume-daemon", max_lifetime: float = 120.0) -> None:
        env = {**os.environ, "OTEL_SERVICE_NAME": service_name}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "opslog.cli.services", "--max-lifetime", str(max_lifetime)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        #: What the daemon exported, once it has stopped (``export_stats()``'s form).
        self.stats: dict[str, dict[str, int]] = {}
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError("the volume daemon did not start")
        self.url = "http://" + line.split()[-1]

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout:
            for line in self.process.stdout.read().splitlines():
                if line.startswith("export_stats "):
                    try:
                        self.stats = json.loads(line.split(" ", 1)[1])
                    except ValueError:
                        pass
            self.process.stdout.close()
        return self.process.returncode


def _main(argv: Optional[list[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m opslog.cli.services", description="the demo's volume daemon"
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-lifetime", type=float, default=120.0)
    args = parser.parse_args(argv)
    run_volume_daemon(args.port, args.max_lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
