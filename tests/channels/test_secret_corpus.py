"""Every secret shape of the corpus, on every one of the five outputs."""

from __future__ import annotations

import random
import string

import pytest

import opslog
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
