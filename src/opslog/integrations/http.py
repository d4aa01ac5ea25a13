"""HTTP helpers: carry the operation across service boundaries.

Server side, with no framework dependency:

* :class:`WSGIMiddleware` and :class:`ASGIMiddleware` make each request a
  ``SERVER`` span (HTTP semantic conventions: ``http.request.method``,
  ``url.scheme``, ``url.path``, ``server.address``/``port``,
  ``client.address``, ``user_agent.original``,
  ``http.response.status_code``; Error for 5xx and exceptions), a child of
  the caller's span from the incoming ``traceparent`` (with its
  ``tracestate`` and ``baggage``: the caller's job id), current while the
  app runs. ``opslog.new_operation_logger()`` inside a handler continues
  that trace, its operations children of the request's span.

  **With OpenTelemetry's server instrumentation** (Flask, FastAPI, the
  WSGI/ASGI middleware, ``opentelemetry-instrument``) they cooperate in
  either order, so each request has exactly one ``SERVER`` span: inside the
  instrumentation, a valid local span is current already, and the
  middleware changes nothing (it never replaces a live context); outside
  it, the middleware's span is the ``SERVER`` span and the instrumentation
  records an ``INTERNAL`` span under it. Preferred setup: the
  instrumentation outermost (it knows the route), opslog's middleware
  inside it, or opslog's middleware alone where there is no
  instrumentation.

* :class:`ASGIMiddleware` also flushes opslog's export when the server shuts
  the application down (ASGI ``lifespan.shutdown``), before the server exits:
  uvicorn re-raises ``SIGTERM`` after its graceful shutdown, so exit-time
  handlers never run there.

Client side:

* :func:`http_client_span` wraps any HTTP call (``http.client``,
  ``urllib``, a raw socket) in a ``CLIENT`` span under the current step and
  gives the headers to send;
* :func:`urlopen` is ``urllib.request.urlopen`` doing exactly that.

The client span follows the HTTP semantic conventions
(``http.request.method``, ``server.address``, ``server.port``,
``url.full`` with any credentials and query string removed,
``http.response.status_code``; Error status for 4xx/5xx and for
exceptions, which propagate unchanged). It ends when the response headers
have arrived.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

if TYPE_CHECKING:
    from urllib.request import Request

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._config import MAX_EXIT_TIMEOUT, get_settings
from .._numbers import seconds
from ..fields.errors import qualified_type
from ..fields.urls import shown_url
from ..otel.correlation import active_context
from ..otel.propagation import extract, inject
from ..otel.providers import start_span

__all__ = ["ASGIMiddleware", "ClientCall", "WSGIMiddleware", "http_client_span", "urlopen"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def _live_local_span() -> bool:
    """A valid span of this process is current: someone (server instrumentation)
    already made the request's span; its context must not be replaced."""
    span_context = trace.get_current_span().get_span_context()
    return span_context.is_valid and not span_context.is_remote


def _server_attributes(
    method: str,
    scheme: str,
    path: str,
    host: str,
    port: Optional[int],
    client: str,
    user_agent: str,
    protocol: str,
) -> dict[str, Any]:
    """HTTP semantic-convention attributes of a server span (no query string:
    it may hold secrets; the path is redacted)."""
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.scheme": scheme,
        "url.path": get_settings().coercer.text(path),
    }
    if host:
        attributes["server.address"] = host
    if port:
        attributes["server.port"] = port
    if client:
        attributes["client.address"] = client
    if user_agent:
        attributes["user_agent.original"] = get_settings().coercer.text(user_agent)
    if protocol:
        attributes["network.protocol.version"] = protocol
    return attributes


class _ServerRequest:
    """One request's ``SERVER`` span, what WSGI and ASGI share: started in the
    caller's trace (its ``traceparent``), the response status as it is sent,
    and the end with HTTP semantic-convention status and error."""

    def __init__(self, method: str, attributes: dict[str, Any], carrier: Any) -> None:
        parent = extract(carrier, context.get_current())
        self.span = start_span(method, parent, attributes=attributes, kind=SpanKind.SERVER)
        #: The context to make current while the application runs.
        self.context = trace.set_span_in_context(self.span, parent)
        #: The response status code, once the application has sent it.
        self.status: Optional[int] = None

    def finish(self, error: Optional[BaseException] = None) -> None:
        span, status = self.span, self.status
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error is not None:
            span.set_attribute("error.type", qualified_type(error))
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        elif status is not None and status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()


class WSGIMiddleware:
    """Each WSGI request as a ``SERVER`` span in the caller's trace (see the module docstring)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if _live_local_span():
            return self.app(environ, start_response)  # instrumentation runs the request
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        port = environ.get("SERVER_PORT")
        attributes = _server_attributes(
            method,
            str(environ.get("wsgi.url_scheme", "http")),
            str(environ.get("PATH_INFO", "") or "/"),
            str(environ.get("HTTP_HOST", "")).split(":")[0] or str(environ.get("SERVER_NAME", "")),
            int(str(port)) if str(port or "").isdigit() else None,
            str(environ.get("REMOTE_ADDR", "")),
            str(environ.get("HTTP_USER_AGENT", "")),
            str(environ.get("SERVER_PROTOCOL", "")).partition("/")[2],
        )
        request = _ServerRequest(method, attributes, environ)

        def recording_start_response(code: str, headers: Any, *args: Any) -> Any:
            digits = code.split(" ", 1)[0]
            if digits.isdigit():
                request.status = int(digits)
            return start_response(code, headers, *args)

        token = context.attach(request.context)
        try:
            body = self.app(environ, recording_start_response)
        except BaseException as exc:
            request.finish(exc)
            raise
        finally:
            context.detach(token)
        return _ClosingBody(body, request.finish)


class _ClosingBody:
    """A WSGI response body that ends the request's span when the server closes it."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._body = body
        self._on_close: Optional[Callable[[], None]] = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if callable(close):
                close()
        finally:
            finish, self._on_close = self._on_close, None
            if finish is not None:
                finish()


