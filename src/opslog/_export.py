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
(:mod:`opslog._jsonlines`). No SDK provider is created.

**With an endpoint**, opslog creates a ``TracerProvider`` and a
``LoggerProvider`` (resource with ``service.name``; the sampler), each with
a bounded batch processor (:mod:`opslog._processor`) and an OTLP exporter,
and installs them as the global providers, so auto-instrumentation exports
through them too. If the application already installed its own global
providers, opslog adds nothing to them unless ``add_to_existing=True``,
and says so in a ``configuration`` self-diagnostic; opslog then emits
through the application's providers.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any, Callable, Optional

from opentelemetry import _logs, trace
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import SpanProcessor

from . import _diagnostics
from ._channels import LOGGER_NAME
from ._console import console_handler
from ._jsonlines import JsonLinesFormatter, is_event_record
from ._processor import BatchSettings, LogProcessor, SpanBatchProcessor, bounded_call

__all__ = ["ExportConfig", "Pipeline", "resolve_export_config"]

PROTOCOLS = ("grpc", "http/protobuf")
COMPRESSIONS = ("none", "gzip")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_SIGNAL_PATHS = {"traces": "v1/traces", "logs": "v1/logs"}
_ENV = "OTEL_EXPORTER_OTLP_"


@dataclass(frozen=True)
class SignalConfig:
    """Where and how one signal (traces or logs) is exported."""

    endpoint: str
    protocol: str
    headers: tuple[tuple[str, str], ...]
    compression: str
    timeout: float


@dataclass(frozen=True)
class ExportConfig:
    """The resolved export configuration (no secrets in its repr)."""

    service_name: Optional[str]
    resource_attributes: tuple[tuple[str, Any], ...]
    traces: Optional[SignalConfig]
    logs: Optional[SignalConfig]
    sampler: Optional[str]
    sampler_arg: Optional[float]
    console: bool
    console_stream: Optional[IO[str]] = field(compare=False)
    json_path: Optional[str]
    add_to_existing: bool
    batch: BatchSettings

    @property
    def exports(self) -> bool:
        return self.traces is not None or self.logs is not None

    def __repr__(self) -> str:
        def show(signal: Optional[SignalConfig]) -> str:
            if signal is None:
                return "off"
            return f"{signal.protocol} {signal.endpoint}"

        return (
            f"ExportConfig(traces={show(self.traces)}, logs={show(self.logs)}, "
            f"console={self.console}, json_path={self.json_path!r})"
        )


def _env(name: str, environ: Mapping[str, str]) -> Optional[str]:
    value = environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _pick(
    kwarg: Any, signal_kwarg: Any, signal: str, suffix: str, environ: Mapping[str, str]
) -> tuple[Any, str]:
    """(value, where it came from) by the resolution order."""
    if signal_kwarg is not None:
        return signal_kwarg, f"{signal}_{suffix.lower()}"
    if kwarg is not None:
        return kwarg, suffix.lower()
    name = f"{_ENV}{signal.upper()}_{suffix}"
    value = _env(name, environ)
    if value is not None:
        return value, name
    name = f"{_ENV}{suffix}"
    return _env(name, environ), name


def _safe_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.username or parts.password:
            host = parts.hostname or ""
            netloc = f"{host}:{parts.port}" if parts.port else host
            return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{netloc}"))
    except ValueError:
        return "<unparseable URL>"
    return url


