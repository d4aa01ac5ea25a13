"""The public setup calls: :func:`configure`, :func:`shutdown`, :func:`export_stats`.

``configure`` takes two kinds of options. *Event options* (channels, level,
redaction, limits, the error classifier; :mod:`opslog._config`) change only
what they name. *Export options* (:mod:`opslog.export.pipeline`) describe the whole
pipeline: the first ``configure()`` call sets it up from its keywords and
the ``OTEL_*`` variables, and a later call rebuilds it only if it names an
export option. Calling ``configure`` again with the same arguments changes
nothing (it is idempotent), so libraries and applications may both call it.
"""

from __future__ import annotations

import time
from typing import IO, Any, Optional, Union

from .. import _config
from .._config import Settings
from .._numbers import seconds
from ..core import lifecycle
from ..otel.providers import force_flush
from .pipeline import PIPELINE, report_notes, resolve_export_config

__all__ = ["configure", "export_stats", "shutdown"]

_EXPORT_OPTIONS = (
    "service_name",
    "resource_attributes",
    "endpoint",
    "traces_endpoint",
    "logs_endpoint",
    "protocol",
    "headers",
    "compression",
    "timeout",
    "sampler",
    "sampler_arg",
    "console",
    "json_path",
    "add_to_existing",
    "max_queue_size",
    "max_export_batch_size",
    "max_export_bytes",
    "schedule_delay",
    "traces_exporter",
    "logs_exporter",
    "insecure",
    "certificate_file",
    "client_key_file",
    "client_certificate_file",
)


def configure(
    *,
    service_name: Optional[str] = None,
    resource_attributes: Optional[dict[str, Any]] = None,
    endpoint: Optional[str] = None,
    traces_endpoint: Optional[str] = None,
    logs_endpoint: Optional[str] = None,
    protocol: Optional[str] = None,
    headers: Union[dict[str, str], str, None] = None,
    compression: Optional[str] = None,
    timeout: Optional[float] = None,
    sampler: Optional[str] = None,
    sampler_arg: Optional[float] = None,
    console: Union[bool, IO[str], None] = None,
    json_path: Optional[str] = None,
    add_to_existing: Optional[bool] = None,
    max_queue_size: Optional[int] = None,
    max_export_batch_size: Optional[int] = None,
    max_export_bytes: Optional[int] = None,
    schedule_delay: Optional[float] = None,
    traces_exporter: Optional[str] = None,
    logs_exporter: Optional[str] = None,
    insecure: Optional[bool] = None,
    certificate_file: Optional[str] = None,
    client_key_file: Optional[str] = None,
    client_certificate_file: Optional[str] = None,
    flush_on_signals: Optional[bool] = None,
    **event_options: Any,
) -> Settings:
    """Set up opslog. See the README's "Configuration" section.

    Export options (``None`` means "from the environment, else the default"):

    Args:
        service_name: ``service.name`` of the resource (else
            ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``).
        resource_attributes: more resource attributes.
        endpoint: OTLP endpoint URL for traces and logs (``http://host:4318``
            for ``http/protobuf``, ``http://host:4317`` for ``grpc``).
        traces_endpoint, logs_endpoint: per-signal endpoint URLs, used as given.
        protocol: ``"http/protobuf"`` (default) or ``"grpc"``.
        headers: extra request headers, a mapping or ``"k=v,k2=v2"``.
        compression: ``"gzip"`` or ``"none"``.
        timeout: seconds one export may take (the variables are in ms).
        sampler, sampler_arg: an ``OTEL_TRACES_SAMPLER`` name and its ratio.
        console: print events to the terminal: ``True``/``False``, or a text
            stream (default: on when nothing is exported, to stderr).
        json_path: also write events as JSON lines to this file.
        add_to_existing: add opslog's export to providers the application
            installed itself (default: leave them alone).
        max_queue_size, max_export_batch_size, schedule_delay: batching, for
            both signals (else ``OTEL_BSP_*`` for spans and ``OTEL_BLRP_*`` for
            log records, delays in milliseconds; defaults 8192, 2048, 1 s).
            A batch size larger than the queue is capped at the queue size.
        max_export_bytes: the largest export request, in encoded bytes (no
            variable; default 4,000,000, under the Collector's 4 MiB gRPC
            limit; at least 65,536): a batch whose request would be larger
            is sent in parts; a span larger alone goes without its largest
            events, an item whose values are the bulk with its longest
            values cut (see :mod:`opslog.export.fitting`); an item still
            larger alone is not sent (counted failed, reported as
            ``export_loss``).
        traces_exporter, logs_exporter: ``"otlp"``, ``"console"`` or
            ``"none"`` (else ``OTEL_TRACES_EXPORTER`` / ``OTEL_LOGS_EXPORTER``;
            default: OTLP when an endpoint is set). ``"none"`` for logs is
            the setting for a backend that takes traces only.
        insecure, certificate_file, client_key_file, client_certificate_file:
            TLS (else ``OTEL_EXPORTER_OTLP_[TRACES_|LOGS_]INSECURE``,
            ``..._CERTIFICATE``, ``..._CLIENT_KEY``, ``..._CLIENT_CERTIFICATE``).

    ``OTEL_SDK_DISABLED=true`` turns the export off: no provider is installed.

    Process end:

    Args:
        flush_on_signals: install ``SIGTERM``/``SIGINT`` handlers that end open
            operations and flush within ``exit_timeout``, then hand the signal
            to the handler that was there before (the default one ends the
            process as usual). For servers that end by signal without running
            exit handlers (uvicorn without ASGI lifespan, gunicorn workers).
            Only from the main thread.
        **event_options: the options of the event path: ``level``,
            ``span_events``, ``log_records``, ``stdlib_logging``,
            ``redact_keys``, ``allow_keys``, ``redact_patterns``,
            ``error_classifier``, ``max_value_length``, ``max_fields``,
            ``exit_timeout``, ``tracer_provider``, ``logger_provider``.

    Returns:
        The event settings in force.

    Raises:
        ValueError: a value that cannot work (a malformed endpoint, an
            unknown protocol, sampler or compression, a bad header, an
            unwritable JSON path...): the message names the keyword or
            variable and says what to write instead. Nothing is changed.
        TypeError: an unknown keyword.
    """
    given = {
        name: value
        for name, value in (
            ("service_name", service_name),
            ("resource_attributes", resource_attributes),
            ("endpoint", endpoint),
            ("traces_endpoint", traces_endpoint),
            ("logs_endpoint", logs_endpoint),
            ("protocol", protocol),
            ("headers", headers),
            ("compression", compression),
            ("timeout", timeout),
            ("sampler", sampler),
            ("sampler_arg", sampler_arg),
            ("console", console),
            ("json_path", json_path),
            ("add_to_existing", add_to_existing),
            ("max_queue_size", max_queue_size),
            ("max_export_batch_size", max_export_batch_size),
            ("max_export_bytes", max_export_bytes),
            ("schedule_delay", schedule_delay),
            ("traces_exporter", traces_exporter),
            ("logs_exporter", logs_exporter),
            ("insecure", insecure),
            ("certificate_file", certificate_file),
            ("client_key_file", client_key_file),
            ("client_certificate_file", client_certificate_file),
        )
        if value is not None
    }
    unknown = set(event_options) - set(_config.configure.__kwdefaults__ or ())
    if unknown:
        raise TypeError(f"configure() got unknown option(s): {', '.join(sorted(unknown))}")
    if "console" not in given and (
        event_options.get("tracer_provider") is not None
        or event_options.get("logger_provider") is not None
    ):
        # The application brings its own providers: it decides where output
        # goes; per-event console lines would be noise (and cost).
        given["console"] = False
    export_config = None
    if given or PIPELINE.config is None:
        export_config = resolve_export_config(given)  # validate before changing anything
    settings = _config.configure(**event_options) if event_options else _config.get_settings()
    if flush_on_signals:
        _install_signal_flush()
    if export_config is not None:
        report_notes(PIPELINE.apply(export_config, settings.exit_timeout))
        _sync_logger_level(settings)
        lifecycle.set_exit_hook(shutdown)
    return settings


