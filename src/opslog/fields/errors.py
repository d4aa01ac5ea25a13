"""Errors: what ``log_error``/``step.error`` record about the ``err`` they get.

``err`` may be an exception, a string (Go code ported line by line often has
only a message), ``None`` or anything else; none of them raises. The event's
fields come from the *error classifier*:

* ``error``: the exception's message (its type name when the message is
  empty), the string itself, or ``"<no error given>"`` for ``None``;
* ``error_type``: the exception's type, qualified with its module unless it
  is a builtin (``TimeoutError``, ``botocore.exceptions.ClientError``), the
  semantic-conventions form; ``"unknown"`` for strings and ``None``;
* ``retry_possible``: ``True`` when the error or anything in its
  ``__cause__``/``__context__`` chain is a :class:`TimeoutError`,
  :class:`ConnectionError`, :class:`InterruptedError` or
  :class:`BlockingIOError`;
* ``underlying_error``: ``"Type: message"`` of the root of that chain, when
  there is a chain.

A custom classifier (``opslog.configure(error_classifier=fn)``) is called
with ``err`` and returns a mapping of fields (or ``None``); its values
override the defaults above, the caller's own ``fields`` override both. A
classifier that raises is reported as a self-diagnostic and the defaults are
used.
"""

from __future__ import annotations

import builtins
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Optional

from .. import _diagnostics
from .coercion import exception_text

__all__ = ["ErrorClassifier", "classify_error", "default_classifier", "exception_attributes"]

#: ``fn(err) -> Mapping[str, object] | None``
ErrorClassifier = Callable[[object], Optional[Mapping[str, object]]]

_RETRYABLE = (TimeoutError, ConnectionError, InterruptedError, BlockingIOError)
_CHAIN_LIMIT = 64
NO_ERROR_GIVEN = "<no error given>"


def qualified_type(exc: BaseException) -> str:
    """The exception type name, module-qualified unless it is a builtin."""
    cls = type(exc)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    if module == "builtins" or getattr(builtins, name, None) is cls:
        return name
    return f"{module}.{name}"


def error_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first, cycle-safe."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen and len(chain) < _CHAIN_LIMIT:
        chain.append(current)
        seen.add(id(current))
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return chain


def default_classifier(err: object) -> dict[str, object]:
    """The built-in classification described in the module docstring."""
    if err is None:
        return {"error": NO_ERROR_GIVEN, "error_type": "unknown", "retry_possible": False}
    if isinstance(err, BaseException):
        chain = error_chain(err)
        message = _message(err)
        fields: dict[str, object] = {
            "error": message,
            "error_type": qualified_type(err),
            "retry_possible": any(isinstance(e, _RETRYABLE) for e in chain),
        }
        if len(chain) > 1:
            fields["underlying_error"] = exception_text(chain[-1])
        return fields
    text = err if isinstance(err, str) else _message(err)
    return {"error": text, "error_type": "unknown", "retry_possible": False}


def classify_error(err: object, classifier: Optional[ErrorClassifier]) -> dict[str, object]:
    """Default classification overlaid with the configured classifier's result."""
    fields = default_classifier(err)
    if classifier is not None:
        try:
            extra = classifier(err)
            if extra:
                fields.update({str(k): v for k, v in extra.items()})
        except Exception as exc:
            _diagnostics.report(
                _diagnostics.CLASSIFIER_ERROR,
                f"error classifier raised {type(exc).__name__}; default classification used",
            )
    return fields


def exception_attributes(exc: BaseException) -> dict[str, Any]:
    """Semantic-convention ``exception.*`` attributes (unredacted: redact before output)."""
    try:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        stack = exception_text(exc)
    return {
        "exception.type": qualified_type(exc),
        "exception.message": _message(exc),
        "exception.stacktrace": stack,
    }


def _message(err: object) -> str:
    try:
        text = str(err)
    except Exception:
        text = ""
    return text or type(err).__name__
