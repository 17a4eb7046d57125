"""The bounds every search engine of kb keeps (refused or capped beyond), the record of a
bound applied, and a search's deadline: what the API and pages document and say."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask_babel import gettext as _

from kb.errors import SearchTimeout

# Characters of a query (refused beyond): a pasted paragraph fits (the longest CISI
# query, 2,119 characters, is searched whole by bench/relevance.py).
MAX_QUERY_CHARS = 4_000
# Distinct plain words searched (capped: the first ones are kept).
MAX_WORDS = 200
# Words, phrases' words, prefixes... of a query-language query (refused beyond).
MAX_CLAUSES = 64
# Fuzzy words of one query (refused beyond): each reads the index's words along an
# automaton, about 1-3 ms per field and segment on 2,000 documents.
MAX_FUZZY_WORDS = 8
# Unknown words "did you mean" looks for corrections of (beyond, it offers none).
MAX_CORRECTED_WORDS = 8
# Parentheses inside parentheses (refused beyond).
MAX_DEPTH = 8
# Edit distance of word~N (capped): each step multiplies the words a fuzzy word matches.
MAX_EDIT_DISTANCE = 2
# Index words that the prefixes, wildcards and fuzzy words of one query may stand
# for, counted in every field and language they are looked for in (refused beyond).
MAX_EXPANSIONS = 1_000
# Letters before the first * or ? of a pattern (refused below): "*tion" reads every word.
MIN_PATTERN_CHARS = 2
# Letters of a fuzzy, prefix or wildcard word (refused beyond).
MAX_PATTERN_CHARS = 50
# Results per page (refused beyond), and how deep pages may go (refused beyond).
MAX_PER_PAGE = 100
MAX_RESULTS = 10_000
# Years a filter or a year_from/year_to may name (refused outside).
MIN_YEAR, MAX_YEAR = 0, 9999

# How often the loops of a search look at the clock (every so many items).
CHECK_EVERY = 1024


@dataclass(frozen=True)
class Cap:
    """A bound that was applied: the value asked for and the value searched with."""

    bound: str
    asked: int
    applied: int


class Deadline:
    """The moment a search must stop by; ``check`` raises SearchTimeout past it."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        """Raise SearchTimeout once the deadline has passed."""
        if self.at is not None and time.monotonic() > self.at:
            raise SearchTimeout(_(
                "The search was stopped after %(seconds)s s (the search time limit). "
                "Try fewer words, longer prefixes or a smaller edit distance, or try again "
                "in a moment.", seconds=f"{self.seconds:g}"))


NO_DEADLINE = Deadline(None)
