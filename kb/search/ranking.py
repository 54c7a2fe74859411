"""Ranking for what people type: weighted terms, soft matching, proximity.

A question (``怎么用命令行删除性能监视器里已经建好的数据收集器``, ``how do I cap how much a
Starter instance can cost me each month``) names its topic with a few rare words among many
common ones. Requiring every word finds long overview pages that happen to hold them all, or
nothing; giving every word the same say lets ``how`` and ``怎么`` decide. Here instead:

* The query's **concepts** are its content words (stop and question words left out, see
  ``stopwords``), each with its synonyms (``synonyms``) as alternatives, each weighted by how
  rare it is (IDF). A long query keeps its ``MAX_CONCEPTS`` rarest concepts, wherever they stand.
* Each concept scores by **BM25F** over the title, headings, tags/path and body: term
  frequencies are length-normalised per field, weighted by field, summed, then saturated once,
  so a word in the title and the body is not counted as two independent words.
* **Soft matching**: a few words (a title, a phrase, keywords) must all be there, as people
  expect when they check a search; a sentence needs only a share of its weight (``min_share``),
  and the score favours documents holding more of it.
* **Proximity**: among the best candidates, concepts that stand together in a document as they
  do in the query (next to each other, or within a few words) score again, and the query's
  own word sequence found verbatim scores most (what a user copies from a page they remember).

Scores are computed with numpy over whole posting lists: one vector operation per term and
field instead of a Python loop per posting (a question of 15 words at 5,000 documents touches
most of the index).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from kb.search import analysis, stopwords
from kb.search.engine import B_DEFAULT, B_FIELD, Context, Phrase
from kb.search.thesaurus import Terms, Thesaurus

MAX_CONCEPTS = 32
# Word fields and their weights in BM25F (the share of a term occurrence there against the body).
FIELD_WEIGHTS: dict[str, float] = {"title": 3.0, "headings": 3.0, "meta": 2.0, "body": 1.0}
K1 = 2.0
RERANK = 40  # candidates examined for proximity (100 ranked no better, at twice the cost)
MAX_VERBATIM = 16  # terms (words, character pairs) of a run worth looking for as written
NEAR = 4  # positions apart that still count as "together"


@dataclass(frozen=True)
class Tuning:
    """The constants of ranking, in one place so the quality bench can vary them."""

    fields: tuple[tuple[str, float], ...] = tuple(FIELD_WEIGHTS.items())
    k1: float = K1
    min_share: float = 0.2  # of the query's weight, for a query of sentence length
    coord: float = 0.0  # score x share**coord: holding more of the query counts beyond BM25F
    pair_adjacent: float = 0.3  # x the pair's smaller IDF, words side by side in query order
    pair_near: float = 0.15  # within NEAR positions
    verbatim: float = 2.0  # x the sum of the run's IDF, the query's own words in a row
    dense: float = 0.5  # share of the meaning similarity in the blended score
    dense_k: int = 20  # documents closest in meaning added to the candidates
    verbose: tuple[int, int] = (5, 10)  # words from which meaning starts to count, and fully counts


TUNING = Tuning()


@dataclass
class Concept:
    """One thing the query is about: alternative index terms (the word, its synonyms)."""

    terms: dict[Terms, float]  # alternative (its index terms, all present) -> weight of an occurrence
    order: int = 0  # position among the query's words, for proximity
    idf: float = 0.0
    text: str = ""  # as the user wrote it (normalised)
    synonyms: list[str] = field(default_factory=list)  # its synonyms, as the list writes them

    @property
    def words(self) -> list[str]:
        """The one-term alternatives: those whose positions proximity can compare."""
        return [alt[0] for alt in self.terms if len(alt) == 1]


@dataclass
class Plan:
    """What is ranked: the concepts, and the runs of words to find verbatim."""

    concepts: list[Concept] = field(default_factory=list)
    sequences: list[list[str]] = field(default_factory=list)  # English word-field terms in a row
    cjk_runs: list[str] = field(default_factory=list)  # Chinese runs of two characters or more
    words: int = 0  # every word of the query, stop words included: how verbose it is
    units: int = 1  # pieces the user separated (by spaces): several may be matched apart
    synonyms: list[str] = field(default_factory=list)  # the alternatives used, as written

    def verbosity(self, tuning: Tuning) -> float:
        """0 for a few keywords or a title, rising to 1 for a sentence: how much of the ranking
        the meaning of the query should decide (a title or a phrase is matched by its words)."""
        lo, hi = tuning.verbose
        return min(1.0, max(0.0, (self.words - lo) / (hi - lo)))


def plan(
    tokens: Sequence[analysis.QueryToken],
    thesaurus: Thesaurus | None = None,
    camel: dict[str, list[str]] | None = None,
    units: int = 1,
) -> Plan:
    """The concepts and verbatim runs of a query's tokens (in query order).

    ``thesaurus`` supplies synonyms (query-time only); ``camel`` maps a token written in
    CamelCase (lower-cased, as tokens are) to its parts; ``units`` is how many pieces the user
    separated by spaces.
    """
    out = Plan(units=units)
    seen: dict[str, Concept] = {}
    sequence: list[str] = []
    order = 0

    def add(term: str, text: str) -> None:
        nonlocal order
        if term in seen:
            return
        concept = seen[term] = Concept({(term,): 1.0}, order, text=text)
        out.concepts.append(concept)
        order += 1

    def flush() -> None:
        if len(sequence) > 1:
            out.sequences.append(list(sequence))
        sequence.clear()

    for tok in tokens:
        out.words += len(tok.words) if tok.kind == "cjk" else 1
        if tok.kind == "cjk":
            flush()
            if len(tok.words) > 1:  # a run of one word is that word, scored already
                out.cjk_runs.append(tok.text)
            for word in tok.words:
                if not stopwords.is_stop(word):
                    add(word, word)
                else:
                    order += 1
            continue
        whole = tok.words[0]
        sequence.extend(tok.words if len(tok.words) == 1 else tok.words[1:])
        if stopwords.is_stop(tok.text):
            order += 1
            continue
        add(whole, tok.text)
        parts = tok.words[1:] if len(tok.words) > 1 else [analysis.stem(p) for p in (camel or {}).get(tok.text, [])]
        if parts:  # written whole, or as its parts (max_connections, max connections)
            seen[whole].terms.setdefault(tuple(parts), 1.0)
    flush()
    if thesaurus is not None:
        out.concepts = _with_synonyms(out.concepts, thesaurus, out)
    return out


def _with_synonyms(concepts: list[Concept], thesaurus: Thesaurus, out: Plan) -> list[Concept]:
    """Concepts gaining their synonyms; a phrase member among consecutive concepts (``网络``
    ``适配器``) becomes one concept (``网络适配器`` or ``网卡``)."""
    result: list[Concept] = []
    i = 0
    while i < len(concepts):
        for size in range(min(thesaurus.longest, len(concepts) - i), 0, -1):
            member = tuple(c.words[0] for c in concepts[i : i + size])
            alternatives = thesaurus.alternatives(member)
            if alternatives:
                first = concepts[i]
                if size > 1:
                    run = concepts[i : i + size]
                    joint = "" if all(analysis.is_cjk(c.text) for c in run) else " "
                    first = Concept({member: 1.0}, first.order, text=joint.join(c.text for c in run))
                for alt, w in alternatives.items():
                    first.terms.setdefault(alt, w)
                    first.synonyms.append(thesaurus.texts[alt])
                    out.synonyms.append(thesaurus.texts[alt])
                result.append(first)
                i += size
                break
        else:
            result.append(concepts[i])
            i += 1
    return result


def related(query: Plan, limit: int = 3) -> list[str]:
    """Other searches worth a try: a long question cut to its key words (its rarest concepts,
    in the order written), and those words with a synonym in place of one of them.

    Built from the query and the synonym list alone, never from documents, so they cannot
    tell anyone about a document they may not see. Call after ``score`` (it sets the IDFs).
    """
    ranked = sorted((c for c in query.concepts if c.idf), key=lambda c: -c.idf)
    key = sorted(ranked[:3], key=lambda c: c.order)
    if not key:
        return []

    def joined(texts: list[str]) -> str:
        out = texts[0]
        for text in texts[1:]:
            out += text if analysis.is_cjk(out[-1]) and analysis.is_cjk(text[0]) else " " + text
        return out

    found: list[str] = []
    if len(query.concepts) > len(key):
        found.append(joined([c.text for c in key]))
    for i, concept in enumerate(key):
        for alt in concept.synonyms:
            found.append(joined([alt if j == i else c.text for j, c in enumerate(key)]))
    return list(dict.fromkeys(found))[:limit]


def camel_words(texts: Sequence[str]) -> dict[str, list[str]]:
    """The CamelCase words of ``texts`` as written (``WorkloadManagement``, ``ResourceGroupName``),
    lower-cased, each with its parts (``workload``, ``management``)."""
    out: dict[str, list[str]] = {}
    for word in _WORD.findall(" ".join(texts)):
        if word.islower() or word.isupper():
            continue
        parts = _CAMEL.findall(word)
        # every part a word of its own: TiDB, MySQL and iPhone are names, not compounds
        if len(parts) > 1 and all(len(p) > 2 for p in parts):
            out[word.lower()] = [p.lower() for p in parts]
    return out


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


class Arrays:
    """Per-snapshot numpy views: field lengths and their averages, the visibility mask."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.n = ctx.doc_count

    def norm(self, name: str, b: float) -> np.ndarray:
        """1 - b + b * length / average length, per document."""
        key = f"np-norm:{name}:{b}"
        found = self.ctx._cache.get(key)
        if found is None:
            lengths = np.asarray(self.ctx.lengths(name), dtype=np.float32)
            found = (1 - b) + b * lengths / np.float32(self.ctx.avg_length(name))
            self.ctx._cache[key] = found
        return found

    def mask(self, mask: frozenset[int]) -> np.ndarray:
        key = "np-mask"
        entry = self.ctx._cache.get(key)
        if entry is not None and entry[0] is mask:
            cached: np.ndarray = entry[1]
            return cached
        arr = np.zeros(self.n, dtype=bool)
        if mask:
            arr[np.fromiter(mask, dtype=np.int64, count=len(mask))] = True
        self.ctx._cache[key] = (mask, arr)
        return arr


