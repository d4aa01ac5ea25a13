"""HTTP helpers: carry the operation across service boundaries.

Server side, with no framework dependency:

* :class:`WSGIMiddleware` and :class:`ASGIMiddleware` extract the incoming
  ``traceparent``/``tracestate``/``baggage`` and make that context current
  for the request, so ``opslog.new_operation_logger()`` inside a handler
  continues the caller's trace (as a child of the caller's client span) with
  the caller's job id. They create no span of their own. For a WSGI app
  that streams its response from a generator, the context is current while
  the app is called, not while the body is iterated.

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

from .._config import get_settings
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


class WSGIMiddleware:
    """Make the caller's trace context current for each WSGI request."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        token = context.attach(extract(environ))
        try:
            return self.app(environ, start_response)
        finally:
            context.detach(token)


class ASGIMiddleware:
    """Make the caller's trace context current for each ASGI HTTP/WebSocket request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = context.attach(extract(scope.get("headers") or []))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


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
