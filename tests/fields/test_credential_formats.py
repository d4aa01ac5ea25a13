"""The credential-format table: every row's tokens, generated from the row, are hidden in every
place a token turns up, on every output; a row added at run time is found with no other change;
the body grammar keeps every match bounded; and the scan's work is counted, not timed."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opslog
from opslog.fields import credential_formats
from opslog.fields.credential_formats import (
    CREDENTIAL_FORMATS,
    MAX_UNIT,
    CredentialFormat,
    CredentialScanner,
)
from opslog.fields.redaction import REDACTED, Redactor
from opslog.testing import capture_events

from ..conftest import five_outputs
from .credential_tokens import token_of

#: Where a token turns up in text: each template's {t} is the token.
PLACES = {
    "bare": "{t}",
    "inside text": "deploy failed for {t} on host kvm-03",
    "URL path segment": "GET https://api.example.com/v1/{t}/resources?page=2",
    "header value": "X-Upstream: {t}",
    "command line": "deploy --profile prod {t} --verbose",
    "argv list": "['deploy', '{t}', '--verbose']",
    "single quotes": "value='{t}'",
    "JSON": '{{"config": {{"upstream": "{t}", "retries": 3}}}}',
    "YAML": "config:\n  upstream: {t}\n  retries: 3\n",
    "XML": "<config><upstream>{t}</upstream><retries>3</retries></config>",
    "after a colon": "upstream:{t}",
    "parenthesised": "(upstream {t})",
}
#: Words that every place keeps (nothing around the token is hidden).
KEPT = ("deploy", "api.example.com", "X-Upstream", "--verbose", "config", "retries", "kvm-03")

FORMAT_IDS = [form.name for form in CREDENTIAL_FORMATS]
words = st.text(alphabet="abcdefghij klmnop,;()", max_size=30)


def hidden(form: CredentialFormat, token: str, out: str) -> bool:
    """The token's secret part is nowhere in ``out``."""
    secret = token[len(form.prefix) :] if form.keep_prefix else token
    return secret not in out and token not in out


def test_the_table_is_large_and_its_names_are_unique() -> None:
    assert len(CREDENTIAL_FORMATS) >= 60
    assert len({form.name for form in CREDENTIAL_FORMATS}) == len(CREDENTIAL_FORMATS)


@pytest.mark.parametrize("form", CREDENTIAL_FORMATS, ids=FORMAT_IDS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), before=words, after=words)
def test_every_format_is_hidden_in_every_place(
    form: CredentialFormat, data: st.DataObject, before: str, after: str
) -> None:
    token = data.draw(token_of(form))
    redactor = Redactor()
    for place, template in PLACES.items():
        text = f"{before} {template.format(t=token)} {after}"
        out = redactor.redact_text(text)
        assert hidden(form, token, out), (place, text, out)
        assert REDACTED in out
        for word in KEPT:
            assert (word in text) == (word in out), (place, word, out)
        if form.keep_prefix:
            assert form.prefix in out


def _log_everywhere(token: str, module_dir: Path) -> dict[str, str]:
    """One operation carrying ``token`` in every path a caller's data takes: a field value,
    a nested field, a list, the message, an exception's message and its traceback's source
    line, a command line; returns what each of the five outputs carried."""
    source = module_dir / "credential_call_site.py"
    source.write_text(
        textwrap.dedent(
            f"""
            def fail():
                raise RuntimeError("upstream refused")  # called with {token}
            """
        )
    )
    sys.path.insert(0, str(module_dir))
    try:
        import credential_call_site

        del sys.modules["credential_call_site"]
    finally:
        sys.path.remove(str(module_dir))
    with capture_events(level="debug") as captured:
        logger = opslog.new_operation_logger("job-credentials")
        with logger.operation("rotate") as op:
            op.log_step(
                "upload",
                f"pushing with {token}",
                {
                    "upstream": token,
                    "request": {"url": f"https://api.example.com/v1/{token}/x"},
                    "argv": ["deploy", token],
                    "command": f"deploy --profile prod {token}",
                },
            )
            op.log_error("upload", "rejected", RuntimeError(f"401 for {token}"))
            try:
                credential_call_site.fail()
            except RuntimeError as exc:
                op.log_error("upload", "call site", exc)
    return five_outputs(captured)


@pytest.mark.parametrize("form", CREDENTIAL_FORMATS, ids=FORMAT_IDS)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_format_is_hidden_on_every_output(
    form: CredentialFormat, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    token = data.draw(token_of(form))
    outputs = _log_everywhere(token, tmp_path_factory.mktemp("site"))
    for output, text in outputs.items():
        assert text, output
        assert hidden(form, token, text), output


def test_a_format_added_to_the_table_at_run_time_is_found_everywhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    added = CredentialFormat("acme-deploy", "acme_dk_", "[A-Za-z0-9]{30}", "test")
    token = "acme_dk_" + "Zq7" * 10
    before = _log_everywhere(token, tmp_path)
    assert all(token in text for text in before.values())  # not a secret to opslog yet
    monkeypatch.setattr(credential_formats, "CREDENTIAL_FORMATS", (*CREDENTIAL_FORMATS, added))
    after = _log_everywhere(token, tmp_path)
    for output, text in after.items():
        assert token not in text, output
    # The gate sees it too: a bare value with the new prefix is not waved through.
    assert not Redactor().leaves_unchanged(token)


@pytest.mark.parametrize(
    "body",
    [
        "[a-z]+",
        "[a-z]*",
        "(?:ab)+",
        "[a-z]{2,}",
        "a|b",
        f"[a-z]{{{MAX_UNIT + 1}}}",
        "[a-z]{9,3}",
        "",
    ],
)
def test_a_body_outside_the_grammar_is_refused_with_the_rule_named(body: str) -> None:
    with pytest.raises(ValueError, match="credential format 'bad'"):
        CredentialFormat("bad", "bad_", body, "test")


def test_a_scan_tries_at_most_a_bounded_number_of_formats_per_place() -> None:
    """The scan's work, counted: every place a prefix starts is tried against at most
    ``most_tried_at_a_place`` formats, and each try reads a bounded stretch (the body
    grammar), so the work grows with the text's length, whatever the text."""
    scanner = CredentialScanner(CREDENTIAL_FORMATS)
    tries = 0

    class Counting:
        def __init__(self, pattern: re.Pattern[str]) -> None:
            self.pattern = pattern

        def match(self, text: str, position: int) -> re.Match[str] | None:
            nonlocal tries
            tries += 1
            return self.pattern.match(text, position)

    scanner._by_literal = {
        literal: tuple(Counting(p) for p in patterns)  # type: ignore[misc]
        for literal, patterns in scanner._by_literal.items()
    }
    for prefix in scanner.prefixes:
        for size in (1_000, 4_000):
            tries = 0
            scanner.spans((prefix * size)[: size * 4])
            assert tries <= size * 4 * scanner.most_tried_at_a_place
    assert scanner.most_tried_at_a_place <= 6
