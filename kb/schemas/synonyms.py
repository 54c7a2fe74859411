"""The synonym list (``kb.services.synonyms``): what the API takes and answers, and the 400 a
line breaking a rule of ``kb.search.synonyms`` becomes, naming the line in the caller's language."""

from __future__ import annotations

from kb.errors import BadRequest
from kb.locales import N_, translate
from kb.schemas.base import Answer, Body, in_language, text
from kb.schemas.documents import Message
from kb.search.synonyms import MAX_BYTES, SINGLE_TERM, TERM_TOO_LONG, TOO_LARGE, TOO_MANY_GROUPS, SynonymError

Groups = list[list[str]]

# the message of each rule a line can break (``SynonymError.reason``)
_MESSAGES = {
    TERM_TOO_LONG: N_("Line %(line)s: the term “%(term)s” is longer than %(limit)s characters."),
    SINGLE_TERM: N_("Line %(line)s: “%(term)s” has no synonym; a group needs at least two different terms."),
    TOO_MANY_GROUPS: N_("Line %(line)s: the list holds more than %(limit)s groups."),
    TOO_LARGE: N_("Line %(line)s: the list is larger than %(limit)s KiB."),
}


class SynonymsWrite(Body):
    """``PUT /synonyms``: the whole list (one group per line) and why it changed."""

    text: text(MAX_BYTES)  # type: ignore[valid-type]
    message: Message | None = None  # type: ignore[valid-type]


class SynonymsOut(Answer):
    text: str
    groups: Groups
    revision: str | None = None


class SynonymsSaved(Answer):
    revision: str
    groups: Groups


def message(error: SynonymError, language: str) -> str:
    """The rule ``error`` broke, naming its line, in ``language``."""
    term = error.term if len(error.term) <= 20 else error.term[:20] + "…"
    return translate(_MESSAGES[error.reason], language, line=error.line, term=term, limit=error.limit)


def refusal(error: SynonymError, language: str) -> BadRequest:
    """The 400 for a list breaking a rule: the field ``text`` and its ``line``, in ``language``
    (``zh``: Chinese with the English after it, as every kb API message)."""
    return BadRequest(in_language(message(error, "zh"), message(error, "en"), language), field="text", line=error.line)
