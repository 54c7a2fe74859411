"""Synonyms at query time: ``网卡`` also finds ``网络适配器``, ``DC`` also ``域控制器``.

The admins' list (``kb.search.synonyms`` parses it; the services keep it in git) is a list of
groups of equivalent words or phrases. Each member is analysed as queries are (stems for
English, jieba words for Chinese) into a tuple of index terms. A query's concept whose word is
a one-term member gains every other member of its groups as an alternative; a member of
several terms found among the query's consecutive concepts replaces them by one concept with
the alternatives. Nothing is indexed differently, so an edit to the list applies to the next
search, and matching still happens inside the caller's visibility mask: a synonym can find
only documents the caller may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from kb.search import analysis, stopwords

Terms = tuple[str, ...]
# an alternative's occurrence against the word the user typed: close, not quite the same
SYNONYM_WEIGHT = 0.8


def member_terms(text: str) -> Terms:
    """The index terms of one member (``重新启动`` -> ``重新``, ``启动``; ``Restarting`` ->
    ``restart``), stop words left out unless nothing else is left."""
    terms: list[str] = []
    for tok in analysis.query_tokens(text):
        terms.extend(tok.words if tok.kind == "cjk" else tok.words[:1])
    content = [t for t in terms if not stopwords.is_stop(t)]
    return tuple(content or terms)


@dataclass(frozen=True)
class Thesaurus:
    """Groups of members as index-term tuples, indexed by member."""

    groups: tuple[tuple[Terms, ...], ...]
    by_member: dict[Terms, tuple[int, ...]]
    texts: dict[Terms, str]  # a member's terms -> the member as written (for snippets)
    longest: int

    def alternatives(self, member: Terms) -> dict[Terms, float]:
        """The other members of every group holding ``member``, with their weight."""
        out: dict[Terms, float] = {}
        for g in self.by_member.get(member, ()):
            for other in self.groups[g]:
                if other != member:
                    out.setdefault(other, SYNONYM_WEIGHT)
        return out


@lru_cache(maxsize=8)
def _compiled(groups: tuple[tuple[str, ...], ...]) -> Thesaurus:
    compiled: list[tuple[Terms, ...]] = []
    by_member: dict[Terms, list[int]] = {}
    texts: dict[Terms, str] = {}
    for group in groups:
        written: dict[Terms, str] = {}
        for text in group:
            terms = member_terms(text)
            if terms:
                written.setdefault(terms, text)
        if len(written) < 2:
            continue
        members = tuple(written)
        for member, text in written.items():
            texts.setdefault(member, text)
        for member in members:
            by_member.setdefault(member, []).append(len(compiled))
        compiled.append(members)
    return Thesaurus(
        tuple(compiled), {k: tuple(v) for k, v in by_member.items()}, texts, max((len(m) for m in by_member), default=0)
    )


def compile_groups(groups: Sequence[Sequence[str]]) -> Thesaurus | None:
    """The thesaurus of ``groups`` (cached: the list changes rarely, searches are many)."""
    key = tuple(tuple(g) for g in groups)
    return _compiled(key) if key else None
