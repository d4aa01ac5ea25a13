"""Whether a library's function is still the library's own.

opslog takes a shortcut around a library function (``Logger.makeRecord``,
the SDK's ``Span.add_event``) only while that function is the one the
library defines: one that an agent wrapped or a subclass replaced has work
of its own to do for each call, and gets every call.
"""

from __future__ import annotations

from types import FunctionType

__all__ = ["own_function"]


def own_function(owner: type, name: str, module_file: str) -> object:
    """``owner.name`` if it is a plain function defined in ``module_file``
    (the library's own), else an object nothing is (so no identity test with
    it passes). A wrapper is not the library's: ``functools.wraps`` gives it
    its own code, and a ``wrapt`` wrapper is not a function at all."""
    function = vars(owner).get(name)
    if type(function) is FunctionType and function.__code__.co_filename == module_file:
        return function
    return object()
