"""Secrets never reach any output: keys, text patterns, exceptions, stack traces."""

from __future__ import annotations

import logging
from hashlib import sha1

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opslog
from opslog.fields.literals import literal_finder
from opslog.fields.redaction import REDACTED, KnownSecrets, Redactor
from opslog.testing import Capture, capture_events

from ..conftest import CANARY, all_output
from .credential_tokens import tokens


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
        (f"Authorization: Bearer {CANARY}", "Authorization: [REDACTED]"),
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


# -- keys are normalised ----------------------------------------------------------------
@pytest.mark.parametrize(
    "key",
    [
        "Pass_Word",
        "pass-word",
        "pass word",
        "passWord",
        "privateKey",
        "accessKey",
        "clientSecret",
        "pwd",
        "db_pwd",
        "userPwd",
        "jwt",
        "x_sig",
        "pass\u200bword",  # zero-width space
        "pass\u00adword",  # soft hyphen
        "pa\u2060ssword",  # word joiner
        "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44",  # full-width letters
        "X-Amz-Security-Token",
    ],
)
def test_keys_are_normalised_before_matching(key: str) -> None:
    assert Redactor().is_sensitive_key(key)


@pytest.mark.parametrize("key", ["signal", "design", "spin_count", "pwm_duty", "passenger_count"])
def test_short_forms_match_whole_words_only(key: str) -> None:
    assert not Redactor().is_sensitive_key(key)


def test_allow_keys_are_normalised_too() -> None:
    assert not Redactor(allow_keys=["token_count"]).is_sensitive_key("tokenCount")


# -- known values -----------------------------------------------------------------------
def _log(op: opslog.OperationContext, fields: dict[str, object], message: str) -> None:
    op.log_step("s", "configured", fields)
    op.log_step("s", message)


def test_known_values_survive_configure(captured: Capture) -> None:
    op = opslog.new_operation_logger("job").start_operation("op")
    op.log_step("s", "configured", {"password": CANARY})
    opslog.configure(level="info")
    opslog.configure(redact_keys=["ssn"], max_value_length=1000)
    op.log_step("s", f"echo {CANARY}")
    op.end_operation()
    assert CANARY not in all_output(captured)


@pytest.mark.parametrize(
    ("value", "text"),
    [(b"bytes-secret-value", "bytes-secret-value"), (918273645501, "918273645501")],
)
def test_known_values_of_any_type(captured: Capture, value: object, text: str) -> None:
    op = opslog.new_operation_logger("job").start_operation("op")
    _log(op, {"secret": value}, f"later: {text} shows up")
    op.end_operation()
    assert text not in all_output(captured)
    assert f"later: {REDACTED} shows up" in [e.message for e in captured.events]


def test_known_values_never_rewrite_statuses_or_event_names(captured: Capture) -> None:
    op = opslog.new_operation_logger("job").start_operation("op")
    op.log_step("s", "state", {"session_state": "completed", "token_status": "failed"})
    step = op.start_step("snapshot")
    step.end_step("completed")
    op.end_operation("failed")
    assert captured.last("step_end")["status"] == "completed"
    assert captured.last("operation_end")["status"] == "failed"
    assert captured.span("op").status.status_code.name == "ERROR"
    assert {e.event for e in captured.events} >= {"step_end", "operation_end", "step_info"}


def test_known_values_never_rewrite_required_fields(captured: Capture) -> None:
    first = opslog.new_operation_logger("job-1").start_operation("op")
    first.log_step("s", "login", {"session_id": "123456"})
    first.end_operation()
    later = opslog.new_operation_logger("job-123456").start_operation("sync-123456")
    later.log_step("copy-123456", "done")
    later.end_operation()
    event = captured.last("step_info")
    assert (event["job_id"], event["operation"], event["step"]) == (
        "job-123456",
        "sync-123456",
        "copy-123456",
    )


def test_known_values_take_bounded_memory() -> None:
    """60 values of 5 MB under a sensitive key: a fingerprint each, not the value."""
    import tracemalloc

    from opslog.fields.redaction import KNOWN_SECRETS, KNOWN_SECRETS_LIMIT

    redactor = Redactor()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n in range(60):
            value = f"{n:04d}" + "s" * (5 * 1024 * 1024)
            redactor.remember(value)
            del value
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 1024 * 1024, f"{grown} bytes kept for 60 remembered values"
    for n in range(KNOWN_SECRETS_LIMIT + 50):
        redactor.remember(f"value-number-{n:06d}")
    assert len(KNOWN_SECRETS) == KNOWN_SECRETS_LIMIT


def test_known_values_are_found_inside_longer_text() -> None:
    redactor = Redactor()
    redactor.remember("hunter2-is-the-password")
    text = "x" * 5000 + "hunter2-is-the-password" + "y" * 10
    assert redactor.redact_text(text) == "x" * 5000 + REDACTED + "y" * 10


# -- redact, then truncate ----------------------------------------------------------------
@pytest.mark.parametrize("offset", [4000, 4080, 4090, 4095, 4100])
def test_a_secret_straddling_the_length_limit_never_shows_half(
    captured: Capture, offset: int
) -> None:
    op = opslog.new_operation_logger("job").start_operation("op")
    secret = "Q7w" + "k" * 200 + "Z9x"
    op.log_step("s", "x" * offset + f" password={secret}")
    op.end_operation()
    message = captured.last("step_info").message
    assert "kkkkkkkk" not in message and "Q7w" not in message
    assert message.endswith("chars]")


