"""The standard OTEL_* variables opslog honours (keywords win), and a traces-only backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opslog.export.config import resolve_export_config

from ..conftest import CANARY
from ..helpers import run_script
from ..otlp_receiver import OtlpReceiver


def resolve(environ: dict[str, str], **kwargs: Any) -> Any:
    return resolve_export_config(kwargs, environ)


ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}


@pytest.mark.parametrize(
    ("environ", "kwargs", "traces", "logs"),
    [
        (ENDPOINT, {}, "otlp", "otlp"),
        ({**ENDPOINT, "OTEL_LOGS_EXPORTER": "none"}, {}, "otlp", None),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, {}, None, "otlp"),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "console"}, {}, "console", "otlp"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, {}, "otlp", None),  # the default endpoint
        ({"OTEL_LOGS_EXPORTER": "console"}, {}, None, "console"),
        ({**ENDPOINT, "OTEL_LOGS_EXPORTER": "none"}, {"logs_exporter": "otlp"}, "otlp", "otlp"),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "true"}, {}, None, None),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "false"}, {}, "otlp", "otlp"),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none,otlp"}, {}, "otlp", "otlp"),
    ],
)
def test_exporter_choice(
    environ: dict[str, str], kwargs: dict[str, Any], traces: Any, logs: Any
) -> None:
    config = resolve(environ, **kwargs)
    assert (config.traces.exporter if config.traces else None) == traces
    assert (config.logs.exporter if config.logs else None) == logs


def test_otlp_by_name_without_an_endpoint_uses_the_specifications_default() -> None:
    config = resolve({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert config.traces.endpoint == "http://localhost:4317"
    assert resolve({"OTEL_TRACES_EXPORTER": "otlp"}).traces.endpoint == (
        "http://localhost:4318/v1/traces"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER: unknown exporter 'zipkin'"),
        ({"OTEL_LOGS_EXPORTER": "otlp,console"}, "OTEL_LOGS_EXPORTER: opslog exports each"),
        (
            {**ENDPOINT, "OTEL_BSP_MAX_QUEUE_SIZE": "lots"},
            "OTEL_BSP_MAX_QUEUE_SIZE: must be a whole",
        ),
        ({**ENDPOINT, "OTEL_BLRP_SCHEDULE_DELAY": "-5"}, "OTEL_BLRP_SCHEDULE_DELAY: must be more"),
        ({**ENDPOINT, "OTEL_EXPORTER_OTLP_INSECURE": "maybe"}, "INSECURE: write true or false"),
        (
            {**ENDPOINT, "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"},
            "OTEL_EXPORTER_OTLP_CERTIFICATE: no readable file",
        ),
    ],
)
def test_bad_variables_fail_fast_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve(environ)


def test_batch_variables_per_signal_and_keywords_win() -> None:
    environ = {
        **ENDPOINT,
        "OTEL_BSP_MAX_QUEUE_SIZE": "8192",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048",
        "OTEL_BSP_SCHEDULE_DELAY": "250",
        "OTEL_BLRP_MAX_QUEUE_SIZE": "100",
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "500",  # larger than its queue: capped
        "OTEL_BSP_EXPORT_TIMEOUT": "3000",
    }
    config = resolve(environ)
    assert (config.traces.batch.max_queue_size, config.traces.batch.max_batch_size) == (8192, 2048)
    assert config.traces.batch.schedule_delay == 0.25
    assert config.traces.timeout == 3.0  # OTEL_BSP_EXPORT_TIMEOUT, in ms
    assert (config.logs.batch.max_queue_size, config.logs.batch.max_batch_size) == (100, 100)
    kw = resolve(environ, max_queue_size=50, schedule_delay=2.0, timeout=7.0)
    assert kw.traces.batch.max_queue_size == kw.logs.batch.max_queue_size == 50
    assert kw.traces.batch.schedule_delay == 2.0 and kw.traces.timeout == 7.0
    # the request size limit: a keyword only (no standard variable), both signals
    assert config.traces.batch.max_export_bytes == config.logs.batch.max_export_bytes == 4_000_000
    small = resolve(environ, max_export_bytes=1_000_000)
    assert small.traces.batch.max_export_bytes == small.logs.batch.max_export_bytes == 1_000_000
    for bad in (0, -1, 65_535, 2.5, "1MB", True):
        with pytest.raises(ValueError, match="max_export_bytes: must be a whole number from 65536"):
            resolve(environ, max_export_bytes=bad)
    assert resolve(environ, max_export_bytes=65_536).traces.batch.max_export_bytes == 65_536
    with pytest.raises(ValueError) as refused:
        resolve(environ, max_queue_size=f"Bearer {CANARY}")
    assert "max_queue_size" in str(refused.value) and CANARY not in str(refused.value)


def test_tls_variables_per_signal(tmp_path: Path) -> None:
    ca, key, cert = (tmp_path / n for n in ("ca.pem", "key.pem", "cert.pem"))
    for path in (ca, key, cert):
        path.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(ca),
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY": str(key),
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE": str(cert),
        "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "true",
    }
    config = resolve(environ)
    assert config.traces.certificate == config.logs.certificate == str(ca)
    assert (config.logs.client_key, config.logs.client_certificate) == (str(key), str(cert))
    assert config.traces.client_key is None
    assert config.traces.insecure is True and config.logs.insecure is None


TRACES_ONLY_JOB = """
import json, logging, opslog
logging.basicConfig()  # the application shows warnings: opslog's diagnostics among them
opslog.configure(endpoint={endpoint!r}, protocol={protocol!r}, console=False, schedule_delay=0.05)
for n in range(5):
    with opslog.new_operation_logger("job").operation(f"op-{{n}}") as op:
        op.log_step("s", "m")
    opslog.shutdown(timeout=5) if n == 4 else None
