"""Search quality on a corpus with known answers: hit@10 and MRR@10 by language and kind.

    .venv/bin/python bench/search_quality.py [CORPUS_DIR] [--queries FILE] [--misses]

CORPUS_DIR defaults to ``../shared/corpus`` beside the repository (a folder of corpora means
its first corpus with a ``<name>.queries.jsonl``); the query file defaults to
``<CORPUS_DIR>.queries.jsonl`` (JSON lines: query, expect, lang, kind).

The searcher is a plain function ``query -> [paths]`` so the same measurement can later run
over HTTP (a ``--url`` mode would only supply a different function).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._corpus import Query, default_corpus_root, load_docs, load_queries, resolve_corpus
from kb.search import SearchIndex

K = 10
_REPLICA = re.compile(r"^dup\d+/")
SearchFn = Callable[[str], list[str]]


def local_search(index: SearchIndex) -> SearchFn:
    def run(q: str) -> list[str]:
        result = index.search(q, access_levels={"public", "internal"}, statuses={"published"}, limit=K)
        return [h.path for h in result.hits]

    return run


def evaluate(search: SearchFn, queries: list[Query]) -> tuple[dict, list[tuple[Query, int | None, list[str]]]]:
    """Per (lang, kind) group: count, hits@K and reciprocal-rank sum; plus every query's rank."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
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
    return groups, ranks


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{platform.platform()} | Python {platform.python_version()} | {os.cpu_count()} CPUs | {cpu}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", type=Path, default=default_corpus_root())
    ap.add_argument("--queries", type=Path)
    ap.add_argument("--misses", action="store_true", help="list queries whose answer ranked below 1")
    args = ap.parse_args(argv)
    corpus: Path = resolve_corpus(args.corpus)
    qfile: Path = args.queries or corpus.with_name(corpus.name + ".queries.jsonl")
    queries = list(load_queries(qfile))
    docs = load_docs(corpus)
    size_mb = sum(len(d.body.encode()) + len(d.title.encode()) for d in docs) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        index = SearchIndex(Path(tmp) / "index")
        t0 = time.perf_counter()
        index.rebuild(docs, commit="bench", total=len(docs))
        build_s = time.perf_counter() - t0
        groups, ranks = evaluate(local_search(index), queries)
        index.close()
    print(f"corpus: {corpus.name}, {len(docs)} docs, {size_mb:.1f} MB; {len(queries)} queries; "
          f"index built in {build_s:.1f} s")
    print(f"machine: {machine()}")
    print()
    print(f"| lang | kind | n | hit@{K} | MRR@{K} |")
    print("|---|---|---:|---:|---:|")
    order = sorted(groups, key=lambda k: (k[0] == "*", k[0], k[1] == "*", k[1]))
    for lang, kind in order:
        n, hits, rr = groups[(lang, kind)]
        print(f"| {lang} | {kind} | {n} | {hits / n:.3f} | {rr / n:.3f} |")
    if args.misses:
        print()
        for item, rank, paths in ranks:
            if rank != 1:
                print(f"rank={rank} [{item.lang}/{item.kind}] {item.query!r} -> {item.expect}; got {paths[:3]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