_FLUSH_SIGNALS = ("SIGTERM", "SIGINT")
_previous_handlers: dict[int, Any] = {}


def _install_signal_flush() -> None:
    """``SIGTERM``/``SIGINT``: flush, then what was there before (see ``configure``)."""
    import os
    import signal
    import threading

    from .. import _diagnostics

    if threading.current_thread() is not threading.main_thread():
        _diagnostics.report(
            _diagnostics.CONFIGURATION,
            "flush_on_signals needs configure() from the main thread; no handler installed",
        )
        return

    def flush_then_chain(signum: int, frame: Any) -> None:
        shutdown()
        previous = _previous_handlers.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # the default action: end as the signal says
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for name in _FLUSH_SIGNALS:
        number = getattr(signal, name, None)
        if number is None:
            continue
        current = signal.getsignal(number)
        if getattr(current, "__name__", "") == "flush_then_chain":
            continue  # installed already (configure is idempotent)
        _previous_handlers[number] = current
        signal.signal(number, flush_then_chain)


def _sync_logger_level(settings: Settings) -> None:
    """Let the event level through the ``opslog`` logger when opslog prints."""
    import logging

    from ..channels.stdlib import LOGGER_NAME

    logger = logging.getLogger(LOGGER_NAME)
    if PIPELINE.handlers and (logger.level == logging.NOTSET or logger.level > settings.level):
        logger.setLevel(int(settings.level))


def shutdown(timeout: Optional[float] = None) -> bool:
    """End open operations, flush and stop the export, all within ``timeout`` seconds.

    Open operations end ``abandoned``. Returns ``False`` if something was
    still pending at the deadline (it is then counted as dropped). Safe to
    call more than once; also run at process exit with ``exit_timeout``.
    ``timeout`` is 0 to 3600 seconds; anything else (``inf``, ``nan``, a
    20-digit integer) is a ``ValueError`` before anything is touched.
    """
    budget = (
        _config.get_settings().exit_timeout
        if timeout is None
        else seconds(timeout, "shutdown(timeout)", allow_zero=True, high=_config.MAX_EXIT_TIMEOUT)
    )
    deadline = time.monotonic() + budget
    lifecycle.end_open_operations("abandoned", deadline)
    remaining = max(0.0, deadline - time.monotonic())
    if PIPELINE.span_switch.inner is None and PIPELINE.log_switch.inner is None:
        force_flush(remaining)  # providers opslog did not set up
        PIPELINE.shutdown(0.0)
        return True
    return PIPELINE.shutdown(remaining)


def export_stats() -> dict[str, dict[str, int]]:
    """Counters of the OTLP export set up by :func:`configure`.

    ``{"spans": {...}, "log_records": {...}}``, each with ``exported``,
    ``dropped`` (pushed out of a full queue, or still queued at a shutdown
    deadline), ``failed`` (in exports the collector did not accept) and
    ``pending``. Empty when opslog exports nothing.
    """
    return PIPELINE.stats()
