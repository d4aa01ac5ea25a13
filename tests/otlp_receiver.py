"""A real OTLP receiver for tests: gRPC (official servicers) and HTTP/protobuf.

Both bind to 127.0.0.1 on a free port and stop by themselves after
``max_lifetime`` seconds even if a test forgets to stop them. Every request
is kept raw (the serialized protobuf bytes, for secret searches) and decoded.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def value_of(any_value: AnyValue) -> Any:
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(value_of(v) for v in any_value.array_value.values)
    if kind == "kvlist_value":
        return attributes_of(any_value.kvlist_value.values)
    return getattr(any_value, kind)


def attributes_of(attributes: Any) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in attributes}


@dataclass
class Received:
    """What the receiver got, in arrival order."""

    raw: list[bytes] = field(default_factory=list)
    trace_requests: list[trace_service_pb2.ExportTraceServiceRequest] = field(default_factory=list)
    log_requests: list[logs_service_pb2.ExportLogsServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


class OtlpReceiver:
    """An in-process collector stand-in on 127.0.0.1."""

    def __init__(
        self, port: Optional[int] = None, max_lifetime: float = 120.0, logs: bool = True
    ) -> None:
        #: ``logs=False``: a traces-only backend (HTTP 405, gRPC UNIMPLEMENTED for logs).
        self.accepts_logs = logs
        self.log_attempts = 0
        self.received = Received()
        self._lock = threading.Condition()
        self.grpc_port = 0
        self.http_port = 0
        self._grpc_server: Any = None
        self._http_server: Optional[ThreadingHTTPServer] = None
        self._wanted_port = port
        self._timer = threading.Timer(max_lifetime, self.stop)
        self._timer.daemon = True

    # -- recording ------------------------------------------------------------
    def _record(self, signal: str, request: Any, headers: dict[str, str]) -> None:
        with self._lock:
            self.received.raw.append(request.SerializeToString())
            self.received.headers.append(headers)
            if signal == "traces":
                self.received.trace_requests.append(request)
            else:
                self.received.log_requests.append(request)
            self._lock.notify_all()

    # -- servers ----------------------------------------------------------------
    def start_grpc(self) -> OtlpReceiver:
        receiver = self

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                receiver._record("traces", request, dict(context.invocation_metadata()))
                return trace_service_pb2.ExportTraceServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                receiver._record("logs", request, dict(context.invocation_metadata()))
                return logs_service_pb2.ExportLogsServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
        if self.accepts_logs:  # else the service is absent: UNIMPLEMENTED
            logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
        self.grpc_port = server.add_insecure_port(f"127.0.0.1:{self._wanted_port or 0}")
        server.start()
        self._grpc_server = server
        self._start_timer()
        return self

    def start_http(self) -> OtlpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if self.path == "/v1/traces":
                    request: Any = trace_service_pb2.ExportTraceServiceRequest()
                    response: Any = trace_service_pb2.ExportTraceServiceResponse()
                    signal = "traces"
                elif self.path == "/v1/logs" and not receiver.accepts_logs:
                    receiver.log_attempts += 1
                    self.send_error(405)
                    return
                elif self.path == "/v1/logs":
                    request = logs_service_pb2.ExportLogsServiceRequest()
                    response = logs_service_pb2.ExportLogsServiceResponse()
                    signal = "logs"
                else:
                    self.send_error(404)
                    return
                request.ParseFromString(body)
                receiver._record(signal, request, {k.lower(): v for k, v in self.headers.items()})
                payload = response.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self._wanted_port or 0), Handler)
        server.daemon_threads = True
        self.http_port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._http_server = server
        self._start_timer()
        return self

    def _start_timer(self) -> None:
        if not self._timer.is_alive():
            self._timer.start()

    def endpoint(self, protocol: str) -> str:
        port = self.grpc_port if protocol == "grpc" else self.http_port
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._grpc_server is not None:
            self._grpc_server.stop(0).wait(5)
            self._grpc_server = None
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.server_close()
            self._http_server = None
        self._timer.cancel()

    # -- reading ------------------------------------------------------------------
    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """``(resource attributes, span)`` for every received span."""
        with self._lock:
            requests = list(self.received.trace_requests)
        return [
            (attributes_of(rs.resource.attributes), span)
            for request in requests
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def log_records(self) -> list[tuple[dict[str, Any], Any]]:
        with self._lock:
            requests = list(self.received.log_requests)
        return [
            (attributes_of(rl.resource.attributes), record)
            for request in requests
            for rl in request.resource_logs
            for sl in rl.scope_logs
            for record in sl.log_records
        ]

    def raw_bytes(self) -> bytes:
        with self._lock:
            return b"".join(self.received.raw)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 15.0) -> bool:
        """Wait (bounded) until ``condition()`` holds for what was received."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True


class BlackHole:
    """Accepts TCP connections on 127.0.0.1 and never answers."""

    def __init__(self, max_lifetime: float = 120.0) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.port = int(self._socket.getsockname()[1])
        self._connections: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()
        timer = threading.Timer(max_lifetime, self.stop)
        timer.daemon = True
        timer.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self._socket.settimeout(0.2)
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except (socket.timeout, OSError):
                continue
            self._connections.append(connection)  # held open, never read or answered

    def stop(self) -> None:
        self._stopped.set()
        for connection in self._connections:
            connection.close()
        self._socket.close()


__all__ = ["BlackHole", "KeyValue", "OtlpReceiver", "attributes_of", "free_port", "value_of"]
