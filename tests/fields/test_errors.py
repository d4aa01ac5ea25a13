"""Error events: any err value, classification, the classifier hook."""

from __future__ import annotations

import pytest

import opslog
from opslog import _diagnostics
from opslog.fields.errors import default_classifier
from opslog.testing import Capture


class CloudStackError(Exception):
    pass


def test_err_may_be_an_exception_a_string_none_or_anything(captured: Capture) -> None:
    op = opslog.new_operation_logger("j").start_operation("op")
    step = op.start_step("s")
    step.error("exception", TimeoutError("no answer"))
    step.error("string", "VM creation failed: 431")
    step.error("none", None)
    step.error("object", object())
    step.error("empty exception", ValueError())
    op.log_error("vm-creation", "op-level", CloudStackError("quota"), {"vm_name": "x"})
    step.end_step()
    op.end_operation()
    errors = captured.events_named("step_error")
    assert [e["error"] for e in errors[:3]] == [
        "no answer",
        "VM creation failed: 431",
        "<no error given>",
    ]
    assert errors[0]["error_type"] == "TimeoutError"
    assert errors[0]["retry_possible"] is True
    assert errors[1]["error_type"] == "unknown"
    assert errors[1]["retry_possible"] is False
    assert errors[2]["error_type"] == "unknown"
    assert errors[3]["error"].startswith("<object object")
    assert errors[4]["error"] == "ValueError"
    assert errors[5]["error_type"] == f"{__name__}.CloudStackError"
    assert errors[5]["step"] == "vm-creation"
    assert errors[5]["vm_name"] == "x"
    for e in errors:
        assert e.level == "ERROR"


def test_underlying_error_is_the_root_of_the_chain() -> None:
    try:
        try:
            raise ConnectionResetError("peer reset")
        except ConnectionResetError as root:
            raise CloudStackError("attach failed") from root
    except CloudStackError as exc:
        fields = default_classifier(exc)
    assert fields["underlying_error"] == "ConnectionResetError: peer reset"
    assert fields["retry_possible"] is True  # retryable somewhere in the chain
    assert fields["error"] == "attach failed"


def test_cyclic_chain_terminates() -> None:
    a = ValueError("a")
    b = ValueError("b")
    a.__context__ = b
    b.__context__ = a
    fields = default_classifier(a)
    assert fields["underlying_error"] == "ValueError: b"


def test_classifier_hook_fills_error_type_and_retry_possible(captured: Capture) -> None:
    def classify(err: object) -> dict[str, object]:
        if isinstance(err, CloudStackError):
            return {
                "error_type": "cloudstack_api_error",
                "retry_possible": True,
                "cloudstack_error_code": "431",
            }
        return {}

    opslog.configure(error_classifier=classify)
    op = opslog.new_operation_logger("j").start_operation("op")
    op.log_error("vm-creation", "failed", CloudStackError("x"))
    op.log_error("vm-creation", "failed", ValueError("y"), {"error_type": "caller_says"})
    op.end_operation()
    first, second = captured.events_named("step_error")
    assert first["error_type"] == "cloudstack_api_error"
    assert first["retry_possible"] is True
    assert first["cloudstack_error_code"] == "431"
    assert second["error_type"] == "caller_says"  # the caller's fields win


def test_raising_classifier_falls_back_to_the_default(captured: Capture) -> None:
    def broken(err: object) -> dict[str, object]:
        raise RuntimeError("classifier bug")

    opslog.configure(error_classifier=broken)
    op = opslog.new_operation_logger("j").start_operation("op")
    op.log_error("s", "failed", KeyError("k"))
    op.end_operation()
    assert captured.last("step_error")["error_type"] == "KeyError"
    assert _diagnostics.diagnostics()["classifier_error"] == 1


def test_non_callable_classifier_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="error_classifier must be a callable"):
        opslog.configure(error_classifier="nope")  # type: ignore[arg-type]


def test_exception_with_unprintable_message(captured: Capture) -> None:
    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    op = opslog.new_operation_logger("j").start_operation("op")
    op.log_error("s", "m", Weird())
    op.end_operation()
    assert captured.last("step_error")["error"] == "Weird"