class ASGIMiddleware:
    """Each ASGI HTTP/WebSocket request as a ``SERVER`` span in the caller's trace;
    opslog's export flushed at ``lifespan.shutdown`` (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, flush_timeout: Optional[float] = None) -> None:
        self.app = app
        #: Seconds the flush at lifespan shutdown may take (default: ``exit_timeout``).
        self.flush_timeout = (
            None
            if flush_timeout is None
            else seconds(
                flush_timeout,
                "ASGIMiddleware(flush_timeout)",
                allow_zero=True,
                high=MAX_EXIT_TIMEOUT,  # a flush at shutdown, like the exit handler's
            )
        )

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind not in ("http", "websocket") or _live_local_span():
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        method = str(scope.get("method", "GET")).upper() if kind == "http" else "GET"
        server = scope.get("server") or ("", None)
        client = scope.get("client") or ("",)
        user_agent = next((_text(v) for k, v in headers if _text(k).lower() == "user-agent"), "")
        attributes = _server_attributes(
            method,
            str(scope.get("scheme", "http")),
            str(scope.get("path", "") or "/"),
            str(server[0] or ""),
            server[1] if isinstance(server[1], int) else None,
            str(client[0] or ""),
            user_agent,
            str(scope.get("http_version", "")),
        )
        request = _ServerRequest(method, attributes, headers)

        async def recording_send(message: Any) -> None:
            if message.get("type") == "http.response.start":
                request.status = int(message.get("status", 0))
            await send(message)

        token = context.attach(request.context)
        try:
            await self.app(scope, receive, recording_send)
        except BaseException as exc:
            request.finish(exc)
            raise
        else:
            request.finish()
        finally:
            context.detach(token)

    async def _lifespan(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        async def flushing_send(message: Any) -> None:
            if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self._flush()
            await send(message)

        await self.app(scope, receive, flushing_send)

    async def _flush(self) -> None:
        import asyncio

        from ..export.setup import shutdown

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, shutdown, self.flush_timeout)


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)


class ClientCall:
    """What :func:`http_client_span` yields: the headers to send, and the outcome."""

    def __init__(self, span: trace.Span, headers: dict[str, str]) -> None:
        self.span = span
        #: ``traceparent``, ``tracestate`` and ``baggage`` for the request.
        self.headers = headers

    def set_status(self, status_code: int) -> None:
        """Record the response status (4xx/5xx mark the span as Error)."""
        self.span.set_attribute("http.response.status_code", status_code)
        if status_code >= 400:
            self.span.set_attribute("error.type", str(status_code))
            self.span.set_status(Status(StatusCode.ERROR))


@contextmanager
def http_client_span(method: str, url: str) -> Iterator[ClientCall]:
    """A ``CLIENT`` span for one HTTP call under the current step.

    ::

        with opslog.http_client_span("POST", url) as call:
            conn.request("POST", "/attach", body, headers={**call.headers, **mine})
            call.set_status(conn.getresponse().status)
    """
    method = method.upper()
    full, host, port = shown_url(url)
    full = get_settings().coercer.text(full)  # secrets travel in paths too
    attributes: dict[str, Any] = {"http.request.method": method, "url.full": full}
    if host:
        attributes["server.address"] = host
    if port is not None:
        attributes["server.port"] = port
    parent = active_context()
    span = start_span(method, parent, attributes=attributes, kind=SpanKind.CLIENT)
    headers: dict[str, str] = {}
    inject(headers, trace.set_span_in_context(span, parent))
    call = ClientCall(span, headers)
    try:
        yield call
    except BaseException as exc:
        if not (type(exc).__name__ == "HTTPError" and hasattr(exc, "code")):
            span.set_attribute("error.type", qualified_type(exc))
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        span.end()


def urlopen(
    request: Union[str, Request],
    data: Optional[bytes] = None,
    timeout: float = 30.0,
    *,
    headers: Optional[dict[str, str]] = None,
    method: Optional[str] = None,
) -> Any:
    """``urllib.request.urlopen`` in a client span, with the trace context injected.

    Returns the response; ``HTTPError`` and other exceptions propagate
    unchanged (the span records them).
    """
    import urllib.error
    import urllib.request

    if not isinstance(request, urllib.request.Request):
        request = urllib.request.Request(request, data=data, headers=headers or {}, method=method)
        data = None
    with http_client_span(request.get_method(), request.full_url) as call:
        for name, value in call.headers.items():
            request.add_header(name, value)
        try:
            response = urllib.request.urlopen(request, data=data, timeout=timeout)
        except urllib.error.HTTPError as exc:
            call.set_status(exc.code)
            raise
        call.set_status(int(getattr(response, "status", 0) or 0))
        return response
