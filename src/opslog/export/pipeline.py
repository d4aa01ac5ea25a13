"""Export setup: where events go (OTLP to a collector, or the embedded default).

Resolution, per option, first match wins: the keyword argument of
:func:`opslog.configure`, the signal-specific ``OTEL_*`` variable, the
general ``OTEL_*`` variable, the default.

=========================  ==============================================  ==================
option                     variables                                       default
=========================  ==============================================  ==================
``endpoint``               ``OTEL_EXPORTER_OTLP_ENDPOINT``,                none: embedded
                           ``..._TRACES_ENDPOINT``, ``..._LOGS_ENDPOINT``  default
``protocol``               ``OTEL_EXPORTER_OTLP_PROTOCOL``,                ``http/protobuf``
                           ``..._TRACES_PROTOCOL``, ``..._LOGS_PROTOCOL``
``headers``                ``OTEL_EXPORTER_OTLP_HEADERS`` (+ per signal)   none
``compression``            ``OTEL_EXPORTER_OTLP_COMPRESSION`` (+ per       ``none``
                           signal): ``gzip`` or ``none``
``timeout`` (seconds)      ``OTEL_EXPORTER_OTLP_TIMEOUT`` (+ per signal),  10 s
                           in **milliseconds** as the specification says
``service_name``           ``OTEL_SERVICE_NAME``, ``service.name`` in      ``unknown_service``
                           ``OTEL_RESOURCE_ATTRIBUTES``
``sampler``/``sampler_arg``  ``OTEL_TRACES_SAMPLER``/``..._ARG``           ``parentbased_always_on``
``json_path``              ``OPSLOG_JSON_PATH``                            none
=========================  ==============================================  ==================

Endpoints must be ``http://`` (plaintext) or ``https://`` (TLS) URLs. With
``http/protobuf`` the general endpoint is a base URL to which ``v1/traces``
and ``v1/logs`` are appended; signal-specific endpoints are used as given.
With ``grpc`` only the scheme, host and port count. The gRPC exporter (and
``grpcio``) is imported only when the gRPC protocol is used.

**Embedded default.** With no endpoint anywhere, nothing touches the
network: events are printed to the terminal (stderr, one line each, colour
on a TTY) and, with ``json_path``, written as JSON lines
(:mod:`opslog.channels.jsonlines`). No SDK provider is created.

**With an endpoint**, opslog creates a ``TracerProvider`` and a
``LoggerProvider`` (resource with ``service.name``; the sampler), each with
a bounded batch processor (:mod:`opslog.export.processor`) and an OTLP exporter,
and installs them as the global providers, so auto-instrumentation exports
through them too. If the application already installed its own global
providers, opslog adds nothing to them unless ``add_to_existing=True``,
and says so in a ``configuration`` self-diagnostic; opslog then emits
through the application's providers.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import urllib.parse
from typing import Any, Callable, Optional

from opentelemetry import _logs, trace
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import SpanProcessor

from .. import _diagnostics
from ..channels.console import console_handler
from ..channels.jsonlines import JSON_LINES_STATS, JsonLinesFileHandler
from ..channels.stdlib import LOGGER_NAME
from ..fields.urls import shown_url
from ..otel.internals import (
    RequestSizes,
    is_placeholder_logger_provider,
    use_log_encoder,
    use_span_encoder,
)
from .config import ExportConfig, SignalConfig, resolve_export_config
from .encoding import encode_log_records, encode_spans
from .fitting import record_within, span_within
from .processor import ExportStats, LogProcessor, SpanBatchProcessor

__all__ = ["ExportConfig", "Pipeline", "resolve_export_config"]

#: gRPC's default reconnect backoff grows to 120 s: after a collector
#: restart, minutes of data would fail fast. Cap it at 5 s.
_GRPC_CHANNEL_OPTIONS: Any = (  # the exporters type this as str pairs; grpc wants ints
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.min_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5000),
)


#: (module, class) of the OTLP exporter for each (signal, protocol).
_EXPORTERS = {
    ("traces", "grpc"): (
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
        "OTLPSpanExporter",
    ),
    ("logs", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter"),
    ("traces", "http/protobuf"): (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "OTLPSpanExporter",
    ),
    ("logs", "http/protobuf"): (
        "opentelemetry.exporter.otlp.proto.http._log_exporter",
        "OTLPLogExporter",
    ),
}


def _exporter(signal_name: str, signal: SignalConfig) -> tuple[Any, Optional[RequestSizes]]:
    """The exporter for one signal, and for OTLP what measures its requests
    (batches are split by it, see :func:`.processor.parts_within`); the gRPC
    modules are imported only here."""
    import importlib

    if signal.exporter == "console":
        if signal_name == "traces":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            return ConsoleSpanExporter(), None
        from opentelemetry.sdk._logs.export import ConsoleLogExporter

        return ConsoleLogExporter(), None
    module, name = _EXPORTERS[(signal_name, signal.protocol)]
    exporter_class = getattr(importlib.import_module(module), name)
    gzip = signal.compression == "gzip"
    if signal.protocol == "grpc":
        import grpc

        # A scheme of https takes precedence over OTEL_EXPORTER_OTLP_INSECURE.
        insecure = signal.endpoint.startswith("http://") and signal.insecure is not False
        credentials = None
        if not insecure and (signal.certificate or signal.client_key):
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(signal.certificate),
                private_key=_read(signal.client_key),
                certificate_chain=_read(signal.client_certificate),
            )
        exporter = exporter_class(
            endpoint=signal.endpoint,
            insecure=insecure,
            credentials=credentials,
            headers=dict(signal.headers),
            timeout=signal.timeout,
            compression=grpc.Compression.Gzip if gzip else None,
            channel_options=_GRPC_CHANNEL_OPTIONS,
        )
    else:
        from opentelemetry.exporter.otlp.proto.http import Compression

        tls: dict[str, Any] = {}
        if signal.certificate:
            tls["certificate_file"] = signal.certificate
        if signal.client_key:
            tls["client_key_file"] = signal.client_key
        if signal.client_certificate:
            tls["client_certificate_file"] = signal.client_certificate
        exporter = exporter_class(
            endpoint=signal.endpoint,
            headers=dict(signal.headers),
            timeout=signal.timeout,
            compression=Compression.Gzip if gzip else Compression.NoCompression,
            **tls,
        )
    # Several times faster than the SDK's encoders, same bytes (see
    # .encoding): the export thread keeps up with a busier caller, and takes
    # less of the interpreter from it.
    if signal_name == "logs":
        sizes = RequestSizes(encode_log_records)
        use_log_encoder(exporter, encode_log_records, sizes)
    else:
        sizes = RequestSizes(encode_spans)
        use_span_encoder(exporter, encode_spans, sizes)
    return exporter, sizes


_FIX = {
    "traces": ("OTEL_TRACES_EXPORTER", "traces_exporter", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    "logs": ("OTEL_LOGS_EXPORTER", "logs_exporter", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
}


def _prober(signal_name: str, signal: SignalConfig) -> Optional[Callable[[], Optional[str]]]:
    """A check that ``signal``'s endpoint takes this signal at all; run once,
    after the first failed export (see :class:`~.processor.BoundedBatchProcessor`)."""
    if signal.exporter != "otlp":
        return None

    def probe() -> Optional[str]:
        detail = _refusal(signal_name, signal)
        if detail is None:
            return None
        variable, keyword, endpoint_variable = _FIX[signal_name]
        what = "traces" if signal_name == "traces" else "log records"
        return (
            f"{shown_url(signal.endpoint).text} does not accept OTLP {what} ({detail}); "
            f"opslog stops sending them. If this backend takes "
            f"{'logs' if signal_name == 'traces' else 'traces'} only, set {variable}=none "
            f"(or configure({keyword}='none')); otherwise point {endpoint_variable} at an "
            "OpenTelemetry Collector"
        )

    return probe


def _reachability(signal: SignalConfig) -> Optional[Callable[[], bool]]:
    """A check that ``signal``'s endpoint accepts a TCP connection, asked by
    the processor after a failed export before it encodes the next batch
    (see :class:`~.processor.BoundedBatchProcessor`). ``None`` (always try
    the exporter) when the endpoint is not OTLP or is reached through a proxy
    (from ``HTTPS_PROXY``/``HTTP_PROXY``/``grpc_proxy``): a direct connect
    would say nothing about it."""
    if signal.exporter != "otlp":
        return None
    import socket
    import urllib.request  # here: configure() time, not import time

    parts = urllib.parse.urlsplit(signal.endpoint)
    host = parts.hostname
    if not host:
        return None
    try:
        port = parts.port or (
            4317 if signal.protocol == "grpc" else 443 if parts.scheme == "https" else 80
        )
    except ValueError:
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if signal.protocol == "grpc":
        proxy = proxy or proxies.get("grpc")
    if proxy and not urllib.request.proxy_bypass(host):
        return None
    timeout = min(signal.timeout, 1.0)

    def reachable() -> bool:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError:  # refused, unreachable, unresolvable, timed out
            return False
        return True

    return reachable


def _refusal(signal_name: str, signal: SignalConfig) -> Optional[str]:
    """``"HTTP 405"`` / ``"gRPC UNIMPLEMENTED"`` when the endpoint has no such
    service, else ``None`` (it may be down, slow or busy: those pass)."""
    timeout = min(signal.timeout, 5.0)
    if signal.protocol == "grpc":
        import grpc
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
        from opentelemetry.proto.collector.trace.v1 import (
            trace_service_pb2,
            trace_service_pb2_grpc,
        )

        parts = urllib.parse.urlsplit(signal.endpoint)
        target = f"{parts.hostname}:{parts.port or 4317}"
        if parts.scheme == "http":
            channel = grpc.insecure_channel(target)
        else:
            credentials = grpc.ssl_channel_credentials(_read(signal.certificate))
            channel = grpc.secure_channel(target, credentials)
        try:
            if signal_name == "logs":
                logs_service_pb2_grpc.LogsServiceStub(channel).Export(  # type: ignore[no-untyped-call]
                    logs_service_pb2.ExportLogsServiceRequest(), timeout=timeout
                )
            else:
                trace_service_pb2_grpc.TraceServiceStub(channel).Export(  # type: ignore[no-untyped-call]
                    trace_service_pb2.ExportTraceServiceRequest(), timeout=timeout
                )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                return "gRPC UNIMPLEMENTED"
        finally:
            channel.close()
        return None
    import ssl
    import urllib.request as urllib_request
    from urllib.error import HTTPError

    request = urllib_request.Request(
        signal.endpoint,
        data=b"",  # an empty export request: valid protobuf
        headers={**dict(signal.headers), "Content-Type": "application/x-protobuf"},
        method="POST",
    )
    context = ssl.create_default_context(cafile=signal.certificate) if signal.certificate else None
    try:
        with urllib_request.urlopen(request, timeout=timeout, context=context):
            return None
    except HTTPError as error:
        return f"HTTP {error.code}" if error.code in (404, 405) else None
    except Exception:
        return None


def _read(path: Optional[str]) -> Optional[bytes]:
    if path is None:
        return None
    with open(path, "rb") as file:
        return file.read()


def _sampler(name: Optional[str], arg: Optional[float]) -> Any:
    from opentelemetry.sdk.trace import sampling

    ratio = 1.0 if arg is None else arg
    table: dict[str, Callable[[], Any]] = {
        "always_on": lambda: sampling.ALWAYS_ON,
        "always_off": lambda: sampling.ALWAYS_OFF,
        "traceidratio": lambda: sampling.TraceIdRatioBased(ratio),
        "parentbased_always_on": lambda: sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": lambda: sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": lambda: sampling.ParentBased(sampling.TraceIdRatioBased(ratio)),
    }
    return table[name or "parentbased_always_on"]()


class _SwitchableSpanProcessor(SpanProcessor):
    """Added once to a provider; the processor behind it can be replaced."""

    def __init__(self) -> None:
        self.inner: Optional[SpanBatchProcessor] = None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def _on_ending(self, span: Any) -> None:
        pass

    def on_end(self, span: Any) -> None:
        inner = self.inner
        if inner is not None:
            inner.on_end(span)

    def shutdown(self) -> None:
        pass  # opslog.shutdown() shuts the inner processor down with a deadline

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        inner = self.inner
        return True if inner is None else inner.force_flush(timeout_millis)


class _SwitchableLogProcessor(LogRecordProcessor):
    def __init__(self) -> None:
        self.inner: Optional[LogProcessor] = None

    def on_emit(self, log_record: Any) -> None:
        inner = self.inner
        if inner is not None:
            inner.on_emit(log_record)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        inner = self.inner
        return True if inner is None else inner.force_flush(timeout_millis)


class Pipeline:
    """What :func:`opslog.configure` set up; there is one per process."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.config: Optional[ExportConfig] = None
        self.tracer_provider: Any = None  # created by opslog
        self.logger_provider: Any = None
        self.span_switch = _SwitchableSpanProcessor()
        self.log_switch = _SwitchableLogProcessor()
        self._switched_providers: set[int] = set()
        self.handlers: list[logging.Handler] = []
        #: Counts of processors replaced and stopped, by signal.
        self._totals: dict[str, ExportStats] = {
            "spans": ExportStats(),
            "log_records": ExportStats(),
        }
        #: Replaced processors still flushing: (signal, processor, thread).
        self._retiring: list[tuple[str, Any, threading.Thread]] = []

    # -- applying a configuration ----------------------------------------------
    def apply(self, config: ExportConfig, timeout: float) -> list[str]:
        """Make the pipeline match ``config``; returns notes for the caller."""
        notes: list[str] = []
        with self.lock:
            if config == self.config and config.console_stream is None:
                return notes
            old_spans, old_logs = self.span_switch.inner, self.log_switch.inner
            self._install_handlers(config)
            if config.exports:
                providers_ok = self._providers(config, notes)
                if providers_ok:
                    self.span_switch.inner = None
                    if config.traces is not None:
                        exporter, sizes = _exporter("traces", config.traces)
                        self.span_switch.inner = SpanBatchProcessor(
                            exporter,
                            config.traces.batch,
                            reachable=_reachability(config.traces),
                            measure=sizes.measure if sizes is not None else None,
                            fit=span_within,
                        )
                    self.log_switch.inner = None
                    if config.logs is not None:
                        exporter, sizes = _exporter("logs", config.logs)
                        self.log_switch.inner = LogProcessor(
                            exporter,
                            config.logs.batch,
                            _prober("logs", config.logs),
                            _reachability(config.logs),
                            sizes.measure if sizes is not None else None,
                            record_within,
                        )
            else:
                self.span_switch.inner = None
                self.log_switch.inner = None
            self.config = config
        with self.lock:
            for name, old, new in (
                ("spans", old_spans, self.span_switch.inner),
                ("log_records", old_logs, self.log_switch.inner),
            ):
                if old is not None and old is not new:
                    self._retire(name, old, timeout)
        return notes

    def _providers(self, config: ExportConfig, notes: list[str]) -> bool:
        """Get providers to attach to; False when the application's must be left alone."""
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        global_tracer = trace.get_tracer_provider()
        global_logger = _logs.get_logger_provider()
        foreign_tracer = not isinstance(global_tracer, trace.ProxyTracerProvider) and (
            global_tracer is not self.tracer_provider
        )
        foreign_logger = not is_placeholder_logger_provider(global_logger) and (
            global_logger is not self.logger_provider
        )
        if foreign_tracer or foreign_logger:
            if not config.add_to_existing:
                notes.append(
                    "the application already installed OpenTelemetry providers; opslog added "
                    "no exporter to them and emits through them (pass add_to_existing=True "
                    "to add opslog's OTLP export to them)"
                )
                return False
            for provider, switch, add in (
                (global_tracer, self.span_switch, "add_span_processor"),
                (global_logger, self.log_switch, "add_log_record_processor"),
            ):
                if id(provider) not in self._switched_providers and hasattr(provider, add):
                    getattr(provider, add)(switch)
                    self._switched_providers.add(id(provider))
            notes.append("opslog's OTLP export was added to the application's providers")
            return True
        if self.tracer_provider is None:
            attributes = dict(config.resource_attributes)
            if config.service_name:
                attributes["service.name"] = config.service_name
            resource = Resource.create(attributes)
            self.tracer_provider = TracerProvider(
                resource=resource,
                sampler=_sampler(config.sampler, config.sampler_arg),
                shutdown_on_exit=False,
            )
            self.tracer_provider.add_span_processor(self.span_switch)
            self.logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
            self.logger_provider.add_log_record_processor(self.log_switch)
            trace.set_tracer_provider(self.tracer_provider)
            _logs.set_logger_provider(self.logger_provider)
        elif self.config is not None and (
            config.service_name != self.config.service_name
            or config.sampler != self.config.sampler
            or config.resource_attributes != self.config.resource_attributes
        ):
            notes.append(
                "service_name, resource_attributes and sampler are fixed once the "
                "providers exist; the first values stay in force"
            )
        return True

    def _install_handlers(self, config: ExportConfig) -> None:
        handlers: list[logging.Handler] = []
        if config.console:
            handlers.append(console_handler(config.console_stream or sys.stderr))
        if config.json_path is not None:
            try:
                handlers.append(JsonLinesFileHandler(config.json_path))
            except OSError as exc:
                raise ValueError(
                    f"json_path: cannot open {config.json_path!r} for appending "
                    f"({exc.strerror or exc}); give a writable file path"
                ) from None
        self._remove_handlers()
        self.handlers = handlers
        logger = logging.getLogger(LOGGER_NAME)
        for installed in handlers:
            logger.addHandler(installed)

    def _remove_handlers(self) -> None:
        logger = logging.getLogger(LOGGER_NAME)
        for handler in self.handlers:
            logger.removeHandler(handler)
            try:
                handler.close()
            except Exception:  # a failing disk or stream: never raised to configure()
                pass
        self.handlers = []

    def reset(self) -> None:
        """Forget the configuration: remove opslog's handlers, stop the export.

        The providers opslog installed stay global (OpenTelemetry allows
        setting them once), with nothing behind them until the next
        :func:`opslog.configure`. Used by tests.
        """
        with self.lock:
            self.shutdown(2.0)
            self._remove_handlers()
            self.span_switch.inner = None
            self.log_switch.inner = None
            self.config = None
            self._totals = {"spans": ExportStats(), "log_records": ExportStats()}
            self._retiring = []
            JSON_LINES_STATS.reset()

    # -- reading and ending ----------------------------------------------------------
    def stats(self) -> dict[str, dict[str, int]]:
        """Counters since the process started, whatever was reconfigured."""
        result: dict[str, dict[str, int]] = {}
        with self.lock:
            totals = {name: stats.as_dict() for name, stats in self._totals.items()}
            pending = {name: 0 for name in totals}
            used = {name for name, stats in self._totals.items() if stats.used}
            for name, processor, _ in self._retiring:
                _add(totals[name], processor.batch.stats.as_dict())
                pending[name] += processor.batch.pending
                used.add(name)
            for name, switch in (("spans", self.span_switch), ("log_records", self.log_switch)):
                inner = switch.inner
                if inner is not None:
                    _add(totals[name], inner.batch.stats.as_dict())
                    pending[name] += inner.batch.pending
                    used.add(name)
        for name in ("spans", "log_records"):
            if name in used:
                result[name] = {**totals[name], "pending": pending[name]}
        json_lines = JSON_LINES_STATS.as_dict()
        if any(json_lines.values()):
            result["json_lines"] = json_lines
        return result

    def _retire(self, name: str, processor: Any, timeout: float) -> None:
        """Flush and stop a replaced processor in the background (a black-holed
        collector must not block ``configure()``); its counts are kept."""

        def run() -> None:
            try:
                processor.batch.shutdown(timeout)
            finally:
                with self.lock:
                    self._totals[name].add(processor.batch.stats)
                    self._retiring = [r for r in self._retiring if r[1] is not processor]

        thread = threading.Thread(target=run, name="opslog-retire", daemon=True)
        self._retiring.append((name, processor, thread))
        thread.start()

    def shutdown(self, timeout: float) -> bool:
        """Flush and stop the export (replaced processors still flushing
        included), in parallel, within ``timeout``."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self.lock:
            inners = [p for p in (self.span_switch.inner, self.log_switch.inner) if p is not None]
            retiring = [thread for _, _, thread in self._retiring]
        results: list[bool] = []
        threads = [
            threading.Thread(
                target=lambda batch=inner.batch: results.append(batch.shutdown(timeout)),
                name="opslog-shutdown",
                daemon=True,
            )
            for inner in inners
        ]
        for thread in threads:
            thread.start()
        for thread in [*threads, *retiring]:
            thread.join(max(0.0, deadline - time.monotonic()) + 0.05)
        for handler in self.handlers:
            try:
                handler.flush()
            except Exception:
                pass
        finished = not any(thread.is_alive() for thread in retiring)
        return finished and len(results) == len(inners) and all(results)


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        total[key] = total.get(key, 0) + value


PIPELINE = Pipeline()


def report_notes(notes: list[str]) -> None:
    for note in notes:
        _diagnostics.report(_diagnostics.CONFIGURATION, note)
