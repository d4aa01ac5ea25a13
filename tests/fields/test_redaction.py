"""Secrets never reach any output: keys, text patterns, exceptions, stack traces."""

from __future__ import annotations

import logging

import pytest

import opslog
from opslog.fields.redaction import REDACTED, Redactor
from opslog.testing import Capture, capture_events

from ..conftest import CANARY, all_output


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "DB_PASSWORD",
        "db-Passwd",
        "client_secret",
        "api_key",
        "X-Api-Key",
        "apikey",
        "Authorization",
        "refresh_token",
        "aws_access_key",
        "credentials",
        "private_key",
        "Set-Cookie",
        "session_id",
        "passphrase",
    ],
)
def test_sensitive_keys(key: str) -> None:
    assert Redactor().is_sensitive_key(key)


@pytest.mark.parametrize("key", ["vm_id", "volume_uuid", "device_path", "job_id", "status"])
def test_ordinary_keys(key: str) -> None:
    assert not Redactor().is_sensitive_key(key)


@pytest.mark.parametrize(
    "text,kept",
    [
        (f"login with password={CANARY} failed", "login with password=[REDACTED] failed"),
        (f"password: {CANARY}", "password: [REDACTED]"),
        (f'{{"token": "{CANARY}"}}', '{"token": "[REDACTED]"}'),
        (f"Authorization: Bearer {CANARY}", "Authorization: Bearer [REDACTED]"),
        (f"authorization={CANARY}", "authorization=[REDACTED]"),
        (f"sent Bearer {CANARY} upstream", "sent Bearer [REDACTED] upstream"),
        (f"https://admin:{CANARY}@db.local/x", "https://[REDACTED]@db.local/x"),
        (f"api-key={CANARY}&x=1", "api-key=[REDACTED]"),
        (f"GET /v1?api-key={CANARY}&x=1", "GET /v1?api-key=[REDACTED]&x=1"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE" + CANARY + "\n-----END RSA PRIVATE KEY-----",
            REDACTED,
        ),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl end", f"jwt {REDACTED} end"),
        ("key AKIAIOSFODNN7EXAMPLE used", f"key {REDACTED} used"),
        ("nothing secret here: vm_id=42", "nothing secret here: vm_id=42"),
    ],
)
def test_secrets_inside_text(text: str, kept: str) -> None:
    assert Redactor().redact_text(text) == kept


def test_known_secret_values_are_scrubbed_everywhere_later() -> None:
    redactor = Redactor()
    redactor.remember(CANARY)
    assert redactor.redact_text(f"connect failed: {CANARY} rejected") == (
        f"connect failed: {REDACTED} rejected"
    )


def test_configurable_keys_allow_list_and_patterns(captured: Capture) -> None:
    opslog.configure(
        redact_keys=["ssn"],
        allow_keys=["token_count"],
        redact_patterns=[r"sk-[A-Za-z0-9]{10,}"],
    )
    op = opslog.new_operation_logger("j").start_operation("op")
    op.log_step(
        "s",
        "key sk-abcdefghijklmnop in text",
        {"customer_ssn": "123-45-6789", "token_count": 42, "password": "still-hidden"},
    )
    op.end_operation()
    event = captured.events_named("step_info")[0]
    assert event["customer_ssn"] == REDACTED
    assert event["token_count"] == 42
    assert event["password"] == REDACTED  # defaults stay when keys are added
    assert event.message == f"key {REDACTED} in text"


def test_bad_pattern_fails_at_configure_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match=r"redact_patterns.*not a valid regular expression"):
        opslog.configure(redact_patterns=["(unclosed"])


def raise_with_secret() -> None:
    password = CANARY  # noqa: F841 - a local that a traceback formatter could show
    raise ConnectionError(f"auth failed for admin password={CANARY}")


def test_canary_reaches_no_channel(captured: Capture) -> None:
    logger = opslog.new_operation_logger("job")
    op = logger.start_operation("op")
    op.log_step("s", f"connecting with password={CANARY}", {"password": CANARY})
    op.log_step("s", "nested", {"db": {"credentials": {"user": "u", "pw": CANARY}}})
    op.log_step("s", "list", {"hosts": [{"token": CANARY}, "x"]})
    op.log_step("s", f"Authorization: Bearer {CANARY}")
    step = op.start_step("login")
    try:
        raise_with_secret()
    except ConnectionError as exc:
        step.error(f"login failed: {exc}", exc, {"api_key": CANARY})
    step.warn("url", {"endpoint": f"https://admin:{CANARY}@cloud.local/api"})
    step.end_step("failed", {"session": CANARY})
    try:
        with op.step("wrapped"):
            try:
                raise_with_secret()
            except ConnectionError as inner:
                raise RuntimeError("wrapper") from inner
    except RuntimeError:
        pass
    op.end_operation("failed", {"secret": CANARY})

    text = all_output(captured)
    assert CANARY not in text
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    formatted = "\n".join(formatter.format(r) for r in captured.logging_records)
    assert CANARY not in formatted
    assert "Traceback" in formatted  # the (redacted) stack trace is printed
    assert REDACTED in text
    # stack traces are there, but scrubbed
    assert "Traceback" in text
    assert "raise_with_secret" in text


def test_error_classification_text_is_redacted(captured: Capture) -> None:
    op = opslog.new_operation_logger("j").start_operation("op")
    err = ValueError(f"token={CANARY}")
    op.log_error("s", "m", err)
    op.log_error("s", "m", f"string error with password={CANARY}")
    op.end_operation("failed")
    for event in captured.events_named("step_error"):
        assert CANARY not in str(event.fields)
    assert CANARY not in all_output(captured)


def test_diagnostics_never_echo_secrets() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logging.getLogger("opslog.diagnostics").addHandler(handler)
    try:
        with capture_events():
            opslog.new_operation_logger_with_correlation("j", f"password={CANARY}")
            with opslog.correlation_scope(f"token: {CANARY}"):
                pass
    finally:
        logging.getLogger("opslog.diagnostics").removeHandler(handler)
    assert records
    assert all(CANARY not in r.getMessage() for r in records)
