"""Redaction is linear: an attacker-shaped value costs at most 10x a plain one.

Times are compared as ratios within one run (never as absolute times): the
best of several tries of an adversarial 16 KB value against the best of
several tries of a plain 16 KB value, the tries of both interleaved (so the
pauses of a shared machine fall on both alike) with the garbage collector
off.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opslog
from opslog.fields.redaction import KNOWN_SECRETS, Redactor
from opslog.testing import capture_events

N = 16 * 1024
LIMIT = 10.0


def _repeat(unit: str, n: int = N) -> str:
    return (unit * (n // len(unit) + 1))[:n]


#: Shapes that made patterns backtrack (or could): long runs of base64
#: characters, "=", ":", "@", "/", quotes, backslashes, and every anchor a
#: rule starts from, repeated.
ADVERSARIAL = {
    "base64": _repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkrLw"),
    "base64url after eyJ": "eyJ" + _repeat("aB0_-", N - 3),
    "eyJ repeated": _repeat("eyJ"),
    "eyJ segments": _repeat("eyJa."),
    "JWT-like without dots": "eyJhbGciOiJIUzI1NiJ9" + _repeat("x", N - 20),
    "equals": "=" * N,
    "colons": ":" * N,
    "at signs": "@" * N,
    "slashes": "/" * N,
    "double quotes": '"' * N,
    "single quotes": "'" * N,
    "backslashes": "\\" * N,
    "backslash quotes": _repeat('\\"'),
    "keyword run": _repeat("token"),
    "keyword then blank": _repeat("token "),
    "keyword equals": _repeat("token="),
    "keyword equals blank": _repeat("token= "),
    "keyword open quote": _repeat("password='"),
    "keyword escaped quote": _repeat('password=\\"'),
    "keyword colon quote": _repeat('"secret": "'),
    "separators after keyword": _repeat("token     "),
    "pass_ run": _repeat("pass_"),
    "flags": _repeat("--password "),
    "flag prefixes": _repeat("--db-db-db-"),
    "xml opens": _repeat("<password"),
    "xml tags": _repeat("<password>"),
    "query params": _repeat("?token"),
    "query amp": _repeat("&sig="),
    "scheme separators": _repeat("://"),
    "scheme and user": _repeat("://a"),
    "user and colon": _repeat("://u:"),
    "url no at": "https://user:" + _repeat("a", N - 13),
    "url at signs": "https://a:" + "@" * (N - 10),
    "bearer words": _repeat("bearer "),
    "pem begins": _repeat("-----BEGIN RSA PRIVATE KEY-----"),
    "AKIA runs": _repeat("AKIA"),
    "AIza runs": _repeat("AIza"),
    "short words": _repeat("pwd jwt sig "),
    "mixed": _repeat("token=\"a'b\\\\c:d@e/f "),
    "shared anchor of remembered values": _repeat("ghp_"),
    "shared anchor and more": _repeat("ghp_00"),
}

#: Texts dense with real secrets: every one of them is redacted, so these are
#: measured on the whole log call.
DENSE = {
    "remembered value, repeated": _repeat("abcdef "),
    "remembered values glued": _repeat("abcdef"),
    "remembered tokens": _repeat("ghp_0001-remembered-token "),
    "key=value pairs": _repeat("token=x "),
    "short flags": _repeat("--pwd x "),
    "query parameters": _repeat("a=b&sig=c&"),
}

PLAIN = {
    "one letter": "a" * N,
    "words": " ".join(
        "".join(random.Random(i).choice("bcdfghlmnrvxyz") for _ in range(6))
        for i in range(N // 7 + 1)
    )[:N],
}


def _best(fn: Callable[[], object], tries: int = 5) -> float:
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _ratio(
    adversarial: Callable[[], object], plain: list[Callable[[], object]], tries: int = 7
) -> float:
    """Best adversarial time over the best plain time, tries interleaved."""
    best_adversarial = best_plain = float("inf")
    gc.disable()
    try:
        for _ in range(tries):
            for fn in plain:
                best_plain = min(best_plain, _best(fn, 1))
            best_adversarial = min(best_adversarial, _best(adversarial, 1))
    finally:
        gc.enable()
    return best_adversarial / best_plain


#: Remembered values, many sharing one anchor, as an attacker might arrange.
REMEMBERED = [f"ghp_{n:04d}-remembered-token" for n in range(200)] + ["abcdef"]


@pytest.fixture
def redactor() -> Redactor:
    for value in REMEMBERED:  # the known-value pass runs too
        KNOWN_SECRETS.remember(value)
    return Redactor()


def test_every_adversarial_shape_is_16k() -> None:
    assert all(len(v) == N for v in {**ADVERSARIAL, **DENSE, **PLAIN}.values())


@pytest.mark.parametrize("shape", sorted(ADVERSARIAL))
def test_redaction_of_an_adversarial_value_costs_at_most_10x_plain(
    shape: str, redactor: Redactor
) -> None:
    value = ADVERSARIAL[shape]
    ratio = _ratio(
        lambda: redactor.redact_text(value),
        [lambda p=p: redactor.redact_text(p) for p in PLAIN.values()],
    )
    assert ratio <= LIMIT, f"{shape}: {ratio:.1f}x plain"


def _log_call_ratio(value: str) -> float:
    """One log call with ``value`` against one with a plain value, best of several."""
    for remembered in REMEMBERED:
        KNOWN_SECRETS.remember(remembered)
    with capture_events():
        op = opslog.new_operation_logger("job").start_operation("op")
        # Each call gets a new value, so no memo hides the work.
        counter = iter(range(10**6))

        def call(text: str) -> Callable[[], None]:
            return lambda: op.log_step("s", text[:-6] + f"{next(counter):06d}")

        ratio = _ratio(call(value), [call(p) for p in PLAIN.values()], tries=9)
        op.end_operation()
    return ratio


@pytest.mark.parametrize(
    "shape",
    ["eyJ repeated", "keyword run", "user and colon", "flags", *sorted(DENSE)],
)
def test_a_log_call_with_an_adversarial_message_costs_at_most_10x_plain(shape: str) -> None:
    ratio = _log_call_ratio({**ADVERSARIAL, **DENSE}[shape])
    assert ratio <= LIMIT, f"{shape}: {ratio:.1f}x plain"


def test_cost_grows_linearly_with_length(redactor: Redactor) -> None:
    """Four times the text costs about four times as much, not sixteen."""
    for shape in ("eyJ repeated", "keyword run", "user and colon", "xml opens"):
        unit = ADVERSARIAL[shape][:64]
        small = _repeat(unit, N)
        large = _repeat(unit, 4 * N)
        ratio = _best(lambda v=large: redactor.redact_text(v)) / _best(
            lambda v=small: redactor.redact_text(v)
        )
        assert ratio < 8, f"{shape}: 4x the length cost {ratio:.1f}x"


ALPHABET = "aZ09+/=_-.:@'\"\\ \n?&;<>eyJtokenpasswordBEGINghp_abcdef"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(sorted(set(ALPHABET) | {"token=", "://", "eyJ", "--pwd "})),
        min_size=1,
        max_size=12,
    )
)
def test_random_adversarial_alphabets_stay_within_10x(units: list[str]) -> None:
    ratio = _log_call_ratio(_repeat("".join(units)))
    assert ratio <= LIMIT, f"{units!r}: {ratio:.1f}x plain"
