"""HTTP helpers: WSGI/ASGI middleware, client spans, urlopen, and the requests recipe."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import opslog
from opslog._config import get_settings
from opslog.testing import Capture

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
PID = "00f067aa0ba902b7"


class EchoServer:
    """Records request headers; answers 200, or the status in the path (/status/503)."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._answer()

            def do_GET(self) -> None:
                self._answer()

            def _answer(self) -> None:
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                status = (
                    int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/status/") else 200
                )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.timer = threading.Timer(60, self.stop)
        self.timer.daemon = True
        self.timer.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.timer.cancel()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.stop()


def test_urlopen_makes_a_client_span_under_the_step_and_sends_its_context(
    captured: Capture, echo: EchoServer
) -> None:
    url = f"{echo.url}/attach?token=secret"
    with (
        opslog.new_operation_logger("job-1").operation("failover") as op,
        op.step("attach"),
        opslog.urlopen(url, data=b"{}", method="POST") as response,
    ):
        assert response.status == 200
    client = captured.span("POST")
    step = captured.span("attach")
    assert client.kind is SpanKind.CLIENT
    assert client.parent.span_id == step.context.span_id
    assert client.attributes["http.request.method"] == "POST"
    assert client.attributes["http.response.status_code"] == 200
    assert client.attributes["url.full"] == f"{echo.url}/attach"  # no query string
    assert client.attributes["server.address"] == "127.0.0.1"
    sent = echo.headers[0]
    flags = int(client.context.trace_flags)
    assert (
        sent["traceparent"] == f"00-{op.correlation_id}-{client.context.span_id:016x}-{flags:02x}"
    )
    assert flags & 1  # sampled
    assert "job_id=job-1" in sent["baggage"]


def test_urlopen_error_status_marks_the_span_and_propagates(
    captured: Capture, echo: EchoServer
) -> None:
    with (
        opslog.new_operation_logger("j").operation("op"),
        pytest.raises(urllib.error.HTTPError) as raised,
    ):
        opslog.urlopen(f"{echo.url}/status/503")
    assert raised.value.code == 503
    client = captured.span("GET")
    assert client.attributes["http.response.status_code"] == 503
    assert client.status.status_code is StatusCode.ERROR


def test_connection_errors_propagate_unchanged(captured: Capture) -> None:
    from ..otlp_receiver import free_port

    with opslog.new_operation_logger("j").operation("op"), pytest.raises(urllib.error.URLError):
        opslog.urlopen(f"http://127.0.0.1:{free_port()}/", timeout=5)
    client = captured.span("GET")
    assert client.status.status_code is StatusCode.ERROR
    assert client.attributes["error.type"] == "urllib.error.URLError"


def test_http_client_span_for_http_client(captured: Capture, echo: EchoServer) -> None:
    import http.client

    with (
        opslog.new_operation_logger("j").operation("op"),
        opslog.http_client_span("PUT", f"{echo.url}/volumes/1") as call,
    ):
        conn = http.client.HTTPConnection("127.0.0.1", int(echo.url.rsplit(":", 1)[1]), timeout=10)
        conn.request("POST", "/volumes/1", b"x", headers=call.headers)
        call.set_status(conn.getresponse().status)
        conn.close()
    put = captured.span("PUT")
    assert put.attributes["http.response.status_code"] == 200
    assert echo.headers[0]["traceparent"].split("-")[2] == f"{put.context.span_id:016x}"


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    logger = opslog.new_operation_logger()
    with logger.start_operation("volume-attach") as op:
        op.log_step("api", "attaching")
    start_response("200 OK", [])
    return [logger.correlation_id.encode(), b" ", logger.job_id.encode()]


def test_wsgi_middleware_continues_the_callers_trace(captured: Capture) -> None:
    app = opslog.WSGIMiddleware(wsgi_app)
    environ = {
        "HTTP_TRACEPARENT": f"00-{TID}-{PID}-01",
        "HTTP_BAGGAGE": "job_id=job-9",
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/attach",
    }
    response = app(environ, lambda status, headers: None)
    body = b"".join(response)
    response.close()  # as a WSGI server does: it ends the request's span
    assert body == f"{TID} job-9".encode()
    server = captured.span("POST")
    assert server.kind.name == "SERVER" and server.parent.span_id == int(PID, 16)
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["url.path"] == "/attach"
    assert captured.span("volume-attach").parent.span_id == server.context.span_id
    assert opslog.current_correlation_id() is None  # nothing leaks past the request


def test_asgi_middleware_continues_the_callers_trace(captured: Capture) -> None:
    seen: dict[str, str] = {}

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        logger = opslog.new_operation_logger()
        with logger.start_operation("volume-detach"):
            seen["cid"], seen["job"] = logger.correlation_id, logger.job_id

    app = opslog.ASGIMiddleware(asgi_app)
    scope = {
        "type": "http",
        "headers": [
            (b"traceparent", f"00-{TID}-{PID}-01".encode()),
            (b"baggage", b"job_id=job-11"),
        ],
    }

    async def noop_receive() -> dict[str, Any]:
        return {}

    async def noop_send(message: Any) -> None:
        pass

    asyncio.run(app(scope, noop_receive, noop_send))
    assert seen == {"cid": TID, "job": "job-11"}
    server = captured.span("GET")
    assert server.kind.name == "SERVER" and server.parent.span_id == int(PID, 16)
    assert captured.span("volume-detach").parent.span_id == server.context.span_id


def test_requests_instrumentation_recipe(captured: Capture, echo: EchoServer) -> None:
    """The documented recipe: OpenTelemetry's own requests instrumentation."""
    import requests
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    provider = get_settings().tracer_provider
    instrumentor = RequestsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with opslog.new_operation_logger("job-5").operation("failover") as op, op.step("attach"):
            requests.post(f"{echo.url}/attach", data=b"{}", timeout=10)
    finally:
        instrumentor.uninstrument()
    step = captured.span("attach")
    client = next(s for s in captured.spans if s.kind is SpanKind.CLIENT)
    assert client.parent.span_id == step.context.span_id  # nests under the current step
    sent = echo.headers[0]
    assert sent["traceparent"].split("-")[1] == op.correlation_id
    assert sent["traceparent"].split("-")[2] == f"{client.context.span_id:016x}"
    assert "job_id=job-5" in sent["baggage"]  # the job travels in W3C baggage