def test_a_text_built_around_remembered_values_is_bounded_and_leaks_nothing() -> None:
    redactor = Redactor()
    redactor.remember("abcdef-remembered")
    text = "x abcdef-remembered " * 2000 + "tail abcdef-remembered"
    out = redactor.redact_text(text)
    assert "abcdef" not in out
    assert out.startswith("x [REDACTED] x [REDACTED]")


# -- the gate in front of the text rules ------------------------------------------------
#: Characters every rule is made of, the anchors' letters, every kind of
#: whitespace Python's ``\s`` knows, and some that are not whitespace.
_RULE_ALPHABET = (
    "=:<>-_./@?#&'\"\\ abcdefgiklnoprstuwyzABEIJKSYZ0123456789"
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029"
    "\u202f\u205f\u3000\u200b\u00e9"
)

#: One text per rule family that redaction must change (secret: hunter2x9q).
_SECRET_SHAPES = (
    "password=hunter2x9q",
    "Password: hunter2x9q",
    "mysql --password hunter2x9q",
    '["--password","hunter2x9q"]',
    "GET https://h/x?sig=hunter2x9q&se=1",
    "<db:Password>hunter2x9q</db:Password>",
    "https://admin:hunter2x9q@db.local/x",
    "git clone https://hunter2x9q@github.com/o/r",
    "Authorization: Bearer hunter2x9q",
    "sent basic aHVudGVyMng5cQ== upstream",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.aHVudGVyMng5cQ",
    "AKIAABCDEFGHIJKLMNOP",
    "AIzaSyA-hunter2x9q-hunter2x9q-hunter2x9",
    "-----BEGIN RSA PRIVATE KEY-----\nhunter2x9q",
    "Private-Lines: 2\nhunter2x9q",
)


_DEFAULT_REDACTOR = Redactor()


@given(
    st.text(alphabet=_RULE_ALPHABET + "@%$", max_size=80),
    st.sampled_from(_SECRET_SHAPES) | tokens(),
)
@settings(max_examples=1500, deadline=None)
def test_the_gate_never_clears_a_text_the_rules_would_change(text: str, secret: str) -> None:
    """The gate lets most texts skip the rules: it must never clear one that
    redaction changes, alone or with a secret or a credential token spliced in
    anywhere."""
    redactor = _DEFAULT_REDACTOR
    for candidate in (text, text + secret, secret + text, text + " " + secret):
        if redactor.leaves_unchanged(candidate):
            assert redactor.redact_text(candidate) == candidate, candidate
    assert not redactor.leaves_unchanged(secret)


def test_the_gate_clears_everyday_values() -> None:
    redactor = Redactor()
    for text in (
        "2026-11-29T14:05:07.123Z",
        "https://esx-3.dc1.example.com:443/sdk/vm/17",
        "copied 1234 bytes to esx-17 (attempt=2)",
        "vm-4205a841-0265-f4bd",
        "/dev/vdc",
        "Injecting drivers into the guest",
    ):
        assert redactor.leaves_unchanged(text), text
    for text in ("https://admin:hunter2@esx-3/sdk", "retry with password=hunter2"):
        assert not redactor.leaves_unchanged(text), text


def test_the_gate_steps_aside_for_known_values_and_extra_patterns() -> None:
    known = KnownSecrets()
    known.remember("s3cr3t-value-42")
    assert not Redactor(known=known).leaves_unchanged("copied s3cr3t-value-42 to host 1")
    assert not Redactor(extra_patterns=[r"ticket-\d+"]).leaves_unchanged("see ticket-12 now")
    assert not Redactor().leaves_unchanged("café au lait: 2")  # not ASCII: the full path


@given(st.sets(st.text(alphabet="abc-@", min_size=1, max_size=5), max_size=8), st.text("abc-@x"))
@settings(max_examples=2000, deadline=None)
def test_the_literal_search_finds_exactly_whether_any_literal_occurs(
    literals: set[str], text: str
) -> None:
    found = literal_finder(literals).search(text) is not None
    assert found == any(lit in text for lit in literals)


def test_values_sharing_a_prefix_cost_one_hash_per_place_per_length() -> None:
    """256 session ids with one 16-character prefix and one length: every place the
    prefix occurs is checked with one hash, not one per value (counted in the state the
    search reads), and every one of them is still found."""
    known = KnownSecrets()
    values = [f"sess-2026-12-08-{sha1(str(n).encode()).hexdigest()[:12]}Q" for n in range(256)]
    for value in values:
        known.remember(value)
    _, _, by_prefix = known._state
    assert [len(entries) for entries in by_prefix.values()] == [1]  # one length to hash
    redactor = Redactor(known=known)
    message = " ".join(values[::17]) + " sess-2026-12-08-ffffffffffffQ"
    out = redactor.redact_text(message)
    assert len(known) == 256
    assert not any(value in out for value in values)
    assert out.endswith(" sess-2026-12-08-ffffffffffffQ")  # not remembered: kept


def test_distinct_lengths_under_one_prefix_are_bounded() -> None:
    known = KnownSecrets()
    for n in range(100):
        known.remember("sess-2026-12-08-" + "Q7" * (4 + n))
    _, _, by_prefix = known._state
    assert max(len(entries) for entries in by_prefix.values()) <= 32
