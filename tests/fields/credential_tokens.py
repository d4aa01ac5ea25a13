"""Tokens of the credential-format table, generated from its rows (hypothesis).

The table is read when a strategy is drawn, so an entry added at run time is
generated like the built-in ones."""

from __future__ import annotations

from hypothesis import strategies as st

from opslog.fields import credential_formats
from opslog.fields.credential_formats import CredentialFormat


def token_of(form: CredentialFormat) -> st.SearchStrategy[str]:
    """A token of ``form``: its prefix and a body its grammar allows."""
    return st.from_regex(form.body, fullmatch=True).map(lambda body: form.prefix + body)


def tokens() -> st.SearchStrategy[str]:
    """A token of any format in the table."""
    return st.deferred(
        lambda: st.sampled_from(credential_formats.CREDENTIAL_FORMATS).flatmap(token_of)
    )
