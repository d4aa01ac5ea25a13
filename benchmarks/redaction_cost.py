"""Redaction cost per family of hostile text, against plain text of the same length.

    python benchmarks/redaction_cost.py            # every family, ~1 minute
    python benchmarks/redaction_cost.py --quick    # a few families, only to prove it runs

Each row is the best of several tries of one 16 KB text shaped to make a matcher slow,
over the best of several tries of plain 16 KB texts, the tries interleaved (so a shared
machine's pauses fall on both alike) with the garbage collector off. The goal is at most
10x for every family; rows above it are marked MISS. Two more tables: a whole log call with
such a message (each call's text differs, so no memo hides the work), and the cost of four
times the length (linear: about 4x). Nothing here fails on timing.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Sequence
from typing import Callable, Optional

import opslog
from opslog.fields.redaction import KNOWN_SECRETS, Redactor
from opslog.testing import capture_events

N = 16 * 1024
GOAL = 10.0


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
    "shared 16-character prefix": _repeat("sess-2026-12-08-"),
    "shared prefix and length": _repeat("sess-2026-12-08-0a1b2c3d4e5fQ "),
    "eight keywords, new combination": _repeat(
        "password token secret session cookie auth signature bearer "
    ),
    "every credential prefix": _repeat("ghp_ xoxb- sk_live_ AKIA glpat- hvs. npm_ SG. "),
}

#: Texts dense with real secrets: every one of them is redacted, so these are
#: measured on the whole log call.
DENSE = {
    "remembered value, repeated": _repeat("abcdef12 "),
    "remembered values glued": _repeat("abcdef12"),
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


#: Remembered values, many sharing one anchor, and 256 session ids sharing a
#: 16-character prefix and a length, as an attacker might arrange.
REMEMBERED = (
    [f"ghp_{n:04d}-remembered-token" for n in range(200)]
    + [f"sess-2026-12-08-{n * 7919:012x}Q" for n in range(256)]
    + ["abcdef12"]
)


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


def _log_call_ratio(value: str, tries: int) -> float:
    """One log call with ``value`` against one with a plain value."""
    with capture_events():
        op = opslog.new_operation_logger("job").start_operation("op")
        counter = iter(range(10**7))

        def call(text: str) -> Callable[[], None]:
            return lambda: op.log_step("s", text[:-6] + f"{next(counter):06d}")

        ratio = _ratio(call(value), [call(p) for p in PLAIN.values()], tries=tries)
        op.end_operation()
    return ratio


def _row(name: str, ratio: float, goal: float, above: bool = False) -> str:
    missed = ratio < goal if above else ratio > goal
    return f"  {name:<40} {ratio:7.1f}x  {'MISS' if missed else 'ok'}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few families, few tries")
    args = parser.parse_args(argv)
    for value in REMEMBERED:  # the known-value pass runs too
        KNOWN_SECRETS.remember(value)
    redactor = Redactor()
    tries = 2 if args.quick else 7
    families = sorted(ADVERSARIAL)[:3] if args.quick else sorted(ADVERSARIAL)
    plain = [lambda p=p: redactor.redact_text(p) for p in PLAIN.values()]

    print(f"redact_text, 16 KB, against plain text (goal <= {GOAL:g}x):")
    for shape in families:
        value = ADVERSARIAL[shape]
        print(_row(shape, _ratio(lambda v=value: redactor.redact_text(v), plain, tries), GOAL))

    print(f"\na whole log call with such a message, against a plain one (goal <= {GOAL:g}x):")
    calls = ["eyJ repeated", "keyword run", "user and colon", "flags", *sorted(DENSE)]
    for shape in calls[:2] if args.quick else calls:
        ratio = _log_call_ratio({**ADVERSARIAL, **DENSE}[shape], tries + 2)
        print(_row(shape, ratio, GOAL))

    print("\nfour times the length, against once (linear: about 4x; goal < 8x):")
    for shape in ("eyJ repeated", "keyword run", "user and colon", "xml opens"):
        unit = ADVERSARIAL[shape][:64]
        small, large = _repeat(unit, N), _repeat(unit, 4 * N)
        ratio = _best(lambda v=large: redactor.redact_text(v), tries) / _best(
            lambda v=small: redactor.redact_text(v), tries
        )
        print(_row(shape, ratio, 8.0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