print(json.dumps({{"stats": opslog.export_stats(), "diagnostics": opslog.diagnostics()}}))
"""


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_traces_only_backend_with_logs_off_is_quiet(protocol: str) -> None:
    receiver = OtlpReceiver(logs=False).start_http().start_grpc()
    try:
        result = run_script(
            TRACES_ONLY_JOB.format(endpoint=receiver.endpoint(protocol), protocol=protocol),
            env={"OTEL_LOGS_EXPORTER": "none"},
        )
        assert receiver.wait_until(lambda: len(receiver.spans()) == 5)
    finally:
        receiver.stop()
    assert result.returncode == 0, result.stderr
    assert "Failed to export" not in result.stderr and "export_loss" not in result.stderr
    assert receiver.log_attempts == 0
    import json

    document = json.loads(result.stdout.strip().splitlines()[-1])
    assert "log_records" not in document["stats"]
    assert document["stats"]["spans"]["exported"] == 5
    assert "export_loss" not in document["diagnostics"]


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_an_endpoint_without_logs_is_said_once_with_the_fix_and_logs_stop(protocol: str) -> None:
    receiver = OtlpReceiver(logs=False).start_http().start_grpc()
    try:
        result = run_script(
            TRACES_ONLY_JOB.format(endpoint=receiver.endpoint(protocol), protocol=protocol)
        )
        assert receiver.wait_until(lambda: len(receiver.spans()) == 5)
    finally:
        receiver.stop()
    assert result.returncode == 0, result.stderr
    import json

    document = json.loads(result.stdout.strip().splitlines()[-1])
    assert document["diagnostics"]["export_unsupported"] == 1
    assert "export_loss" not in document["diagnostics"]
    assert result.stderr.count("export_unsupported") == 1
    assert "OTEL_LOGS_EXPORTER=none" in result.stderr
    logs = document["stats"]["log_records"]
    assert logs["exported"] == 0 and logs["pending"] == 0
    assert logs["failed"] + logs["dropped"] == 15  # every record counted, nothing vanished
    assert document["stats"]["spans"]["exported"] == 5
    if protocol == "http/protobuf":
        assert receiver.log_attempts <= 2  # the first batch and the probe; then no more


def test_application_providers_mean_no_console_unless_asked() -> None:
    result = run_script(
        """
        import io, sys, opslog
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk._logs import LoggerProvider
        opslog.configure(tracer_provider=TracerProvider(), logger_provider=LoggerProvider())
        opslog.new_operation_logger("j").start_operation("op").end_operation()
        print("done")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "operation op started" not in result.stderr
