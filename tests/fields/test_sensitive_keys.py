"""The sensitive-key vocabulary, crossed with every way code writes a key and its value.

Keys are generated from the vocabulary's own tables (every fragment and short word, in every
spelling: snake, kebab, camel, upper, dotted, with prefixes and suffixes); syntaxes are the
grammar of key/value text; the result is checked in text and on every output. Harmless keys
(the same table's harmless and metadata words) are generated the same way and must pass."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opslog
from opslog.fields.redaction import Redactor
from opslog.fields.sensitive_keys import (
    HARMLESS_WORDS,
    METADATA_WORDS,
    SENSITIVE_FRAGMENTS,
    SENSITIVE_WORDS,
    KeyVocabulary,
    normalise_key,
    text_spellings,
)
from opslog.testing import capture_events

from ..conftest import five_outputs

SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
secrets = st.text(alphabet=SECRET_ALPHABET, min_size=12, max_size=24).map(lambda s: "Q9" + s)
qualifiers = st.sampled_from(["", "db", "aws", "github", "x", "client", "app", "my", "svc"])


def _spell(words: list[str], style: str) -> str:
    if style == "snake":
        return "_".join(words)
    if style == "kebab":
        return "-".join(words)
    if style == "dotted":
        return ".".join(words)
    if style == "upper":
        return "_".join(words).upper()
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    return "".join(words)  # joined


@st.composite
def sensitive_keys(draw: st.DrawFn) -> str:
    """A key the vocabulary calls sensitive: a fragment (as text spells it) or a
    short word, with a qualifier word before it, in any style."""
    styles = ["snake", "kebab", "dotted", "upper", "camel"]
    if draw(st.booleans()):
        words = text_spellings(draw(st.sampled_from(SENSITIVE_FRAGMENTS)))
        styles.append("joined")  # a fragment is found inside a longer word too
    else:
        words = [draw(st.sampled_from(SENSITIVE_WORDS))]  # a whole word only
    qualifier = draw(qualifiers)
    style = draw(st.sampled_from(styles))
    return _spell([qualifier, *words] if qualifier else words, style)


#: How code writes a key K and a value V in text (V is what must disappear).
SYNTAXES = [
    "{k}={v}",
    "{k}: {v}",
    "{k} = {v}",
    '"{k}": "{v}"',
    "'{k}'='{v}'",
    "`{k}`='{v}'",
    "{k} => {v}",
    "{k} := {v}",
    "cfg['{k}'] = '{v}'",
    'cfg["{k}"] = "{v}"',
    "**{k}**: {v}",
    "--{k} {v}",
    "--{k}={v}",
    '--{k} "{v} and more"',
    "-e {K}={v}",
    "export {K}={v}",
    "{K}={v}",
    "<{k}>{v}</{k}>",
    "[('{k}', '{v}')]",
    '[["{k}", "{v}"]]',
    "{k}: Token {v}",
    "b'{k}={v}'",
    '{{\\"{k}\\": \\"{v}\\"}}',
    "?{k}={v}&page=2",
]


def _render(syntax: str, key: str, value: str) -> str:
    upper = "_".join(normalise_key(key)[1]).upper()  # DB_PW, as an environment variable
    return syntax.format(k=key, K=upper, v=value)


def test_every_table_word_is_a_sensitive_key_and_every_harmless_word_is_not() -> None:
    vocabulary = KeyVocabulary()
    for fragment in SENSITIVE_FRAGMENTS:
        assert vocabulary.is_sensitive("_".join(text_spellings(fragment))), fragment
    for word in SENSITIVE_WORDS:
        assert vocabulary.is_sensitive(f"db_{word}"), word
        assert not vocabulary.is_sensitive(f"db{word}x"), word  # a whole word only
    for word in HARMLESS_WORDS:
        assert not vocabulary.is_sensitive(word), word
    for fragment in ("password", "token", "secret", "session", "auth"):
        for word in METADATA_WORDS:
            assert not vocabulary.is_sensitive(f"{fragment}_{word}"), (fragment, word)
            assert not vocabulary.is_sensitive(f"{word}_{fragment}"), (word, fragment)


@settings(max_examples=400, deadline=None)
@given(sensitive_keys(), st.sampled_from(SYNTAXES), secrets, st.text("abc xyz,.", max_size=20))
def test_every_sensitive_key_in_every_syntax_hides_its_value(
    key: str, syntax: str, secret: str, around: str
) -> None:
    redactor = _REDACTOR
    assert redactor.is_sensitive_key(key), key
    text = f"{around} {_render(syntax, key, secret)} {around}"
    out = redactor.redact_text(text)
    assert secret not in out, (key, syntax, out)
    assert "[REDACTED]" in out


@st.composite
def harmless_keys(draw: st.DrawFn) -> str:
    """A key that describes a secret (a metadata word with a fragment) or holds a
    harmless word, in any style."""
    if draw(st.booleans()):
        words = [draw(st.sampled_from(sorted(HARMLESS_WORDS)))]
    else:
        fragment = [draw(st.sampled_from(["password", "token", "secret", "auth", "api_key"]))]
        metadata = draw(st.sampled_from(sorted(METADATA_WORDS)))
        words = [metadata, *fragment] if draw(st.booleans()) else [*fragment, metadata]
    style = draw(st.sampled_from(["snake", "kebab", "dotted", "upper", "camel"]))
    return _spell(words, style)


@settings(max_examples=400, deadline=None)
@given(
    harmless_keys(),
    st.sampled_from([s for s in SYNTAXES if "Token" not in s]),
    st.sampled_from(["5", "4096", "github", "bcrypt", "300s", "enabled", "/etc/app/conf"]),
)
def test_harmless_keys_keep_their_values_in_every_syntax(key: str, syntax: str, value: str) -> None:
    redactor = _REDACTOR
    assert not redactor.is_sensitive_key(key), key
    text = _render(syntax, key, value)
    assert redactor.redact_text(text) == text


_REDACTOR = Redactor()


@pytest.mark.parametrize("syntax", SYNTAXES)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=sensitive_keys(), secret=secrets)
def test_every_syntax_is_hidden_on_every_output(syntax: str, key: str, secret: str) -> None:
    """Each syntax as a message, a field value, an exception message, and as a
    structured field (the key itself, nested, and as pairs)."""
    text = _render(syntax, key, secret)
    with capture_events(level="debug") as captured:
        op = opslog.new_operation_logger("job-keys").start_operation("configure")
        op.log_step("apply", text, {"line": text, key: secret})
        op.log_step("apply", "nested", {"outer": {key: secret}, "pairs": [(key, secret)]})
        op.log_error("apply", "failed", RuntimeError(text))
        op.end_operation()
    for output, written in five_outputs(captured).items():
        assert secret not in written, (output, key, syntax)
