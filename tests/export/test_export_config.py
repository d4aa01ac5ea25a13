"""configure()'s export options: OTEL_* resolution and fail-fast validation."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opslog
from opslog._config import get_settings
from opslog.export.pipeline import PIPELINE, resolve_export_config

from ..helpers import run_python, run_script


def resolve(environ: dict[str, str], **kwargs: object):  # type: ignore[no-untyped-def]
    return resolve_export_config(kwargs, environ)


def test_no_endpoint_is_the_embedded_default() -> None:
    config = resolve({})
    assert config.traces is None and config.logs is None
    assert config.console is True
    assert config.json_path is None


def test_general_endpoint_gets_signal_paths_for_http() -> None:
    config = resolve({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert config.traces is not None and config.logs is not None
    assert config.traces.endpoint == "http://collector:4318/v1/traces"
    assert config.logs.endpoint == "http://collector:4318/v1/logs"
    assert config.traces.protocol == "http/protobuf"
    assert config.console is False  # exporting: no terminal output unless asked


def test_signal_endpoints_are_used_as_given_and_win_over_the_general_one() -> None:
    config = resolve(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example:443/custom",
        }
    )
    assert config.traces.endpoint == "https://traces.example:443/custom"  # type: ignore[union-attr]
    assert config.logs.endpoint == "http://collector:4318/v1/logs"  # type: ignore[union-attr]


def test_keywords_override_the_environment() -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://from-env:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=abc%3D%3D,x-tenant=ops",
    }
    from_env = resolve(environ)
    assert from_env.traces.timeout == 2.5  # type: ignore[union-attr]  # ms in the variable
    assert from_env.traces.compression == "gzip"  # type: ignore[union-attr]
    assert dict(from_env.traces.headers) == {"api-key": "abc==", "x-tenant": "ops"}  # type: ignore[union-attr]
    config = resolve(environ, endpoint="http://from-kwarg:4317", protocol="grpc", timeout=7)
    assert config.traces.endpoint == "http://from-kwarg:4317"  # type: ignore[union-attr]
    assert config.traces.protocol == "grpc"  # type: ignore[union-attr]
    assert config.traces.timeout == 7  # type: ignore[union-attr]  # seconds in the keyword


def test_per_signal_protocol() -> None:
    config = resolve(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://c:4318/v1/logs",
        }
    )
    assert config.traces.protocol == "grpc"  # type: ignore[union-attr]
    assert config.logs.protocol == "http/protobuf"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "environ,kwargs,message",
    [
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
            {},
            r"OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' needs an http:// .* 'http://collector:4318'",
        ),
        ({}, {"endpoint": "ftp://collector:21"}, "needs an http:// .*or https://"),
        ({}, {"endpoint": "http://collector:99999"}, "is not a valid URL .*port"),
        ({}, {"endpoint": "http://:4318"}, "has no host"),
        ({}, {"endpoint": ""}, "must be a URL"),
        (
            {
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1",
            },
            {},
            "OTEL_EXPORTER_OTLP_PROTOCOL: unknown OTLP protocol 'http/json'",
        ),
        ({}, {"endpoint": "http://c:1", "protocol": "udp"}, "use 'grpc' or 'http/protobuf'"),
        ({}, {"endpoint": "http://c:1", "compression": "brotli"}, "use 'gzip' or 'none'"),
        (
            {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1"},
            {},
            "OTEL_EXPORTER_OTLP_TIMEOUT: a number of milliseconds is needed",
        ),
        ({}, {"endpoint": "http://c:1", "timeout": -1}, "timeout: must be more than 0"),
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, {}, "OTEL_TRACES_SAMPLER: not a known sampler"),
        ({"OTEL_TRACES_SAMPLER_ARG": "2"}, {}, "ratio must be from 0 to 1"),
        ({}, {"console": "yes"}, "console must be"),
        ({}, {"max_queue_size": 0}, "max_queue_size: must be a whole number"),
    ],
)
def test_bad_values_fail_fast_saying_what_to_fix(
    environ: dict[str, str], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resolve(environ, **kwargs)


def test_header_errors_and_endpoint_credentials_never_echo_secrets() -> None:
    with pytest.raises(ValueError) as raised:
        resolve(
            {
                "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer s3cr3t,brokenentry-s3cr3t",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1",
            }
        )
    assert "s3cr3t" not in str(raised.value)
    assert "entry 2 is not key=value" in str(raised.value)
    with pytest.raises(ValueError) as raised:
        resolve({}, endpoint="ftp://admin:s3cr3t@c:21")
    assert "s3cr3t" not in str(raised.value)
    config = resolve({}, endpoint="http://c:1", headers={"authorization": "Bearer s3cr3t"})
    assert "s3cr3t" not in repr(config)


def test_configure_failure_changes_nothing() -> None:
    opslog.configure(console=False)
    before = PIPELINE.config
    settings = get_settings()
    with pytest.raises(ValueError):
        opslog.configure(endpoint="collector:4318", level="debug")
    assert PIPELINE.config is before
    assert get_settings() is settings
    with pytest.raises(TypeError, match="unknown option"):
        opslog.configure(colour=True)  # type: ignore[call-arg]


def test_unwritable_json_path_fails_fast(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="json_path: cannot open"):
        opslog.configure(json_path=str(tmp_path / "missing-dir" / "events.jsonl"))


def test_embedded_default_touches_no_network_and_makes_no_provider() -> None:
    out = run_python(
        """
        import json, sys, io
        import opslog
        from opentelemetry import trace
        stream = io.StringIO()
        opslog.configure(console=stream)
        opslog.new_operation_logger("j").start_operation("op").end_operation()
        print(json.dumps({
            "provider": type(trace.get_tracer_provider()).__name__,
            "exporters": sorted(m for m in sys.modules if "exporter.otlp" in m),
            "grpc": "grpc" in sys.modules,
            "printed": stream.getvalue().count("\\n"),
        }))
        """
    )
    assert out == {"provider": "ProxyTracerProvider", "exporters": [], "grpc": False, "printed": 2}


def test_grpc_is_imported_only_for_the_grpc_protocol() -> None:
    code = """
        import json, sys
        import opslog
        opslog.configure(endpoint="http://127.0.0.1:9", protocol="{protocol}", console=False)
        print(json.dumps({{"grpc": "grpc" in sys.modules}}))
        opslog.shutdown(timeout=0.1)
        """
    assert run_python(code.format(protocol="http/protobuf")) == {"grpc": False}
    assert run_python(code.format(protocol="grpc")) == {"grpc": True}


def test_service_name_and_resource_from_the_environment() -> None:
    from ..otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver().start_http()
    try:
        code = """
            import opslog
            opslog.configure(console=False, schedule_delay=0.05)
            opslog.new_operation_logger("j").start_operation("op").end_operation()
            """
        result = run_script(
            code,
            {
                "OTEL_SERVICE_NAME": "volume-daemon",
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging,service.name=ignored",
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint("http/protobuf"),
            },
        )
        assert result.returncode == 0, result.stderr
        assert receiver.wait_until(lambda: len(receiver.spans()) == 1)
        resource, span = receiver.spans()[0]
        assert resource["service.name"] == "volume-daemon"  # OTEL_SERVICE_NAME wins
        assert resource["deployment.environment"] == "staging"
        assert span.name == "op"
    finally:
        receiver.stop()


def test_application_providers_are_left_alone_unless_asked() -> None:
    from ..otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver().start_http()
    try:
        code = """
            import json, logging
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
            app_spans = InMemorySpanExporter()
            app = TracerProvider()
            app.add_span_processor(SimpleSpanProcessor(app_spans))
            trace.set_tracer_provider(app)
            import opslog
            notes = []
            class Keep(logging.Handler):
                def emit(self, record): notes.append(record.getMessage())
            logging.getLogger("opslog.diagnostics").addHandler(Keep())
            opslog.configure(endpoint="{endpoint}", console=False, schedule_delay=0.05,
                             add_to_existing={add})
            opslog.new_operation_logger("j").start_operation("op").end_operation()
            opslog.shutdown(timeout=5)
            print(json.dumps({{"same": trace.get_tracer_provider() is app,
                               "app_spans": [s.name for s in app_spans.get_finished_spans()],
                               "notes": notes}}))
            """
        left_alone = run_python(code.format(endpoint=receiver.endpoint("http/protobuf"), add=False))
        assert left_alone["same"] is True
        assert left_alone["app_spans"] == ["op"]  # opslog emitted through the app's provider
        assert any("added no exporter" in n for n in left_alone["notes"])
        assert receiver.spans() == []
        added = run_python(code.format(endpoint=receiver.endpoint("http/protobuf"), add=True))
        assert added["same"] is True and added["app_spans"] == ["op"]
        assert receiver.wait_until(lambda: len(receiver.spans()) == 1)
    finally:
        receiver.stop()


def test_shutdown_without_configure_is_safe() -> None:
    assert opslog.shutdown(timeout=0.5) is True
    assert opslog.export_stats() == {}


def test_json_lines_path_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    out = run_python(
        f"""
        import json, os
        os.environ["OPSLOG_JSON_PATH"] = {str(path)!r}
        import opslog
        opslog.configure(console=False)
        opslog.new_operation_logger("j").start_operation("op").end_operation()
        print(json.dumps({{"ok": True}}))
        """
    )
    assert out == {"ok": True}
    events = [json.loads(line)["event"] for line in path.read_text().splitlines()]
    assert events == ["operation_start", "operation_end"]


def test_sampler_from_the_environment_applies_to_spans_not_to_log_records() -> None:
    from ..otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver().start_http()
    try:
        code = """
            import opslog
            opslog.configure(console=False, schedule_delay=0.05)
            logger = opslog.new_operation_logger("j")
            logger.start_operation("sampled-out").end_operation()
            opslog.shutdown(timeout=5)
            print(logger.correlation_id)
            """
        result = run_script(
            code,
            {
                "OTEL_TRACES_SAMPLER": "always_off",
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint("http/protobuf"),
            },
        )
        assert result.returncode == 0, result.stderr
        cid = result.stdout.split()[-1]
        assert receiver.wait_until(lambda: len(receiver.log_records()) == 2)
        assert receiver.spans() == []  # sampled out
        # the log records still carry the (valid) trace id: logs are never sampled away
        assert {r.trace_id.hex() for _, r in receiver.log_records()} == {cid}
    finally:
        receiver.stop()


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=string.ascii_letters, min_size=1, max_size=10),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=20),
    st.sampled_from(["\r", "\n", "\r\n", "\x00", "\x7f", "\u0100", "\u2028", "\U0001f600"]),
    st.integers(min_value=0, max_value=20),
    st.booleans(),
)
def test_a_header_that_http_cannot_carry_fails_at_configure_without_echoing_it(
    name: str, secret: str, bad: str, at: int, in_name: bool
) -> None:
    """CR/LF (header injection), control characters and non-Latin-1 characters, in a
    header's name or value, as a keyword or in the variable: refused at configure(),
    naming the header by its place, never by its content."""
    at = 1 + at % (len(secret) - 1)  # inside: the variable's blanks at the ends are trimmed
    value = secret[:at] + bad + secret[at:]
    headers = {value: "x"} if in_name else {name: value}
    for kwargs, environ in (
        ({"endpoint": "http://c:4318", "headers": headers}, {}),
        (
            {"endpoint": "http://c:4318"},
            {"OTEL_EXPORTER_OTLP_HEADERS": ",".join(f"{k}={v}" for k, v in headers.items())},
        ),
    ):
        with pytest.raises(ValueError) as refused:
            resolve_export_config(kwargs, environ)
        assert secret not in str(refused.value)
        assert secret[:8] not in str(refused.value)
