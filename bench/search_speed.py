"""Search speed at scale: rebuild, first search, query latency and apply() of one document.

    .venv/bin/python bench/search_speed.py [CORPUS_DIR] [--docs 10000] [--rounds 3]

The corpus (default: the first in ``../shared/corpus`` beside the repository) is repeated
under ``dup1/``, ``dup2/``... paths until it has ``--docs`` documents; the queries are the
corpus's query file. Latencies are in-process (``SearchIndex.search``, snippets included);
over HTTP add the app's own overhead.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._corpus import default_corpus_root, load_docs, load_queries, resolve_corpus
from bench.search_quality import evaluate, local_search, machine
from kb.search import SearchIndex

ACCESS = {"public", "internal"}
STATUSES = {"published"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (the rebuild workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def first_search(index_dir: Path, query: str) -> tuple[float, float]:
    """In a fresh process: (seconds to import kb.search, seconds to open + first search)."""
    code = textwrap.dedent(f"""
        import time, sys
        t0 = time.perf_counter()
        from kb.search import SearchIndex
        t1 = time.perf_counter()
        ix = SearchIndex({str(index_dir)!r})
        ix.search({query!r}, access_levels={sorted(ACCESS)!r}, statuses={sorted(STATUSES)!r})
        t2 = time.perf_counter()
        print(t1 - t0, t2 - t1)
    """)
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    imp, first = out.stdout.split()
    return float(imp), float(first)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", type=Path, default=default_corpus_root())
    ap.add_argument("--queries", type=Path)
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3, help="passes over the query set")
    ap.add_argument("--applies", type=int, default=50)
    args = ap.parse_args(argv)
    corpus: Path = resolve_corpus(args.corpus)
    qfile = args.queries or corpus.with_name(corpus.name + ".queries.jsonl")
    items = list(load_queries(qfile))
    queries = [q.query for q in items]
    base = load_docs(corpus)
    docs = load_docs(corpus, copies=math.ceil(args.docs / len(base)))[: args.docs]
    mb = sum(len(d.body.encode()) + len(d.title.encode()) for d in docs) / 1e6

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        index = SearchIndex(index_dir)
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        cpu0 = _cpu()
        index.rebuild(iter(docs), commit="c0", total=len(docs))
        reindex_s = time.perf_counter() - t0
        reindex_cpu = _cpu() - cpu0
        assert index.doc_count() == len(docs), index.doc_count()
        size_mb = dir_size(index_dir) / 1e6
        import_s, first_s = first_search(index_dir, queries[0])

        for q in queries:  # warm-up: page cache, jieba, Python caches
            index.search(q, access_levels=ACCESS, statuses=STATUSES)
        latencies: list[float] = []
        cpu_ms: list[float] = []
        for _ in range(args.rounds):
            for q in queries:
                t, c = time.perf_counter(), time.process_time()
                index.search(q, access_levels=ACCESS, statuses=STATUSES)
                latencies.append((time.perf_counter() - t) * 1000)
                cpu_ms.append((time.process_time() - c) * 1000)

        groups, _ = evaluate(local_search(index), items)  # replicas of the answer count
        apply_ms: list[float] = []
        for i in range(args.applies):
            doc = docs[i * 37 % len(docs)]
            changed = dataclasses.replace(doc, body=doc.body + f"\n\nrevision note {i}\n", revision=f"r{i}")
            t = time.perf_counter()
            index.apply([changed], [], commit=f"c{i + 1}")
            apply_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.search(queries[0], access_levels=ACCESS, statuses=STATUSES)
        after_apply_ms = (time.perf_counter() - t) * 1000
        index.close()

    print(f"machine: {machine()}")
    print(
        f"corpus: {corpus.name} x{math.ceil(args.docs / len(base))} (dupN/ copies), {len(queries)} queries, "
        f"{args.rounds} rounds"
    )
    print()
    print(
        "| docs | MB | reindex s | docs/s | MB/s | index MB | import s | open+first search s "
        "| search p50 ms | p95 ms | max ms | apply(1 doc) p50 ms | apply max ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(docs)} | {mb:.1f} | {reindex_s:.1f} | {len(docs) / reindex_s:.0f} | {mb / reindex_s:.2f} "
        f"| {size_mb:.0f} | {import_s:.2f} | {first_s:.2f} | {statistics.median(latencies):.1f} "
        f"| {percentile(latencies, 95):.1f} | {max(latencies):.1f} | {statistics.median(apply_ms):.1f} "
        f"| {max(apply_ms):.1f} |"
    )
    print(
        f"\nreindex CPU time (all processes): {reindex_cpu:.1f} s; search CPU time per query: "
        f"p50 {statistics.median(cpu_ms):.1f} ms, p95 {percentile(cpu_ms, 95):.1f} ms"
    )
    print(f"first search after the last apply: {after_apply_ms:.1f} ms")
    n, hits, rr, _ = groups[("*", "*")]
    print(f"quality at this size (a dupN/ replica of the answer counts): hit@10 {hits / n:.3f}, MRR@10 {rr / n:.3f}")
    print(
        f"load average (1 min) before the reindex: {load_before:.2f}, at the end: {os.getloadavg()[0]:.2f} "
        f"(other processes competing for the {os.cpu_count()} CPUs inflate wall-clock figures)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
