"""own_function: a library's function is its own until it is wrapped or replaced."""

from __future__ import annotations

import functools
import logging
from typing import Any

from opslog._genuine import own_function


def test_the_library_function_itself_is_its_own() -> None:
    assert (
        own_function(logging.Logger, "makeRecord", logging.__file__)
        is vars(logging.Logger)["makeRecord"]
    )


def test_a_wrapper_a_missing_name_or_another_file_is_not() -> None:
    original = vars(logging.Logger)["makeRecord"]

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    class Wrapped:
        makeRecord = wrapped

    sentinels = [
        own_function(Wrapped, "makeRecord", logging.__file__),  # functools.wraps: own code
        own_function(logging.Logger, "no_such_method", logging.__file__),
        own_function(logging.Logger, "makeRecord", __file__),  # not defined there
        own_function(logging.Logger, "manager", logging.__file__),  # not a function
    ]
    for sentinel in sentinels:
        assert sentinel is not original and sentinel is not None
    assert len({id(s) for s in sentinels}) == len(sentinels)  # nothing is any of them