def _ids(ctx: Context, name: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    p = ctx.postings(name, term)
    if not p.ids:
        return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.float32)
    return np.frombuffer(p.ids, dtype=np.uint32), np.frombuffer(p.weights, dtype=np.float32)


def _alternative(ctx: Context, name: str, alt: Terms, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(docnums, frequency) of one alternative in a field; for several terms, the documents
    holding all of them, each counted by its rarest term's frequency there."""
    if len(alt) == 1:
        return _ids(ctx, name, alt[0])
    least: np.ndarray | None = None
    for term in alt:
        ids, weights = _ids(ctx, name, term)
        tf = np.zeros(n, dtype=np.float32)
        tf[ids] = weights
        least = tf if least is None else np.minimum(least, tf)
    assert least is not None
    ids = np.flatnonzero(least).astype(np.uint32)
    return ids, least[ids]


def score(
    ctx: Context,
    query: Plan,
    mask: frozenset[int],
    k: int,
    tuning: Tuning | None = None,
    similarity: Callable[[], np.ndarray] | None = None,
) -> tuple[int, list[tuple[float, int]]]:
    """(total, best ``k`` as (score, docnum)) of the plan's concepts within ``mask``.

    ``similarity()`` (per docnum, the cosine of the query's and the document's meaning vectors,
    NaN where a document has none yet; called once the words are scored) adds the documents
    closest in meaning to the candidates and blends into their score.
    """
    tuning = tuning or TUNING
    if not mask or not (query.concepts or query.cjk_runs or query.sequences):
        return 0, []
    arrays = Arrays(ctx)
    n = arrays.n
    visible = arrays.mask(mask)
    scored: list[tuple[Concept, np.ndarray]] = []
    for concept in query.concepts:
        tf = np.zeros(n, dtype=np.float32)
        present = np.zeros(n, dtype=bool)
        for name, fw in tuning.fields:
            norm = arrays.norm(name, B_FIELD.get(name, B_DEFAULT))
            for alt, tw in concept.terms.items():
                ids, weights = _alternative(ctx, name, alt, n)
                if len(ids):
                    tf[ids] += (fw * tw) * weights / norm[ids]
                    present[ids] = True
        df = int(np.count_nonzero(present))
        if not df:
            continue
        concept.idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        scored.append((concept, tf))
    verbosity = query.verbosity(tuning)
    if not scored and similarity is None and verbosity == 1:
        return 0, []  # (a shorter query may still be found as written, below)
    scored.sort(key=lambda item: -item[0].idf)
    scored = scored[:MAX_CONCEPTS]
    # in a few words, one that no document holds counts as the rarest (they are not answered
    # by the documents holding the others); a sentence is allowed words the documents lack
    absent = math.log(1 + (n + 0.5) / 0.5) * (1 - verbosity)
    total_weight = sum(c.idf or absent for c in query.concepts) or 1.0
    bm25 = np.zeros(n, dtype=np.float32)
    share = np.zeros(n, dtype=np.float32)
    k1 = tuning.k1
    for concept, tf in scored:
        held = tf > 0
        bm25[held] += concept.idf * (k1 + 1) * tf[held] / (k1 + tf[held])
        share[held] += concept.idf / total_weight
    share[~visible] = 0
    # a few words must all be there (a title, a phrase, keywords: what people check a search
    # by); a sentence needs only a share of its weight, down to ``min_share``
    need = 1.0 if len(query.concepts) <= 2 else 1.0 - verbosity * (1.0 - tuning.min_share)
    matched = share >= need - 1e-6
    if not matched.any() and (verbosity or query.units > 1):
        matched = share > 0  # nothing holds it all: whatever holds some of it
    verbatim: list[int] = []
    if verbosity < 1:
        # a phrase someone remembers matches as written, even cut in the middle of a word, and
        # its page may rank low on the words alone (they are common)
        verbatim = _verbatim_docs(ctx, query, mask)
        matched[verbatim] = True
    final = np.where(matched, bm25 * np.power(share, tuning.coord), 0).astype(np.float32)
    candidates = _top(final, matched, max(k, RERANK))
    chosen = set(candidates)
    candidates += [d for d in verbatim if d not in chosen]
    bonus = _proximity(ctx, query, scored, candidates, tuning)
    near: list[int] = []
    dense = tuning.dense * verbosity if similarity is not None else 0.0
    sims = similarity() if similarity is not None and dense else None
    if sims is not None:
        close = visible & ~np.isnan(sims)
        near = [d for d in _top(np.nan_to_num(sims, nan=-1.0), close, tuning.dense_k) if not matched[d]]
        if near:
            candidates += near
            bonus.update(_proximity(ctx, query, scored, near, tuning))
    total = int(np.count_nonzero(matched)) + len(near)
    if not total or not k:
        return total, []
    lexical = {d: float(final[d]) + bonus.get(d, 0.0) for d in candidates}
    if sims is not None:
        lexical = _blend(lexical, sims, dense)
    ts = ctx.timestamps()
    best = sorted(((s, d) for d, s in lexical.items()), key=lambda item: (item[0], ts[item[1]], -item[1]), reverse=True)
    return total, best[:k]


def _blend(lexical: dict[int, float], similarity: np.ndarray, weight: float) -> dict[int, float]:
    """(1 - weight) x lexical score + weight x similarity, each scaled to [0, 1] over the
    candidates (a document without a vector counts as the least similar)."""
    top = max(lexical.values()) or 1.0
    sims = {d: float(similarity[d]) for d in lexical}
    known = [v for v in sims.values() if not math.isnan(v)]
    if not known:
        return lexical
    lo, hi = min(known), max(known)
    span = (hi - lo) or 1.0
    return {
        d: (1 - weight) * s / top + weight * ((sims[d] - lo) / span if not math.isnan(sims[d]) else 0.0)
        for d, s in lexical.items()
    }


def _top(values: np.ndarray, matched: np.ndarray, count: int) -> list[int]:
    ids = np.flatnonzero(matched)
    if len(ids) > count:
        part = np.argpartition(-values[ids], count - 1)[:count]
        ids = ids[part]
    return [int(d) for d in ids]


def _proximity(
    ctx: Context, query: Plan, scored: list[tuple[Concept, np.ndarray]], docs: list[int], tuning: Tuning
) -> dict[int, float]:
    """Bonuses for concepts standing together, and for the query's runs found verbatim."""
    bonus: dict[int, float] = dict.fromkeys(docs, 0.0)
    if not docs:
        return bonus
    wanted = frozenset(docs)
    ordered = sorted((c for c, _ in scored), key=lambda c: c.order)
    decoded: dict[tuple[int, str], dict[int, list[int]]] = {}  # each concept's, once per field

    def positions(concept: Concept, name: str) -> dict[int, list[int]]:
        key = (id(concept), name)
        found = decoded.get(key)
        if found is None:
            found = decoded[key] = _positions(ctx, name, concept, wanted)
        return found

    for a, b in itertools.pairwise(ordered):
        weight = min(a.idf, b.idf)
        for name in ("title", "body"):
            pa = positions(a, name)
            pb = positions(b, name)
            for d in pa.keys() & pb.keys():
                gap = _min_gap(pa[d], pb[d])
                if gap == 1:
                    bonus[d] += tuning.pair_adjacent * weight
                elif gap <= NEAR:
                    bonus[d] += tuning.pair_near * weight
    runs = [
        (("title_bg", "body_bg"), analysis.bigrams(run), [c for c in ordered if any(t in run for t in c.words)])
        for run in query.cjk_runs
    ]
    runs += [
        (("title", "body"), seq, [c for c in ordered if any(t in seq for t in c.words)]) for seq in query.sequences
    ]
    for (title, body), words, inside in runs:
        if len(words) > MAX_VERBATIM:
            continue  # a whole clause is never found as written; its words have scored
        idf = sum(c.idf for c in inside)
        for name, fw in ((title, 2.0), (body, 1.0)):
            for d in Phrase(name, words)._ids(ctx, wanted):
                bonus[d] += tuning.verbatim * idf * fw
    return bonus


def _verbatim_docs(ctx: Context, query: Plan, mask: frozenset[int]) -> list[int]:
    """Documents holding one of the query's runs of words verbatim, anywhere in ``mask``."""
    found: set[int] = set()
    for name, words in [
        *(("body", seq) for seq in query.sequences),
        *(("body_bg", analysis.bigrams(run)) for run in query.cjk_runs),
    ]:
        found |= Phrase(name, words)._ids(ctx, mask)
    return sorted(found)


def _positions(ctx: Context, name: str, concept: Concept, docs: frozenset[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for term in concept.words:
        p = ctx.postings(name, term)
        if not p.ids or p.values is None:
            continue
        for d in docs:
            if p.find(d) >= 0:
                out.setdefault(d, []).extend(p.positions(d))
    if len(concept.words) > 1:
        for positions in out.values():
            positions.sort()
    return out


def _min_gap(xs: list[int], ys: list[int]) -> int:
    """The smallest distance between a position in ``xs`` and one in ``ys`` (both sorted)."""
    i = j = 0
    best = 1 << 30
    while i < len(xs) and j < len(ys):
        best = min(best, abs(xs[i] - ys[j]))
        if xs[i] < ys[j]:
            i += 1
        else:
            j += 1
    return best
