"""One search for whether, and where, any of many literal strings occurs.

The redaction gates and the credential-format scanner ask it of every text.
It is a regular expression made only of literals, shaped as a tree of their
shared prefixes (the engine tries one branch per character instead of every
literal), so its cost is linear in the text whatever the text holds.

A compiled automaton (``pyahocorasick``, ``ahocorasick-rs``) is faster on long
texts, but neither ships wheels for CPython 3.9, which opslog supports; on the
short texts a log call carries, the difference is under a microsecond.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["literal_finder"]


def literal_finder(literals: Iterable[str]) -> re.Pattern[str]:
    """A pattern whose ``search`` finds the first place any of ``literals``
    starts. A literal that another one begins with is left out (finding the
    shorter suffices: the caller looks at what follows), so a match is the
    shortest literal at its place. No literals: a pattern that never matches."""
    words = sorted(set(literals))
    if "" in words:
        return re.compile("")  # an empty literal occurs everywhere
    kept = [w for w in words if not any(w != o and w.startswith(o) for o in words)]

    def branch(suffixes: list[str]) -> str:
        if suffixes == [""]:
            return ""  # a word ends here (prefix-free: no other goes on)
        by_first: dict[str, list[str]] = {}
        for suffix in suffixes:
            by_first.setdefault(suffix[0], []).append(suffix[1:])
        alternatives = [re.escape(c) + branch(rest) for c, rest in sorted(by_first.items())]
        return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"

    return re.compile(branch(kept) if kept else "(?!)")
