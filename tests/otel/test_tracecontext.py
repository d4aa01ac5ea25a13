"""W3C Trace Context Level 2 rules, table-driven, plus a fuzz of arbitrary header bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opslog.otel.tracecontext import (
    MAX_TRACESTATE_MEMBERS,
    format_traceparent,
    parse_traceparent,
    parse_tracestate,
)

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
PID = "00f067aa0ba902b7"
VALID = f"00-{TID}-{PID}-01"


@pytest.mark.parametrize(
    "values,trace_id,parent_id,flags",
    [
        ([VALID], TID, PID, 1),
        ([f"00-{TID}-{PID}-00"], TID, PID, 0),
        ([f"  {VALID}\t"], TID, PID, 1),  # optional whitespace around the value
        ([VALID, VALID], TID, PID, 1),  # the same value twice is one value
        ([f"00-{TID}-{PID}-03"], TID, PID, 3),  # sampled + Level 2 random
        ([f"00-{TID}-{PID}-ff"], TID, PID, 3),  # unknown flags cleared
        ([f"01-{TID}-{PID}-01"], TID, PID, 1),  # a future version, same length
        ([f"cc-{TID}-{PID}-01-what-the-future-holds"], TID, PID, 1),  # extra fields
        ([f"fe-{TID}-{PID}-09-x"], TID, PID, 1),
        ([VALID.encode()], TID, PID, 1),  # bytes, as ASGI hands them over
    ],
)
def test_valid_traceparent(values: list[object], trace_id: str, parent_id: str, flags: int) -> None:
    parent, problem = parse_traceparent(values)
    assert problem is None and parent is not None
    assert parent.trace_id == int(trace_id, 16)
    assert parent.parent_id == int(parent_id, 16)
    assert parent.flags == flags


@pytest.mark.parametrize(
    "values,reason",
    [
        ([f"ff-{TID}-{PID}-01"], "version ff"),
        ([f"00-{TID.upper()}-{PID}-01"], "lowercase hex"),
        ([f"00-{TID}-{PID.upper()}-01"], "lowercase hex"),
        ([f"00-{TID}-{PID}-0A"], "lowercase hex"),
        ([f"00-{'0' * 32}-{PID}-01"], "trace id is all zeros"),
        ([f"00-{TID}-{'0' * 16}-01"], "parent id is all zeros"),
        ([f"00-{TID}-{PID}-01-extra"], "exactly 55"),  # version 00 has no extra fields
        ([f"00-{TID}-{PID}-1"], "exactly 55"),
        ([f"00-{TID[:-1]}-{PID}-01"], "exactly 55"),
        ([f"01-{TID}-{PID}-01x"], "must start with '-'"),
        ([f"01-{TID}-{PID}-0"], "shorter than 55"),
        ([f"0-{TID}-{PID}-01"], "version"),
        ([f"Ab-{TID}-{PID}-01"], "version"),
        ([f"00_{TID}_{PID}_01"], "version"),
        ([f"00-{TID}_{PID}-01"], "separated"),
        ([f"00-{TID[:-1]}g-{PID}-01"], "lowercase hex"),
        ([""], "version"),
        ([VALID, f"00-{TID}-{'1' * 16}-01"], "more than once with different values"),
        ([f"{VALID},{VALID}"], "exactly 55"),  # two headers folded into one line
        ([None], "not text"),
    ],
)
def test_invalid_traceparent(values: list[object], reason: str) -> None:
    parent, problem = parse_traceparent(values)
    assert parent is None
    assert problem is not None and reason in problem


def test_no_traceparent_is_not_a_problem() -> None:
    assert parse_traceparent([]) == (None, None)


def test_format_traceparent_writes_version_00_and_clears_unknown_flags() -> None:
    assert format_traceparent(int(TID, 16), int(PID, 16), 0xFF) == f"00-{TID}-{PID}-03"
    assert format_traceparent(1, 2, 1) == f"00-{1:032x}-{2:016x}-01"


@pytest.mark.parametrize(
    "values,members",
    [
        (
            ["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"],
            [("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")],
        ),
        (["rojo=1", "congo=2"], [("rojo", "1"), ("congo", "2")]),  # several header fields
        ([" rojo=1 ,\t congo=2 , ,"], [("rojo", "1"), ("congo", "2")]),  # OWS, empty members
        ([""], []),
        (
            ["tenant@vendor=v", "fw529a3039@dt=x", "1abc=digit-first"],
            [("tenant@vendor", "v"), ("fw529a3039@dt", "x"), ("1abc", "digit-first")],
        ),
        # "@" is an ordinary key character at HEAD (no tenant@system rule).
        (["foo@=1,a@@b=2,x@y@z=3"], [("foo@", "1"), ("a@@b", "2"), ("x@y@z", "3")]),
        ([f"{'t' * 249}@vendor=v"], [(f"{'t' * 249}@vendor", "v")]),  # 256 characters
        (["k=  leading spaces kept"], [("k", "  leading spaces kept")]),
        (["k=value with spaces"], [("k", "value with spaces")]),
        ([f"{'k' * 256}=v"], [("k" * 256, "v")]),  # key up to 256 characters
        ([f"k={'v' * 256}"], [("k", "v" * 256)]),  # value up to 256 characters
        ([b"rojo=1"], [("rojo", "1")]),
        # Duplicated keys keep the header; the left-most entry stands.
        (["a=1,a=2,b=3"], [("a", "1"), ("b", "3")]),
        (["foo=1", "foo=1"], [("foo", "1")]),
        (["foo=1", "foo=2"], [("foo", "1")]),
        ([",".join(f"k{i}=v" for i in range(32))], [(f"k{i}", "v") for i in range(32)]),
    ],
)
def test_tracestate(values: list[object], members: list[tuple[str, str]]) -> None:
    state = parse_tracestate(values)
    assert list(state.members) == members
    assert state.discarded is None


@pytest.mark.parametrize(
    "values",
    [
        ["Upper=1,ok=2"],  # bad key grammar
        ["ok=1,@foo=1"],  # must start with a letter or digit
        ["ok=1,.foo=1"],  # must start with a letter or digit
        [f"ok=1,{'k' * 257}=v"],  # key too long
        [f"ok=1,k={'v' * 257}"],  # value too long
        ["ok=1,k=a b ,x=2"],  # ends in a space... after OWS trimming it is fine: see below
        ["k=v=w,ok=1"],  # "=" in a value
        ["k=\x7f,ok=1"],  # illegal character
        ["k=,ok=1"],  # empty value
        ["k,ok=1"],  # no "="
        ["ok=1", "x="],  # across header fields
        [",".join(f"k{i}=v" for i in range(33))],  # more than 32 members
        ["ok=1", ",".join(f"k{i}=v" for i in range(32))],  # 33 across fields
    ],
)
def test_any_invalid_member_or_too_many_discards_the_whole_header(values: list[str]) -> None:
    state = parse_tracestate(values)
    if values == ["ok=1,k=a b ,x=2"]:  # trailing space is OWS: a valid header
        assert state.members == (("ok", "1"), ("k", "a b"), ("x", "2"))
        return
    assert state.members == ()
    assert state.discarded


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=3))
def test_fuzz_arbitrary_header_bytes(values: list[bytes]) -> None:
    parent, problem = parse_traceparent(values)
    if parent is not None:
        assert problem is None
        assert 0 < parent.trace_id < 2**128 and 0 < parent.parent_id < 2**64
        assert parent.flags & ~0x03 == 0
        assert values and all(v.strip(b" \t") == values[0].strip(b" \t") for v in values)
    state = parse_tracestate(values)
    assert len(state.members) <= MAX_TRACESTATE_MEMBERS
    assert not (state.members and state.discarded)
    for key, value in state.members:
        assert key and value and "," not in value and "=" not in value


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 2**128 - 1),
    st.integers(1, 2**64 - 1),
    st.integers(0, 255),
)
def test_formatted_traceparent_parses_back(trace_id: int, span_id: int, flags: int) -> None:
    parent, _ = parse_traceparent([format_traceparent(trace_id, span_id, flags)])
    assert parent is not None
    assert (parent.trace_id, parent.parent_id, parent.flags) == (trace_id, span_id, flags & 3)


# The key grammar at HEAD, built from its ABNF: key = (lcalpha / DIGIT) 0*255(keychar).
FIRST_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
KEY_CHARS = FIRST_KEY_CHARS + "_-*/@"
grammar_keys = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(FIRST_KEY_CHARS),
    st.text(alphabet=KEY_CHARS, max_size=255),
)


@settings(max_examples=300, deadline=None)
@given(grammar_keys)
def test_every_key_the_grammar_makes_is_accepted(key: str) -> None:
    assert parse_tracestate([f"ok=1,{key}=v"]).members == (("ok", "1"), (key, "v"))


@settings(max_examples=300, deadline=None)
@given(grammar_keys, st.integers(min_value=0, max_value=256), st.characters())
def test_a_key_off_the_grammar_discards_the_header(key: str, at: int, bad: str) -> None:
    """One character outside the grammar at any place (the first place has its own
    alphabet), or a key over 256 characters."""
    allowed = FIRST_KEY_CHARS if min(at, len(key)) == 0 else KEY_CHARS
    if bad in allowed or bad in ",= \t":
        bad = "A"  # upper case is never a key character
    broken = key[:at] + bad + key[at + 1 :]
    assert parse_tracestate([f"ok=1,{broken}=v"]).members == ()
    too_long = (key * 257)[:257]
    assert parse_tracestate([f"ok=1,{too_long}=v"]).members == ()
