"""Search quality and speed over HTTP, through ``kb serve`` with the corpus imported.

    .venv/bin/python bench/search_http.py [--docs 1198,10000] [--corpus auto|DIR] [--queries FILE,...]

For each corpus size: ``kb import``, ``kb reindex`` (documents/s and MB/s), ``kb embed`` (the
meaning vectors; replicas share their original's vector, so it costs the corpus once), the index
size on disk, the time from spawning ``kb serve`` to its first answered search, then every query
of ``<corpus>.queries.jsonl`` (known items) and ``<corpus>.questions.jsonl`` (natural questions)
through ``GET /api/v1/search?q=…&limit=10``: hit@1, hit@10 and MRR@10 by language and kind, and
latency p50/p95 per set. Above the corpus size documents are replicated under ``dupN/`` paths;
a replica of the expected document counts as finding it (as in ../shared/peers).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from harness import Instance, corpus_dir, percentile, print_table, write_corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kb.search import SearchIndex

K = 10
_REPLICA = re.compile(r"^dup\d+/")


def load_queries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def folder_size(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def seed_vectors(instance: Path, source: Path) -> None:
    """Give the instance's vector store the vectors of an earlier run (``vectors.sqlite3`` of
    the same corpus, e.g. from search_quality.py's ``--index-cache``): ``kb embed`` then finds each
    document's summary already embedded (by digest) and only maps it. For measuring search speed
    without waiting minutes for the model; the vectors are the ones ``kb embed`` would compute."""
    SearchIndex(instance / "index", semantic=True).close()  # creates the store in today's layout
    with sqlite3.connect(instance / "index" / "vectors.sqlite3") as db:
        db.execute("ATTACH DATABASE ? AS seed", (str(source),))
        db.execute("INSERT OR IGNORE INTO vectors SELECT 'seed:' || digest, '', model, digest, vec FROM seed.vectors")
    db.close()


def run_size(
    size: int, corpus: Path, sets: dict[str, list[dict]], work: Path, vectors_from: Path | None = None
) -> tuple[list, dict, dict]:
    """(speed row, quality groups per set, latencies per set) at one corpus size."""
    folder = work / f"search-{size}"
    write_corpus(folder / "import", size, corpus)
    megabytes = folder_size(folder / "import")
    instance = Instance(folder / "instance")
    instance.kb("init")
    import_s = instance.kb("import", str(folder / "import"))
    reindex_s = instance.kb("reindex")
    if vectors_from is not None:
        seed_vectors(folder / "instance", vectors_from)
    embed_s = instance.kb("embed")
    index_mb = folder_size(folder / "instance" / "index")
    spawned = time.perf_counter()
    groups: dict[str, dict[tuple[str, str], list[float]]] = {}
    latencies: dict[str, list[float]] = {}
    with instance.serve() as http:
        http.get(f"{http.base}/api/v1/search", params={"q": "配置", "limit": K}).raise_for_status()
        first_search_s = time.perf_counter() - spawned
        for name, queries in sets.items():
            found = groups[name] = defaultdict(lambda: [0, 0, 0.0, 0])
            times = latencies[name] = []
            for item in queries:
                started = time.perf_counter()
                response = http.get(f"{http.base}/api/v1/search", params={"q": item["query"], "limit": K})
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                paths = list(dict.fromkeys(_REPLICA.sub("", hit["path"]) for hit in response.json()["hits"]))
                expect = item["expect"].removesuffix(".md")
                rank = paths.index(expect) + 1 if expect in paths else None
                for key in ((item["lang"], "*"), ("*", item["kind"]), (item["lang"], item["kind"]), ("*", "*")):
                    group = found[key]
                    group[0] += 1
                    group[1] += 1 if rank else 0
                    group[2] += 1 / rank if rank else 0.0
                    group[3] += 1 if rank == 1 else 0
    speed = [
        size,
        f"{megabytes:.1f}",
        f"{size / import_s:.0f}",
        f"{size / reindex_s:.0f} docs/s, {megabytes / reindex_s:.2f} MB/s ({reindex_s:.1f} s)",
        f"{embed_s:.0f}",
        f"{index_mb:.1f}",
        f"{first_search_s:.2f}",
    ]
    return speed, groups, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", default="1198,10000")
    parser.add_argument("--corpus", default="auto")
    parser.add_argument(
        "--queries", default=None, help="comma-separated query files (default: the corpus's queries and questions)"
    )
    parser.add_argument("--workdir", default=None)
    parser.add_argument(
        "--vectors-from",
        type=Path,
        default=None,
        help="an earlier run's vectors.sqlite3 of this corpus, to skip computing them",
    )
    args = parser.parse_args()
    corpus = corpus_dir(args.corpus)
    if corpus is None:
        raise SystemExit("no corpus: pass --corpus DIR (a folder of .md files with DIR.queries.jsonl beside it)")
    files = (
        [Path(f) for f in args.queries.split(",")]
        if args.queries
        else [f for kind in ("queries", "questions") if (f := corpus.with_suffix(f".{kind}.jsonl")).exists()]
    )
    sets = {f.name.removesuffix(".jsonl").rpartition(".")[2]: load_queries(f) for f in files}
    work = Path(args.workdir or tempfile.mkdtemp(prefix="kb-search-bench-"))
    speed_rows, quality_rows = [], []
    for size in (int(n) for n in args.docs.split(",")):
        speed, groups, latencies = run_size(size, corpus, sets, work, args.vectors_from)
        speed_rows.append(speed)
        every = [t for times in latencies.values() for t in times]
        quality_rows.append(
            [
                size,
                "all sets",
                "*",
                "*",
                len(every),
                "",
                "",
                "",
                f"{percentile(every, 50):.1f} / {percentile(every, 95):.1f}",
            ]
        )
        for name, found in groups.items():
            times = latencies[name]
            for (lang, kind), (count, hits, rr, first) in sorted(found.items()):
                if "*" in (lang, kind) and (lang, kind) != ("*", "*"):
                    continue
                quality_rows.append(
                    [
                        size,
                        name,
                        lang,
                        kind,
                        int(count),
                        f"{first / count:.3f}",
                        f"{hits / count:.3f}",
                        f"{rr / count:.3f}",
                        f"{percentile(times, 50):.1f} / {percentile(times, 95):.1f}",
                    ]
                )
    print_table(
        f"indexing over the CLI (corpus {corpus.name})",
        ["docs", "MB", "import docs/s", "reindex", "kb embed s", "index MB", "first search after spawn s"],
        speed_rows,
    )
    print_table(
        "search over HTTP",
        ["docs", "set", "lang", "kind", "n", "hit@1", "hit@10", "MRR@10", "p50 / p95 ms"],
        quality_rows,
    )


if __name__ == "__main__":
    main()
