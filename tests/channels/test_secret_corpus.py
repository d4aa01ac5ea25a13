"""Every secret shape of the corpus, on every one of the five outputs."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opslog
from opslog.fields.redaction import looks_like_secret
from opslog.testing import capture_events

from ..conftest import five_outputs, leaked_parts
from ..secret_corpus import CASES


def test_the_corpus_holds_at_least_a_hundred_shapes() -> None:
    assert len(CASES) >= 100


def _secret(name: str) -> str:
    rng = random.Random(name)  # a different, reproducible secret per case
    return "q" + "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(23))


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_part_of_the_secret_reaches_any_output(name: str) -> None:
    secret = _secret(name)
    with capture_events(level="debug") as capture:
        logger = opslog.new_operation_logger("job-corpus")
        with logger.start_operation("rotate-credentials") as op, op.start_step("apply") as step:
            looked_for = CASES[name](op, step, secret) or secret
    outputs = five_outputs(capture)
    assert all(outputs.values()), "every output carried the events"
    leaks = {channel: leaked_parts(looked_for, text) for channel, text in outputs.items()}
    assert not any(leaks.values()), f"{name}: {leaks}"


SENSITIVE = ["password", "clientSecret", "api-key", "pwd", "X-Auth-Token", "private_key"]
ORDINARY = ["vm_id", "host", "note", "path", "count"]


def _structures(secret: str) -> st.SearchStrategy[object]:
    """Random field structures with the secret under a sensitive key somewhere."""
    leaf = st.one_of(st.text(max_size=10), st.integers(), st.none(), st.booleans())
    secret_pair = st.sampled_from(SENSITIVE).map(lambda key: {key: secret})
    return st.recursive(
        secret_pair,
        lambda children: st.one_of(
            st.dictionaries(
                st.sampled_from(ORDINARY), st.one_of(children, leaf), min_size=1
            ).flatmap(lambda d: children.map(lambda c: {**d, "inner": c})),
            st.lists(children, min_size=1, max_size=3),
            children.map(lambda c: (c,)),
        ),
        max_leaves=6,
    )


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_secret_under_a_sensitive_key_never_leaks_whatever_the_structure(
    data: st.DataObject,
) -> None:
    # A value that looks like a secret (what opslog remembers: see looks_like_secret).
    secret = "q" + data.draw(
        st.text(alphabet=string.ascii_letters + string.digits, min_size=16, max_size=40).filter(
            lambda s: looks_like_secret("q" + s)
        )
    )
    fields = data.draw(_structures(secret))
    text = data.draw(st.sampled_from(["{s}", "echo {s}", "x={s}", "[{s}]"]))
    with capture_events() as capture:
        op = opslog.new_operation_logger("job").start_operation("op")
        op.log_step("s", "configured", {"config": fields})
        op.log_step("s", text.format(s=secret))  # a remembered value, later in text
        op.end_operation()
    for channel, output in five_outputs(capture).items():
        assert not leaked_parts(secret, output, window=12), channel
