"""The synonym list's text format and its parser (no Flask, no git: the services store it).

Support staff type 网卡 where documents say 网络适配器, and DC where they say 域控制器. An
administrator keeps the equivalences in a plain text file, one group per line, so it reads and
diffs well in git::

    # network
    网卡 = 网络适配器 = NIC
    删掉, 删除，移除

Terms are separated by ``=``, ``,`` or the full-width ``，`` (people typing Chinese seldom switch
the input method for a comma); ``#`` starts a comment; blank lines are ignored. Terms are
NFKC-normalised (full-width letters and digits become the ones the analyzer indexes) and
stripped; a term repeated in its group counts once.

Limits keep a search's expansion cheap and a mistake (a pasted document) visible: a term of at
most ``MAX_TERM`` characters, at most ``MAX_GROUPS`` groups, at most ``MAX_BYTES`` of text. A
line breaking a rule is refused with its number (``SynonymError``), never silently skipped, so
the administrator fixes it where it was typed.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TERM = 64
MAX_GROUPS = 2000
MAX_BYTES = 256 * 1024

_SEPARATORS = re.compile(r"[=,，]")

# why a line was refused (``SynonymError.reason``): stable codes the UI translates
TERM_TOO_LONG = "term_too_long"
SINGLE_TERM = "single_term"
TOO_MANY_GROUPS = "too_many_groups"
TOO_LARGE = "too_large"


class SynonymError(ValueError):
    """A line of the list that breaks a rule: ``line`` (1-based), ``reason`` (one of the codes
    above, for a translated message), ``term`` (the offending term, when there is one) and
    ``limit`` (the rule's number); ``str()`` is the English message."""

    def __init__(self, line: int, reason: str, message: str, *, term: str = "", limit: int = 0) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = reason
        self.term = term
        self.limit = limit


def parse(text: str) -> list[list[str]]:
    """The groups of equivalent terms in ``text``, in the order written, each term once.

    Raises SynonymError for the first line breaking a rule (see the module docstring).
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        head = text.encode("utf-8", "surrogatepass")[:MAX_BYTES].decode("utf-8", "ignore")
        raise SynonymError(
            head.count("\n") + 1, TOO_LARGE, f"the list is larger than {MAX_BYTES // 1024} KiB", limit=MAX_BYTES // 1024
        )
    groups: list[list[str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        group = _group(number, unicodedata.normalize("NFKC", raw).split("#", 1)[0])
        if group is None:
            continue
        if len(groups) == MAX_GROUPS:
            raise SynonymError(
                number, TOO_MANY_GROUPS, f"the list holds more than {MAX_GROUPS} groups", limit=MAX_GROUPS
            )
        groups.append(group)
    return groups


def _group(number: int, line: str) -> list[str] | None:
    """The terms of one (normalised) line without its comment; None for a line with nothing on it."""
    terms: list[str] = []
    for part in _SEPARATORS.split(line):
        term = " ".join(part.split())  # inner runs of spaces count as one, as the analyzer reads them
        if len(term) > MAX_TERM:
            raise SynonymError(
                number,
                TERM_TOO_LONG,
                f"the term {term[:20]!r}… is longer than {MAX_TERM} characters",
                term=term,
                limit=MAX_TERM,
            )
        if term and term not in terms:
            terms.append(term)
    if not terms:
        return None
    if len(terms) < 2:
        raise SynonymError(number, SINGLE_TERM, "a group needs at least two different terms", term=terms[0])
    return terms
