"""Search quality on corpora with known answers: hit@1, hit@10, MRR@10 and latency per set.

    .venv/bin/python bench/search_quality.py [CORPUS_ROOT] [--index-cache DIR] [--misses]

CORPUS_ROOT defaults to ``../shared/corpus`` beside the repository. Every query set there is
measured: ``<name>.queries.jsonl`` (known items: titles, phrases, keywords) and
``<name>.questions.jsonl`` (natural questions), each against the corpus folder ``<name>``
(JSON lines: query, expect, lang, kind). CORPUS_ROOT may also be one corpus folder, with
``--queries FILE`` naming its query file.

Latency is in-process (``SearchIndex.search`` with snippets, after one warm-up pass); over HTTP
add the app's overhead (``search_http.py``). The meaning vectors (``kb.search.semantic``) are
computed before measuring, and the time they took is printed; ``--words-only`` measures
without them. ``--index-cache DIR`` keeps each corpus's built
index in DIR and reuses it while the corpus and kb's analysis are unchanged, for fast tuning
loops (delete DIR after changing the analysis or schema).

The searcher is a plain function ``query -> [paths]``, so the same measurement runs over HTTP.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._corpus import Query, default_corpus_root, load_docs, load_queries
from kb.search import SearchIndex

K = 10
_REPLICA = re.compile(r"^dup\d+/")
SearchFn = Callable[[str], list[str]]
SET_KINDS = ("queries", "questions")


def local_search(index: SearchIndex) -> SearchFn:
    def run(q: str) -> list[str]:
        result = index.search(q, access_levels={"public", "internal"}, statuses={"published"}, limit=K)
        return [h.path for h in result.hits]

    return run


def evaluate(search: SearchFn, queries: list[Query]) -> tuple[dict, list[tuple[Query, int | None, list[str]]]]:
    """Per (lang, kind) group: [count, hits@K, reciprocal-rank sum, hits@1]; plus every query's rank."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
    ranks = []
    for item in queries:
        # A replica (dupN/...) of the expected document counts as finding it.
        paths = list(dict.fromkeys(_REPLICA.sub("", p) for p in search(item.query)))[:K]
        rank = paths.index(item.expect) + 1 if item.expect in paths else None
        ranks.append((item, rank, paths))
        for key in ((item.lang, "*"), ("*", item.kind), (item.lang, item.kind), ("*", "*")):
            g = groups[key]
            g[0] += 1
            if rank:
                g[1] += 1
                g[2] += 1 / rank
                g[3] += rank == 1
    return groups, ranks


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{platform.platform()} | Python {platform.python_version()} | {os.cpu_count()} CPUs | {cpu}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


@dataclass
class QuerySet:
    corpus: Path
    file: Path

    @property
    def name(self) -> str:
        return self.file.name.removesuffix(".jsonl").removeprefix(self.corpus.name + ".")


def query_sets(root: Path, queries: Path | None) -> list[QuerySet]:
    """Every (corpus, query file) pair under ``root``, or ``root`` itself with ``queries``."""
    if queries is not None:
        return [QuerySet(root, queries)]
    found = []
    for file in sorted(root.glob("*.jsonl")):
        name, _, kind = file.name.removesuffix(".jsonl").rpartition(".")
        if kind in SET_KINDS and (root / name).is_dir():
            found.append(QuerySet(root / name, file))
    if not found and root.is_dir():  # a corpus folder given alone: its sets lie beside it
        return [QuerySet(root, f) for kind in SET_KINDS if (f := root.with_name(f"{root.name}.{kind}.jsonl")).exists()]
    return found


def open_index(corpus: Path, cache: Path | None, tmp: Path, semantic: bool) -> tuple[SearchIndex, str]:
    """The corpus's index (built, or reused from ``cache``) with its meaning vectors computed
    (``semantic``), and a line saying what that took."""
    docs = load_docs(corpus)
    size_mb = sum(len(d.body.encode()) + len(d.title.encode()) for d in docs) / 1e6
    where = (cache or tmp) / corpus.name
    marker = where / "built"
    index = SearchIndex(where, semantic=semantic)
    line = f"corpus: {corpus.name}, {len(docs)} docs, {size_mb:.1f} MB; "
    if marker.exists():
        line += "index reused"
    else:
        t0 = time.perf_counter()
        index.rebuild(docs, commit="bench", total=len(docs))
        marker.touch()
        line += f"index built in {time.perf_counter() - t0:.1f} s"
    if semantic:
        t0 = time.perf_counter()
        done = index.embed_pending()
        took = time.perf_counter() - t0
        line += f"; {done} vectors computed in {took:.1f} s ({done / took:.1f} docs/s)" if done else "; vectors reused"
    return index, line


def measure(index: SearchIndex, queries: list[Query]) -> tuple[dict, list, list[float]]:
    search = local_search(index)
    for item in queries:  # warm-up: postings caches, the segmenter's dictionary
        search(item.query)
    times: list[float] = []

    def timed(q: str) -> list[str]:
        t0 = time.perf_counter()
        out = search(q)
        times.append((time.perf_counter() - t0) * 1000)
        return out

    groups, ranks = evaluate(timed, queries)
    return groups, ranks, times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", type=Path, default=default_corpus_root())
    ap.add_argument("--queries", type=Path, help="one query file (CORPUS_ROOT is then its corpus folder)")
    ap.add_argument("--index-cache", type=Path, help="keep and reuse built indexes in this folder")
    ap.add_argument("--misses", action="store_true", help="list queries whose answer ranked below 1")
    ap.add_argument("--words-only", action="store_true", help="without meaning vectors (KB_SEMANTIC=0)")
    args = ap.parse_args(argv)
    sets = query_sets(args.corpus, args.queries)
    if not sets:
        print(f"no query sets found in {args.corpus}", file=sys.stderr)
        return 2
    print(f"machine: {machine()}")
    rows: list[str] = []
    misses: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        opened: dict[Path, SearchIndex] = {}
        for qs in sets:
            if qs.corpus not in opened:
                index, line = open_index(qs.corpus, args.index_cache, Path(tmp), not args.words_only)
                opened[qs.corpus] = index
                print(line, flush=True)
            queries = list(load_queries(qs.file))
            groups, ranks, times = measure(opened[qs.corpus], queries)
            p50, p95 = percentile(times, 50), percentile(times, 95)
            for (lang, kind), (n, hits, rr, first) in sorted(groups.items()):
                if lang == "*" or kind == "*":
                    continue
                rows.append(
                    f"| {qs.name} | {lang} | {kind} | {n} | {first / n:.3f} | {hits / n:.3f} | "
                    f"{rr / n:.3f} | {p50:.1f} | {p95:.1f} |"
                )
            n, hits, rr, first = groups[("*", "*")]
            rows.append(
                f"| **{qs.name}** | * | * | {n} | **{first / n:.3f}** | **{hits / n:.3f}** | "
                f"**{rr / n:.3f}** | {p50:.1f} | {p95:.1f} |"
            )
            misses += [
                f"rank={rank} [{qs.name} {item.lang}/{item.kind}] {item.query!r} -> {item.expect}; got {paths[:3]}"
                for item, rank, paths in ranks
                if rank != 1
            ]
        for index in opened.values():
            index.close()
    print()
    print(f"| set | lang | kind | n | hit@1 | hit@{K} | MRR@{K} | p50 ms | p95 ms |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    if args.misses:
        print()
        print("\n".join(misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
