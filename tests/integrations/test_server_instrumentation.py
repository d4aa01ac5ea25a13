"""opslog's middleware with OpenTelemetry's server instrumentation, in either order.

Flask with opentelemetry-instrumentation-flask, FastAPI with
opentelemetry-instrumentation-fastapi, a raw WSGI app with
opentelemetry-instrumentation-wsgi, and opslog's middleware alone; each with
and without an incoming ``traceparent``. Every request must give exactly
one SERVER span, with opslog's operation in the request's trace under it,
and the correlation id equal to the request's trace id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fastapi
import flask
import pytest

import opslog
from opslog._config import get_settings
from opslog.testing import Capture

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
PID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TID}-{PID}-01"


def _handler_work() -> str:
    logger = opslog.new_operation_logger()
    with logger.operation("volume-attach") as op:
        op.log_step("api", "attaching")
    return logger.correlation_id


def _check(captured: Capture, correlation_id: str, with_traceparent: bool) -> None:
    spans = captured.spans
    servers = [s for s in spans if s.kind.name == "SERVER"]
    assert len(servers) == 1, [(s.name, s.kind.name) for s in spans]
    server = servers[0]
    trace_id = format(server.context.trace_id, "032x")
    assert correlation_id == trace_id  # the correlation id is the request's trace id
    if with_traceparent:
        assert trace_id == TID and server.parent.span_id == int(PID, 16)
    else:
        assert server.parent is None
    operation = captured.span("volume-attach")
    assert operation.context.trace_id == server.context.trace_id
    # The operation descends from the SERVER span (directly, or through the
    # instrumentation's INTERNAL span when opslog's middleware is outside).
    by_id = {s.context.span_id: s for s in spans}
    parent = by_id.get(operation.parent.span_id)
    while parent is not None and parent is not server:
        assert parent.kind.name == "INTERNAL"
        parent = by_id.get(parent.parent.span_id) if parent.parent else None
    assert parent is server
    assert {s.kind.name for s in spans if s is not server} <= {"INTERNAL"}


def _provider() -> Any:
    return get_settings().tracer_provider


def _app(framework: Any) -> Any:
    """A Flask or FastAPI app with one route, POST /attach, doing opslog work."""
    app = framework.Flask("volume-daemon") if framework is flask else framework.FastAPI()

    @app.post("/attach")
    def attach() -> str:
        return _handler_work()

    return app


# -- Flask -------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["opslog inside", "opslog outside"])
@pytest.mark.parametrize("with_traceparent", [True, False])
def test_flask(captured: Capture, order: str, with_traceparent: bool) -> None:
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    app = _app(flask)
    if order == "opslog inside":
        app.wsgi_app = opslog.WSGIMiddleware(app.wsgi_app)  # type: ignore[method-assign]
        FlaskInstrumentor().instrument_app(app, tracer_provider=_provider())
    else:
        FlaskInstrumentor().instrument_app(app, tracer_provider=_provider())
        app.wsgi_app = opslog.WSGIMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    try:
        headers = {"traceparent": TRACEPARENT} if with_traceparent else {}
        response = app.test_client().post("/attach", headers=headers)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        response.close()  # as a WSGI server does when the response is sent
        _check(captured, body, with_traceparent)
    finally:
        FlaskInstrumentor().uninstrument_app(app)


# -- FastAPI -----------------------------------------------------------------------
@pytest.mark.parametrize("order", ["opslog inside", "opslog outside"])
@pytest.mark.parametrize("with_traceparent", [True, False])
def test_fastapi(captured: Capture, order: str, with_traceparent: bool) -> None:
    from fastapi.testclient import TestClient
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app = _app(fastapi)
    if order == "opslog inside":
        app.add_middleware(_AsOpslogMiddleware)  # inside: added before instrumenting
        FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider())
        served: Any = app
    else:
        FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider())
        served = opslog.ASGIMiddleware(app)
    try:
        headers = {"traceparent": TRACEPARENT} if with_traceparent else {}
        with TestClient(served) as client:
            response = client.post("/attach", headers=headers)
        assert response.status_code == 200
        _check(captured, response.json(), with_traceparent)
    finally:
        FastAPIInstrumentor.uninstrument_app(app)


class _AsOpslogMiddleware:
    """Starlette's add_middleware form of opslog.ASGIMiddleware."""

    def __init__(self, app: Any) -> None:
        self.inner = opslog.ASGIMiddleware(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.inner(scope, receive, send)


# -- raw WSGI ------------------------------------------------------------------------
def _wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    correlation_id = _handler_work()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [correlation_id.encode()]


def _call_wsgi(app: Any, with_traceparent: bool) -> str:
    from wsgiref.util import setup_testing_defaults

    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": "/attach"}
    setup_testing_defaults(environ)
    if with_traceparent:
        environ["HTTP_TRACEPARENT"] = TRACEPARENT
    response = app(environ, lambda status, headers, *a: None)
    try:
        return b"".join(response).decode()
    finally:
        close = getattr(response, "close", None)
        if close:
            close()


@pytest.mark.parametrize("order", ["opslog inside", "opslog outside", "opslog alone"])
@pytest.mark.parametrize("with_traceparent", [True, False])
def test_raw_wsgi(captured: Capture, order: str, with_traceparent: bool) -> None:
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    def instrumented(app: Any) -> Any:
        return OpenTelemetryMiddleware(app, tracer_provider=_provider())

    if order == "opslog inside":
        app = instrumented(opslog.WSGIMiddleware(_wsgi_app))
    elif order == "opslog outside":
        app = opslog.WSGIMiddleware(instrumented(_wsgi_app))
    else:
        app = opslog.WSGIMiddleware(_wsgi_app)
    correlation_id = _call_wsgi(app, with_traceparent)
    _check(captured, correlation_id, with_traceparent)
    if order == "opslog alone":
        server = captured.span("POST")
        attributes = dict(server.attributes or {})
        assert attributes["http.request.method"] == "POST"
        assert attributes["url.path"] == "/attach"
        assert attributes["http.response.status_code"] == 200
        assert attributes["url.scheme"] == "http"


def test_a_live_local_span_is_never_replaced(captured: Capture) -> None:
    tracer = _provider().get_tracer("app")
    with tracer.start_as_current_span("already-serving") as span:
        correlation_id = _call_wsgi(opslog.WSGIMiddleware(_wsgi_app), with_traceparent=True)
    assert correlation_id == format(span.get_span_context().trace_id, "032x")
    assert captured.span("volume-attach").parent.span_id == span.get_span_context().span_id


@pytest.fixture(autouse=True)
def _no_leftover_instrumentation() -> Iterator[None]:
    yield
