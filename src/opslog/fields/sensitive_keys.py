"""Which keys name a secret: one vocabulary, for field names and for keys written in text.

A key is read as words: invisible characters dropped, camelCase split, any
run of other characters a separator, lower case (``clientSecret`` is
``client secret``, ``X-Amz-Security-Token`` is ``x amz security token``). It
is **sensitive**, as Sentry's scrubber decides, when

* its words joined contain a :data:`SENSITIVE_FRAGMENTS` entry (``password``,
  ``secret``, ``token``, ``auth``, ``session``, ``cookie``, and key words such
  as ``apikey``, ``privatekey``, ``accesskey``: so ``db_password``,
  ``api.key``, ``aws.access.key`` and ``AccountKey`` are), or
* one of its words is a :data:`SENSITIVE_WORDS` short form (``pwd``, ``pw``,
  ``pass``, ``sig``, ``otp``, ``pin``, ``cred``: whole words only, so
  ``signal`` and ``compass`` are not),

**unless** the same table says the key is harmless:

* a word of it is a :data:`HARMLESS_WORDS` entry, an ordinary word that only
  happens to contain a fragment (``author``, ``secretary``, ``tokenizer``);
  such a word is left out before the fragments are looked for, or
* a word of it is a :data:`METADATA_WORDS` entry: the key describes a secret
  without holding it (``token_count``, ``max_tokens``, ``session_count``,
  ``auth_provider``, ``password_policy``, ``secret_name``,
  ``password_changed_at``).

A key of three or more dotted parts is a namespace and a name: only its last
two parts are judged (``aws.access.key`` is ``access.key``; a logger's
``google.auth.transport.requests`` is ``transport.requests``).

The text rules of :mod:`opslog.fields.redaction` find a key next to a value
in text and ask this same question of the whole key, so a field and a
``key=value`` in a message are judged alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final

__all__ = [
    "HARMLESS_WORDS",
    "METADATA_WORDS",
    "SENSITIVE_FRAGMENTS",
    "SENSITIVE_WORDS",
    "KeyVocabulary",
    "normalise_key",
    "text_spellings",
]

#: Found anywhere in a key's words joined.
SENSITIVE_FRAGMENTS: Final = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "auth",
    "credential",
    "cookie",
    "session",
    "signature",
    "bearer",
    "jwt",
    "pwd",
    # Key words: a key that is a kind of key.
    "apikey",
    "accesskey",
    "privatekey",
    "secretkey",
    "signingkey",
    "masterkey",
    "encryptionkey",
    "accountkey",
    "clientkey",
    "sharedkey",
    "sessionkey",
    "licensekey",
    "deploykey",
    "sshkey",
    "webhookkey",
)

#: Short forms that count as a whole word of the key only.
SENSITIVE_WORDS: Final = ("pw", "pass", "sig", "otp", "pin", "cred", "creds", "dsn", "sas")

#: Ordinary words holding a fragment by chance; left out before fragments are looked for.
HARMLESS_WORDS: Final = frozenset(
    {
        "author",
        "authors",
        "authored",
        "authoring",
        "authorship",
        "authority",
        "authorities",
        "authenticated",
        "unauthenticated",
        "secretary",
        "secretaries",
        "secretariat",
        "tokenizer",
        "tokenizers",
        "tokenize",
        "tokenized",
        "tokenization",
        "detokenize",
        # Plurals count things far more often than they hold them
        # (``prompt_tokens``, ``active_sessions``).
        "tokens",
        "sessions",
    }
)

#: Words that make a key describe a secret rather than hold it.
METADATA_WORDS: Final = frozenset(
    {
        "count",
        "counts",
        "total",
        "num",
        "number",
        "max",
        "min",
        "limit",
        "limits",
        "length",
        "len",
        "size",
        "type",
        "types",
        "kind",
        "provider",
        "providers",
        "method",
        "methods",
        "mode",
        "scheme",
        "expires",
        "expiry",
        "expiration",
        "ttl",
        "timeout",
        "enabled",
        "disabled",
        "required",
        "url",
        "uri",
        "endpoint",
        "path",
        "file",
        "filename",
        "name",
        "format",
        "version",
        "usage",
        "used",
        "remaining",
        "rate",
        "status",
        "state",
        "policy",
        "rotation",
        "strength",
        "age",
        "label",
        "description",
        "field",
        "source",
        "location",
        "estimate",
        "budget",
        "cost",
        "consent",
        "duration",
        # When it happened: password_changed_at, token_created, secret_last_rotated.
        "at",
        "changed",
        "created",
        "updated",
        "rotated",
        "last",
    }
)

_KEY_CHARS_LIMIT = 256
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^0-9a-zA-Z]+")
_CACHE_SIZE = 4096


def normalise_key(key: str) -> tuple[str, tuple[str, ...]]:
    """``(joined, words)`` of a key: invisible characters dropped, camelCase
    split, any non-alphanumeric run a separator, lower case.

    ``"clientSecret"`` gives ``("clientsecret", ("client", "secret"))``.
    """
    key = key[:_KEY_CHARS_LIMIT]
    if not key.isascii():
        # Compatibility forms (full-width letters) become ASCII; format
        # characters (zero-width space, soft hyphen, BOM...) disappear.
        key = unicodedata.normalize("NFKC", key)
        key = "".join(c for c in key if unicodedata.category(c) != "Cf")
    words = tuple(w.lower() for w in _NON_ALNUM.split(_CAMEL.sub(" ", key)) if w)
    return "".join(words), words


def text_spellings(fragment: str) -> list[str]:
    """The words a fragment may be written as in text, where the key's
    separators are still there: ``password`` as ``pass``+``word``, a key word
    as its stem and ``key`` (``api_key``, ``access-key``)."""
    fragment = normalise_key(fragment)[0]
    if fragment.startswith("pass") and fragment not in ("pass", "passwd"):
        return ["pass", fragment[4:]]
    if fragment.endswith("key") and len(fragment) > 3:
        return [fragment[:-3], "key"]
    return [fragment]


def _contains_any(text: str, fragments: tuple[str, ...]) -> bool:
    return any(fragment in text for fragment in fragments)


class KeyVocabulary:
    """The sensitive-key decision for one configuration: the tables above plus
    the user's ``redact_keys`` (more fragments) and ``allow_keys`` (keys never
    sensitive). Answers are remembered (field names repeat endlessly)."""

    def __init__(self, extra_fragments: Iterable[str] = (), allow_keys: Iterable[str] = ()):
        fragments = [normalise_key(f)[0] for f in (*SENSITIVE_FRAGMENTS, *extra_fragments)]
        #: Every fragment, normalised (``api_key`` is ``apikey``).
        self.fragments: tuple[str, ...] = tuple(dict.fromkeys(f for f in fragments if f))
        self.words: frozenset[str] = frozenset(SENSITIVE_WORDS)
        self.allow_keys: frozenset[str] = frozenset(normalise_key(k)[0] for k in allow_keys)
        self._cache: dict[str, bool] = {}

    def is_sensitive(self, key: str) -> bool:
        """True when values under ``key`` must be replaced whole."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if key.count(".") >= 2:
            # A namespace, then a name (google.auth.transport.requests,
            # vault.secret.data.password): the last two parts say what it holds.
            key = ".".join(key.rsplit(".", 2)[-2:])
        joined, words = normalise_key(key)
        kept = "".join(w for w in words if w not in HARMLESS_WORDS)
        sensitive = (
            joined not in self.allow_keys
            and METADATA_WORDS.isdisjoint(words)
            and (not self.words.isdisjoint(words) or _contains_any(kept, self.fragments))
        )
        if len(self._cache) >= _CACHE_SIZE:
            self._cache = {}
        self._cache[key] = sensitive
        return sensitive
