"""The public surface: small, documented, and the names that moved still work."""

from __future__ import annotations

import inspect

import pytest

import opslog
from opslog import vocabulary


def test_at_most_thirty_top_level_names_and_all_resolve() -> None:
    assert len(opslog.__all__) <= 30
    assert len(set(opslog.__all__)) == len(opslog.__all__)
    for name in opslog.__all__:
        assert getattr(opslog, name) is not None, name


@pytest.mark.parametrize("name", sorted(set(opslog.__all__) - {"REDACTED", "__version__"}))
def test_every_public_name_is_documented(name: str) -> None:
    assert (inspect.getdoc(getattr(opslog, name)) or "").strip(), name


PUBLIC_CLASSES = [
    opslog.OperationLogger,
    opslog.OperationContext,
    opslog.StepContext,
    opslog.Retry,
    opslog.Level,
]


@pytest.mark.parametrize("cls", PUBLIC_CLASSES, ids=lambda c: c.__name__)
def test_every_public_attribute_is_documented(cls: type) -> None:
    undocumented = [
        name
        for name in dir(cls)
        if not name.startswith("_")
        and not (inspect.getdoc(getattr(cls, name)) or "").strip()
        and not isinstance(getattr(cls, name), (str, int))  # enum values, class constants
    ]
    assert not undocumented, f"{cls.__name__}: {undocumented}"


def test_internals_are_private() -> None:
    public = {name for name in dir(opslog.OperationContext) if not name.startswith("_")}
    for leaked in ("event_tail", "outer_context", "add_span_event", "required", "step_field"):
        assert leaked not in public


def test_the_vocabulary_is_one_namespace() -> None:
    assert vocabulary.STEP_INFO == "step_info"
    assert vocabulary.STATUS_FAILED == "failed"
    assert vocabulary.REQUIRED_FIELDS == ("correlation_id", "job_id", "operation", "step", "event")
    assert opslog.REDACTED == vocabulary.REDACTED == "[REDACTED]"


@pytest.mark.parametrize(
    "name",
    [
        "STEP_INFO",
        "STATUS_COMPLETED",
        "OPERATION_STEP",
        "REQUIRED_FIELDS",
        "Attempt",
        "ClientCall",
        "ErrorClassifier",
        "default_classifier",
        "Settings",
        "get_settings",
        "format_correlation_id",
        "correlation_id_as_uuid",
    ],
)
def test_names_that_moved_before_any_release_are_not_kept_as_aliases(name: str) -> None:
    """No release was made: each name lives in one module only (opslog.vocabulary,
    opslog.fields.errors...), not again at the top level."""
    with pytest.raises(AttributeError):
        getattr(opslog, name)
