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
from functools import partial
from typing import Any, Callable, Optional

from opentelemetry import _logs, trace
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import SpanProcessor

from .. import _diagnostics
from ..channels.console import console_handler
from ..channels.emit import LOGGER_NAME
from ..channels.jsonlines import JsonLinesFormatter, is_event_record
from ..otel.providers import bounded_call
from .config import ExportConfig, SignalConfig, resolve_export_config
from .processor import LogProcessor, SpanBatchProcessor

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


def _exporter(signal_name: str, signal: SignalConfig) -> Any:
    """The OTLP exporter for one signal; the gRPC modules are imported only here."""
    import importlib

    module, name = _EXPORTERS[(signal_name, signal.protocol)]
    exporter_class = getattr(importlib.import_module(module), name)
    gzip = signal.compression == "gzip"
    if signal.protocol == "grpc":
        import grpc

        return exporter_class(
            endpoint=signal.endpoint,
            insecure=signal.endpoint.startswith("http://"),
            headers=dict(signal.headers),
            timeout=signal.timeout,
            compression=grpc.Compression.Gzip if gzip else None,
            channel_options=_GRPC_CHANNEL_OPTIONS,
        )
    from opentelemetry.exporter.otlp.proto.http import Compression

    return exporter_class(
        endpoint=signal.endpoint,
        headers=dict(signal.headers),
        timeout=signal.timeout,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
    )


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

    def emit(self, log_record: Any) -> None:  # older SDK name
        self.on_emit(log_record)

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
                    self.span_switch.inner = (
                        SpanBatchProcessor(_exporter("traces", config.traces), config.batch)
                        if config.traces is not None
                        else None
                    )
                    self.log_switch.inner = (
                        LogProcessor(_exporter("logs", config.logs), config.batch)
                        if config.logs is not None
                        else None
                    )
            else:
                self.span_switch.inner = None
                self.log_switch.inner = None
            self.config = config
        for old in (old_spans, old_logs):
            if old is not None:
                bounded_call(partial(old.batch.shutdown, timeout), timeout, "opslog-reconfigure")
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
        foreign_logger = not isinstance(global_logger, ProxyLoggerProvider) and (
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
        logger = logging.getLogger(LOGGER_NAME)
        for handler in self.handlers:
            logger.removeHandler(handler)
            handler.close()
        self.handlers = []
        if config.console:
            self.handlers.append(console_handler(config.console_stream or sys.stderr))
        if config.json_path is not None:
            try:
                file_handler = logging.FileHandler(config.json_path, encoding="utf-8", delay=False)
            except OSError as exc:
                raise ValueError(
                    f"json_path: cannot open {config.json_path!r} for appending "
                    f"({exc.strerror or exc}); give a writable file path"
                ) from None
            file_handler.setFormatter(JsonLinesFormatter())
            file_handler.addFilter(is_event_record)
            self.handlers.append(file_handler)
        for installed in self.handlers:
            logger.addHandler(installed)

    def reset(self) -> None:
        """Forget the configuration: remove opslog's handlers, stop the export.

        The providers opslog installed stay global (OpenTelemetry allows
        setting them once), with nothing behind them until the next
        :func:`opslog.configure`. Used by tests.
        """
        with self.lock:
            self.shutdown(2.0)
            logger = logging.getLogger(LOGGER_NAME)
            for handler in self.handlers:
                logger.removeHandler(handler)
                handler.close()
            self.handlers = []
            self.span_switch.inner = None
            self.log_switch.inner = None
            self.config = None

    # -- reading and ending ----------------------------------------------------------
    def stats(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for name, switch in (("spans", self.span_switch), ("log_records", self.log_switch)):
            inner = switch.inner
            if inner is not None:
                result[name] = {**inner.batch.stats.as_dict(), "pending": inner.batch.pending}
        return result

    def shutdown(self, timeout: float) -> bool:
        """Flush and stop the export, in parallel, within ``timeout``."""
        with self.lock:
            inners = [p for p in (self.span_switch.inner, self.log_switch.inner) if p is not None]
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
        for thread in threads:
            thread.join(timeout + 0.5)
        for handler in self.handlers:
            try:
                handler.flush()
            except Exception:
                pass
        return len(results) == len(inners) and all(results)


PIPELINE = Pipeline()


def report_notes(notes: list[str]) -> None:
    for note in notes:
        _diagnostics.report(_diagnostics.CONFIGURATION, note)
