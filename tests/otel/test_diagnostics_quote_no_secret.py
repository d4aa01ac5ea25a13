"""Diagnostics, configuration errors and client spans never quote a secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import opslog
from opslog.testing import Capture

from ..helpers import diagnostic_messages, logged_messages

SECRET = "q9Zx7Lm2Np4Rt6Vb8Wc"


@pytest.fixture
def diagnostic_lines() -> Iterator[list[str]]:
    with diagnostic_messages() as lines:
        yield lines


@pytest.mark.parametrize(
    "header",
    [
        f"00-password={SECRET}-x",
        f"Bearer {SECRET}",
        f"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 token={SECRET}",
        f"https://u:{SECRET}@h",
        "00-" + "eyJhbGciOiJIUzI1NiJ9.eyJ" + SECRET + "." + SECRET + "-01",
    ],
)
def test_a_rejected_traceparent_is_redacted_then_cut(
    diagnostic_lines: list[str], header: str
) -> None:
    opslog.extract({"traceparent": header + "x" * 500})
    (line,) = [line for line in diagnostic_lines if "traceparent rejected" in line]
    assert SECRET not in line and SECRET[:8] not in line
    assert len(line) < 400


def test_a_remembered_secret_is_not_quoted_in_a_rejected_header(
    captured: Capture, diagnostic_lines: list[str]
) -> None:
    op = opslog.new_operation_logger("job").start_operation("op")
    op.log_step("s", "login", {"session": SECRET})
    opslog.extract({"traceparent": f"garbage {SECRET}"})
    op.end_operation()
    assert not any(SECRET in line for line in diagnostic_lines)


@pytest.mark.parametrize(
    "options",
    [
        {"endpoint": f"http://admin:{SECRET}@collector:99999/v1?token={SECRET}"},
        {"endpoint": f"ftp://admin:{SECRET}@collector:4318/?sig={SECRET}#{SECRET}"},
        {"endpoint": f"collector:{SECRET}@4318/x?api_key={SECRET}"},
        {"endpoint": "http://collector:4318", "headers": f"authorization Bearer {SECRET}"},
        {"endpoint": "http://collector:4318", "headers": {"x-api-key": 5}},
        {"endpoint": "http://collector:4318", "timeout": f"{SECRET}"},
    ],
)
def test_configure_errors_never_echo_credentials_queries_or_header_values(
    options: dict[str, object],
) -> None:
    with pytest.raises(ValueError) as raised:
        opslog.configure(**options)  # type: ignore[arg-type]
    assert SECRET not in str(raised.value)
    assert SECRET[:8] not in str(raised.value)


def test_configure_errors_from_variables_never_echo_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"https://u:{SECRET}@c:0/?k={SECRET}")
    with pytest.raises(ValueError) as raised:
        opslog.configure(service_name="x")
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in str(raised.value)
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        f"https://api.local/v1/reset/token={SECRET}/confirm",
        f"https://api.local/cart;jsessionid={SECRET}?item=1",
        f"https://u:{SECRET}@api.local/x?sig={SECRET}",
        f"https://api.local/hook/eyJhbGciOiJIUzI1NiJ9.eyJ{SECRET}.{SECRET}",
    ],
)
def test_client_spans_redact_the_url_path_too(captured: Capture, url: str) -> None:
    with (
        opslog.new_operation_logger("job").start_operation("op"),
        opslog.http_client_span("GET", url) as call,
    ):
        call.set_status(200)
    (span,) = [s for s in captured.spans if s.name == "GET"]
    assert span.attributes is not None
    full = str(span.attributes["url.full"])
    assert full.startswith("https://api.local/")
    assert SECRET not in full and SECRET[:8] not in full


@pytest.mark.parametrize(
    "baggage",
    [
        f"job_id=j1,password=a {SECRET} b",
        f"token={SECRET}\u00e9",
        "k=" + "v" * 9000 + f",token={SECRET}",
        f"{SECRET}",
    ],
)
def test_opentelemetrys_baggage_warnings_never_quote_a_secret(baggage: str) -> None:
    with logged_messages("opentelemetry.baggage.propagation") as lines:
        opslog.extract(
            {
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "baggage": baggage,
            }
        )
    assert lines, "OpenTelemetry warned about the header"
    assert not any(SECRET in line or SECRET[:8] in line for line in lines), lines
