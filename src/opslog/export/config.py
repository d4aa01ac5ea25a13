"""Export options: resolving ``configure``'s keywords against the ``OTEL_*`` variables.

Pure functions from (keywords, environment) to an :class:`ExportConfig`;
every bad value raises ``ValueError`` naming the keyword or variable and
what to write instead. The resolution order and the variables are
described in :mod:`opslog.export.pipeline`.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Optional

from .._config import get_settings
from .._numbers import seconds, whole_number
from ..fields.urls import shown_url
from .processor import BatchSettings

__all__ = ["ExportConfig", "SignalConfig", "resolve_export_config"]

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


EXPORTERS = ("otlp", "console", "none")
#: The batch processor variables of each signal (``OTEL_BSP_*``, ``OTEL_BLRP_*``).
_BATCH_ENV = {"traces": "OTEL_BSP_", "logs": "OTEL_BLRP_"}
_EXPORTER_ENV = {"traces": "OTEL_TRACES_EXPORTER", "logs": "OTEL_LOGS_EXPORTER"}
_DEFAULT_ENDPOINTS = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}


@dataclass(frozen=True)
class SignalConfig:
    """Where and how one signal (traces or logs) is exported."""

    endpoint: str
    protocol: str
    headers: tuple[tuple[str, str], ...]
    compression: str
    timeout: float
    #: ``"otlp"``, or ``"console"`` (the SDK's console exporter; no endpoint).
    exporter: str = "otlp"
    batch: BatchSettings = field(default_factory=BatchSettings)
    #: TLS: gRPC without transport security; CA bundle; client key and certificate.
    insecure: Optional[bool] = None
    certificate: Optional[str] = None
    client_key: Optional[str] = None
    client_certificate: Optional[str] = None


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


def _shown(url: str) -> str:
    """The URL as an error message may quote it: no user information, query
    or fragment, the rest redacted."""
    return get_settings().coercer.text(shown_url(url).text)


def _check_endpoint(url: object, where: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{where}: the endpoint must be a URL such as http://localhost:4318")
    url = url.strip()
    shown = _shown(url)
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(
            f"{where}: {shown!r} is not a valid URL (check the port number); "
            "write it like http://collector:4318"
        ) from None
    if parts.scheme not in ("http", "https"):
        hint = f"http://{shown}" if "://" not in url else "http://collector:4318"
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
    for number, (key, header_value) in enumerate(items, start=1):
        if not isinstance(key, str) or not isinstance(header_value, str) or not key:
            raise ValueError(f"{where}: header names and values must be non-empty strings")
        # What HTTP (RFC 9110) and gRPC metadata can carry; anything else makes
        # every export fail later, printing the header. Never echoed here.
        if _HEADER_NAME.fullmatch(key) is None:
            raise ValueError(
                f"{where}: header {number}'s name is not an HTTP token "
                "(letters, digits and !#$%&'*+-.^_`|~ only)"
            )
        if _HEADER_VALUE.fullmatch(header_value) is None:
            raise ValueError(
                f"{where}: header {number}'s value holds a line break, a control character "
                "or a character outside Latin-1; URL-encode it in the variable"
            )
    return tuple((k.lower(), v) for k, v in items)


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _parse_timeout(value: Any, where: str, from_env: bool) -> float:
    if value is None:
        return 10.0
    # The specification's unit for the variables is the millisecond.
    return seconds(value, where, unit=0.001 if from_env else 1.0, high=MAX_EXPORT_TIMEOUT)


def _signal_config(
    signal: str,
    kwargs: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Optional[SignalConfig]:
    exporter, xwhere = _exporter_choice(signal, kwargs, environ)
    if exporter == "none":
        return None
    endpoint, where = _pick(
        kwargs.get("endpoint"), kwargs.get(f"{signal}_endpoint"), signal, "ENDPOINT", environ
    )
    if exporter is None:  # not chosen: OTLP when an endpoint is configured
        if endpoint is None:
            return None
        exporter = "otlp"
    batch = _batch_settings(signal, kwargs, environ)
    if exporter == "console":
        return SignalConfig("", "console", (), "none", 10.0, exporter="console", batch=batch)
    protocol, pwhere = _pick(kwargs.get("protocol"), None, signal, "PROTOCOL", environ)
    protocol = (protocol or "http/protobuf").strip().lower()
    if protocol not in PROTOCOLS:
        extra = (
            " (http/json is not supported by the Python exporters)" if "json" in protocol else ""
        )
        raise ValueError(
            f"{pwhere}: unknown OTLP protocol {protocol!r}{extra}; use 'grpc' or 'http/protobuf'"
        )
    if endpoint is None:  # OTLP asked for by name, no endpoint: the specification's default
        endpoint, where = _DEFAULT_ENDPOINTS[protocol], f"{xwhere} (default endpoint)"
    endpoint = _check_endpoint(endpoint, where)
    general_endpoint = where in ("endpoint", f"{_ENV}ENDPOINT") or where.endswith("endpoint)")
    if protocol == "http/protobuf" and general_endpoint:
        endpoint = endpoint.rstrip("/") + "/" + _SIGNAL_PATHS[signal]
    headers_value, hwhere = _pick(kwargs.get("headers"), None, signal, "HEADERS", environ)
    compression, cwhere = _pick(kwargs.get("compression"), None, signal, "COMPRESSION", environ)
    compression = (compression or "none").strip().lower()
    if compression not in COMPRESSIONS:
        raise ValueError(f"{cwhere}: unknown compression {compression!r}; use 'gzip' or 'none'")
    timeout_value, twhere = _pick(kwargs.get("timeout"), None, signal, "TIMEOUT", environ)
    if timeout_value is None:  # the batch processor's export timeout, when it is set
        timeout_value, twhere = _batch_env(signal, "EXPORT_TIMEOUT", environ)
    timeout = _parse_timeout(timeout_value, twhere, from_env=twhere.startswith("OTEL_"))
    insecure_value, iwhere = _pick(kwargs.get("insecure"), None, signal, "INSECURE", environ)
    return SignalConfig(
        endpoint=endpoint,
        protocol=protocol,
        headers=_parse_headers(headers_value, hwhere),
        compression=compression,
        timeout=timeout,
        exporter="otlp",
        batch=batch,
        insecure=_parse_bool(insecure_value, iwhere),
        certificate=_tls_file(kwargs, "certificate_file", signal, "CERTIFICATE", environ),
        client_key=_tls_file(kwargs, "client_key_file", signal, "CLIENT_KEY", environ),
        client_certificate=_tls_file(
            kwargs, "client_certificate_file", signal, "CLIENT_CERTIFICATE", environ
        ),
    )


def _exporter_choice(
    signal: str, kwargs: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[Optional[str], str]:
    """``OTEL_TRACES_EXPORTER`` / ``OTEL_LOGS_EXPORTER`` (or the keyword): one of
    ``otlp``, ``console``, ``none``, or ``None`` when not chosen."""
    keyword = f"{signal}_exporter"
    value, where = kwargs.get(keyword), keyword
    if value is None:
        where = _EXPORTER_ENV[signal]
        value = _env(where, environ)
    if value is None:
        return None, where
    names = [n.strip().lower() for n in str(value).split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown or not names:
        raise ValueError(
            f"{where}: unknown exporter {','.join(unknown) or value!r}; use otlp, console or none"
        )
    if len(set(names) - {"none"}) > 1:
        raise ValueError(
            f"{where}: opslog exports each signal one way; choose one of {', '.join(names)}"
        )
    chosen = [n for n in names if n != "none"]
    return (chosen[0] if chosen else "none"), where


def _batch_env(signal: str, suffix: str, environ: Mapping[str, str]) -> tuple[Optional[str], str]:
    name = _BATCH_ENV[signal] + suffix
    return _env(name, environ), name


def _batch_settings(
    signal: str, kwargs: Mapping[str, Any], environ: Mapping[str, str]
) -> BatchSettings:
    """Keywords (both signals) win over ``OTEL_BSP_*`` / ``OTEL_BLRP_*``; delays in ms there."""
    defaults = BatchSettings()
    queue = _count(kwargs, "max_queue_size", signal, "MAX_QUEUE_SIZE", environ)
    batch = _count(kwargs, "max_export_batch_size", signal, "MAX_EXPORT_BATCH_SIZE", environ)
    delay: Optional[float] = None
    if kwargs.get("schedule_delay") is not None:
        delay = seconds(kwargs["schedule_delay"], "schedule_delay", high=MAX_EXPORT_TIMEOUT)
    else:
        value, where = _batch_env(signal, "SCHEDULE_DELAY", environ)
        if value is not None:
            delay = seconds(value, where, unit=0.001, high=MAX_EXPORT_TIMEOUT)
    max_queue = queue or defaults.max_queue_size
    return BatchSettings(
        max_queue_size=max_queue,
        # A batch never larger than the queue: capped (the SDK's processors
        # refuse to start instead; a keyword queue under a variable's batch
        # is a likely mix, not worth failing the application for).
        max_batch_size=min(batch or defaults.max_batch_size, max_queue),
        schedule_delay=defaults.schedule_delay if delay is None else delay,
        max_export_bytes=_positive_int(
            kwargs, "max_export_bytes", defaults.max_export_bytes, MIN_EXPORT_BYTES
        ),
    )


def _count(
    kwargs: Mapping[str, Any], keyword: str, signal: str, suffix: str, environ: Mapping[str, str]
) -> Optional[int]:
    if kwargs.get(keyword) is not None:
        return _positive_int(kwargs, keyword, 1)
    value, where = _batch_env(signal, suffix, environ)
    if value is None:
        return None
    return whole_number(value, where)


def _parse_bool(value: Any, where: str) -> Optional[bool]:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"{where}: write true or false")


def _tls_file(
    kwargs: Mapping[str, Any], keyword: str, signal: str, suffix: str, environ: Mapping[str, str]
) -> Optional[str]:
    value, where = _pick(kwargs.get(keyword), None, signal, suffix, environ)
    if value is None:
        return None
    path = str(os.fspath(value))
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ValueError(f"{where}: no readable file at {path!r}; give the path of a PEM file")
    return path


def sdk_disabled(environ: Optional[Mapping[str, str]] = None) -> bool:
    """``OTEL_SDK_DISABLED=true``: opslog installs no provider and exports nothing."""
    value = _env("OTEL_SDK_DISABLED", os.environ if environ is None else environ)
    return value is not None and value.lower() == "true"


def resolve_export_config(
    kwargs: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None
) -> ExportConfig:
    """Validate ``configure``'s export keywords against the environment.

    Raises:
        ValueError: with the variable or keyword to fix, and how.
    """
    environ = os.environ if environ is None else environ
    if kwargs.get("timeout") is not None:  # checked with no endpoint too
        _parse_timeout(kwargs["timeout"], "timeout", from_env=False)
    disabled = sdk_disabled(environ)
    traces = None if disabled else _signal_config("traces", kwargs, environ)
    logs = None if disabled else _signal_config("logs", kwargs, environ)
    sampler = kwargs.get("sampler")
    sampler_where = "sampler"
    if sampler is None:
        sampler, sampler_where = _env("OTEL_TRACES_SAMPLER", environ), "OTEL_TRACES_SAMPLER"
    if sampler is not None:
        sampler = str(sampler).strip().lower()
        if sampler not in SAMPLERS:
            raise ValueError(
                f"{sampler_where}: not a known sampler; use one of {', '.join(SAMPLERS)}"
            )
    arg = kwargs.get("sampler_arg")
    arg_where = "sampler_arg"
    if arg is None:
        arg, arg_where = _env("OTEL_TRACES_SAMPLER_ARG", environ), "OTEL_TRACES_SAMPLER_ARG"
    sampler_arg: Optional[float] = None
    if arg is not None:
        # Never repeated in the message: a variable may hold anything.
        try:
            sampler_arg = float(arg)
        except (TypeError, ValueError):
            raise ValueError(f"{arg_where}: not a number; write a ratio from 0 to 1") from None
        if not 0.0 <= sampler_arg <= 1.0:
            raise ValueError(f"{arg_where}: the ratio must be from 0 to 1")
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
    batch = _batch_settings("traces", kwargs, environ)
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


#: The longest export timeout or batch delay taken: an hour.
MAX_EXPORT_TIMEOUT = 3600.0
#: The smallest ``max_export_bytes`` taken: receivers' limits are in MiB,
#: and below this even small spans and log records would have to be cut to
#: fit a request alone (see :mod:`opslog.export.fitting`).
MIN_EXPORT_BYTES = 65_536


def _positive_int(kwargs: Mapping[str, Any], name: str, default: int, minimum: int = 1) -> int:
    value = kwargs.get(name)
    if value is None:
        return default
    return whole_number(value, name, low=minimum)


# -- building --------------------------------------------------------------------