def _check_endpoint(url: object, where: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{where}: the endpoint must be a URL such as http://localhost:4318")
    url = url.strip()
    shown = _safe_url(url)
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(
            f"{where}: {shown!r} is not a valid URL (check the port number); "
            "write it like http://collector:4318"
        ) from None
    if parts.scheme not in ("http", "https"):
        hint = f"http://{url}" if "://" not in url else "http://collector:4318"
        raise ValueError(
            f"{where}: {shown!r} needs an http:// (plaintext) or https:// (TLS) scheme, "
            f"e.g. {hint!r}"
        )
    if not parts.hostname:
        raise ValueError(f"{where}: {shown!r} has no host; write it like http://collector:4318")
    if port == 0:
        raise ValueError(f"{where}: {shown!r} has port 0; use the collector's OTLP port")
    return url


def _parse_headers(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, str):
        items = []
        for number, entry in enumerate(value.split(","), start=1):
            if not entry.strip():
                continue
            key, sep, raw = entry.partition("=")
            if not sep or not key.strip():
                # Never echo the entry: it may hold a token.
                raise ValueError(
                    f"{where}: header entry {number} is not key=value; "
                    "write headers as key1=value1,key2=value2 (values URL-encoded)"
                )
            items.append((key.strip(), urllib.parse.unquote(raw.strip())))
    else:
        raise ValueError(f"{where}: headers must be a mapping or a 'k=v,k2=v2' string")
    for key, header_value in items:
        if not isinstance(key, str) or not isinstance(header_value, str) or not key:
            raise ValueError(f"{where}: header names and values must be non-empty strings")
    return tuple((k.lower(), v) for k, v in items)


def _parse_timeout(value: Any, where: str, from_env: bool) -> float:
    if value is None:
        return 10.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a number") from None
    if from_env:
        number /= 1000.0  # the specification's unit for the variables
    if not number > 0 or number != number:
        unit = "milliseconds" if from_env else "seconds"
        raise ValueError(f"{where}: the timeout must be a positive number of {unit}")
    return number


def _signal_config(
    signal: str,
    kwargs: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Optional[SignalConfig]:
    endpoint, where = _pick(
        kwargs.get("endpoint"), kwargs.get(f"{signal}_endpoint"), signal, "ENDPOINT", environ
    )
    if endpoint is None:
        return None
    endpoint = _check_endpoint(endpoint, where)
    general_endpoint = where in ("endpoint", f"{_ENV}ENDPOINT")
    protocol, pwhere = _pick(kwargs.get("protocol"), None, signal, "PROTOCOL", environ)
    protocol = (protocol or "http/protobuf").strip().lower()
    if protocol not in PROTOCOLS:
        extra = (
            " (http/json is not supported by the Python exporters)" if "json" in protocol else ""
        )
        raise ValueError(
            f"{pwhere}: unknown OTLP protocol {protocol!r}{extra}; use 'grpc' or 'http/protobuf'"
        )
    if protocol == "http/protobuf" and general_endpoint:
        endpoint = endpoint.rstrip("/") + "/" + _SIGNAL_PATHS[signal]
    headers_value, hwhere = _pick(kwargs.get("headers"), None, signal, "HEADERS", environ)
    compression, cwhere = _pick(kwargs.get("compression"), None, signal, "COMPRESSION", environ)
    compression = (compression or "none").strip().lower()
    if compression not in COMPRESSIONS:
        raise ValueError(f"{cwhere}: unknown compression {compression!r}; use 'gzip' or 'none'")
    timeout_value, twhere = _pick(kwargs.get("timeout"), None, signal, "TIMEOUT", environ)
    timeout = _parse_timeout(timeout_value, twhere, from_env=twhere.startswith(_ENV))
    return SignalConfig(
        endpoint=endpoint,
        protocol=protocol,
        headers=_parse_headers(headers_value, hwhere),
        compression=compression,
        timeout=timeout,
    )


def resolve_export_config(
    kwargs: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None
) -> ExportConfig:
    """Validate ``configure``'s export keywords against the environment.

    Raises:
        ValueError: with the variable or keyword to fix, and how.
    """
    environ = os.environ if environ is None else environ
    traces = _signal_config("traces", kwargs, environ)
    logs = _signal_config("logs", kwargs, environ)
    sampler = kwargs.get("sampler")
    sampler_where = "sampler"
    if sampler is None:
        sampler, sampler_where = _env("OTEL_TRACES_SAMPLER", environ), "OTEL_TRACES_SAMPLER"
    if sampler is not None:
        sampler = str(sampler).strip().lower()
        if sampler not in SAMPLERS:
            raise ValueError(
                f"{sampler_where}: unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}"
            )
    arg = kwargs.get("sampler_arg")
    arg_where = "sampler_arg"
    if arg is None:
        arg, arg_where = _env("OTEL_TRACES_SAMPLER_ARG", environ), "OTEL_TRACES_SAMPLER_ARG"
    sampler_arg: Optional[float] = None
    if arg is not None:
        try:
            sampler_arg = float(arg)
        except (TypeError, ValueError):
            raise ValueError(f"{arg_where}: {arg!r} is not a number from 0 to 1") from None
        if not 0.0 <= sampler_arg <= 1.0:
            raise ValueError(f"{arg_where}: the ratio must be from 0 to 1, not {sampler_arg}")
    console = kwargs.get("console")
    stream: Optional[IO[str]] = None
    if console is None:
        console_on = traces is None and logs is None
    elif isinstance(console, bool):
        console_on = console
    elif hasattr(console, "write"):
        console_on, stream = True, console
    else:
        raise ValueError("console must be True, False, None or a text stream")
    json_path = kwargs.get("json_path") or _env("OPSLOG_JSON_PATH", environ)
    if json_path is not None:
        json_path = os.fspath(json_path)
    service_name = kwargs.get("service_name")
    if service_name is not None and (not isinstance(service_name, str) or not service_name):
        raise ValueError("service_name must be a non-empty string")
    attributes = kwargs.get("resource_attributes") or {}
    if not isinstance(attributes, Mapping):
        raise ValueError("resource_attributes must be a mapping of attribute name to value")
    batch = BatchSettings(
        max_queue_size=_positive_int(kwargs, "max_queue_size", 2048),
        max_batch_size=_positive_int(kwargs, "max_export_batch_size", 512),
        schedule_delay=float(kwargs.get("schedule_delay") or 1.0),
    )
    if not batch.schedule_delay > 0:
        raise ValueError("schedule_delay must be a positive number of seconds")
    return ExportConfig(
        service_name=service_name,
        resource_attributes=tuple(sorted((str(k), v) for k, v in attributes.items())),
        traces=traces,
        logs=logs,
        sampler=sampler,
        sampler_arg=sampler_arg,
        console=console_on,
        console_stream=stream,
        json_path=json_path,
        add_to_existing=bool(kwargs.get("add_to_existing", False)),
        batch=batch,
    )


def _positive_int(kwargs: Mapping[str, Any], name: str, default: int) -> int:
    value = kwargs.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
    return value


# -- building --------------------------------------------------------------------


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
