"""configure(): incremental, idempotent, fails fast on bad values."""

from __future__ import annotations

import pytest

import opslog
from opslog._config import get_settings


def test_configure_is_idempotent_and_incremental() -> None:
    first = opslog.configure(level="warn", redact_keys=["ssn"])
    second = opslog.configure(level="warn", redact_keys=["ssn"])
    assert first == second
    third = opslog.configure(span_events=False)
    assert third.level == opslog.Level.WARN  # untouched options keep their value
    assert third.redact_keys == ("ssn",)  # more fragments; the built-in table stays
    assert third.redactor.is_sensitive_key("ssn") and third.redactor.is_sensitive_key("password")
    assert third.span_events is False


@pytest.mark.parametrize(
    "options,message",
    [
        ({"level": "loud"}, "unknown level 'loud'"),
        ({"span_events": "yes"}, "span_events must be True or False"),
        ({"max_fields": 500}, "max_fields must be a whole number from 1 to 120"),
        ({"max_value_length": 10}, "max_value_length must be a whole number from 64"),
        ({"redact_keys": "password"}, "redact_keys must be a list of strings"),
        ({"allow_keys": [""]}, "allow_keys must contain non-empty strings"),
        ({"exit_timeout": 0}, "exit_timeout: must be more than 0"),
        ({"tracer_provider": object()}, "tracer_provider must be an OpenTelemetry"),
    ],
)
def test_bad_values_fail_with_a_message_that_says_what_to_fix(
    options: dict[str, object], message: str
) -> None:
    before = get_settings()
    with pytest.raises(ValueError, match=message):
        opslog.configure(**options)  # type: ignore[arg-type]
    assert get_settings() is before  # nothing half-applied


@pytest.mark.parametrize(
    "value,level",
    [("debug", "DEBUG"), ("INFO", "INFO"), ("warning", "WARN"), (40, "ERROR"), (25, "INFO")],
)
def test_levels_parse(value: object, level: str) -> None:
    assert opslog.Level.parse(value).name == level
