"""Document store figures over HTTP on loopback through ``kb serve``.

    .venv/bin/python bench/docs_bench.py [--docs 1000,10000] [--commits 200,20000] [--corpus auto|DIR]

For each corpus size: ``kb import`` and ``kb reindex`` throughput, then view (GET /docs/<path>,
the HTML page) and save (PUT /api/v1/docs/<path>, commit included) p50/p95 in ms.
For each repository size in commits: history p50/p95 (GET /api/v1/docs/<path>/history) of 50
documents that have the same 3 versions in every repository, the rest of the commits touching
other documents; the repository is written with ``git fast-import`` and kb catches up from it.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from harness import Instance, corpus_dir, print_table, summary, timed, write_corpus

MEASURED = 50


def corpus_scenarios(sizes: list[int], corpus: Path | None, work: Path, views: int, saves: int) -> list[list]:
    rows = []
    for size in sizes:
        folder = work / f"docs-{size}"
        paths = write_corpus(folder / "import", size, corpus)
        megabytes = sum(p.stat().st_size for p in (folder / "import").rglob("*.md")) / 1e6
        instance = Instance(folder / "instance")
        instance.kb("init")
        import_s = instance.kb("import", str(folder / "import"))
        reindex_s = instance.kb("reindex")
        rng = random.Random(7)
        with instance.serve() as http:
            sample = [rng.choice(paths) for _ in range(views)]
            for path in sample[:3]:
                http.get(f"{http.base}/docs/{quote(path)}")
            view_ms = timed([lambda p=p: http.get(f"{http.base}/docs/{quote(p)}") for p in sample])
            edits = [rng.choice(paths) for _ in range(saves)]
            save_ms = timed(
                [
                    lambda p=p, i=i: http.put(
                        f"{http.base}/api/v1/docs/{quote(p)}",
                        json={
                            "title": f"基准测试 {i}",
                            "body": f"# 基准测试 {i}\n\n第 {i} 次保存。\n",
                            "access": "internal",
                            "message": f"bench save {i}",
                        },
                    )
                    for i, p in enumerate(edits)
                ]
            )
        rows.append(
            [
                size,
                f"{megabytes:.1f}",
                f"{size / import_s:.0f} ({import_s:.1f} s)",
                f"{size / reindex_s:.0f} ({reindex_s:.1f} s)",
                summary(view_ms),
                summary(save_ms),
            ]
        )
    return rows


def fast_import_stream(docs: int, commits: int) -> bytes:
    """A git fast-import stream: one commit adding ``docs`` documents, two edits of each measured
    document, then single-document edits of the others until ``commits`` commits exist."""
    out: list[bytes] = []
    stamp = 1_700_000_000

    def commit(files: dict[str, str], message: str) -> None:
        nonlocal stamp
        stamp += 60
        msg = message.encode()
        out.append(b"commit refs/heads/main\n")
        out.append(f"author 基准 <bench@example.com> {stamp} +0800\n".encode())
        out.append(f"committer 基准 <bench@example.com> {stamp} +0800\n".encode())
        out.append(b"data %d\n%s\n" % (len(msg), msg))
        for path, text in files.items():
            data = text.encode()
            out.append(f"M 100644 inline {path}.md\n".encode())
            out.append(b"data %d\n%s\n" % (len(data), data))

    def text(i: int, version: int) -> str:
        return (
            f"---\ntitle: 文档 {i}\ntags: [基准]\naccess: internal\nstatus: published\n---\n"
            f"# 文档 {i}\n\n第 {version} 版。服务请求在受理后按 SLA 分级处理。\n"
        )

    commit({f"h/{i // 100}/d{i}": text(i, 1) for i in range(docs)}, "initial")
    for version in (2, 3):
        for i in range(MEASURED):
            commit({f"h/{i // 100}/d{i}": text(i, version)}, f"edit {i} v{version}")
    filler = commits - 1 - 2 * MEASURED
    for n in range(filler):
        i = MEASURED + n % (docs - MEASURED)
        commit({f"h/{i // 100}/d{i}": text(i, 10 + n)}, f"filler {n}")
    return b"".join(out)


def history_scenarios(commit_counts: list[int], work: Path, docs: int = 1000) -> list[list]:
    rows = []
    for count in commit_counts:
        folder = work / f"history-{count}"
        repo = folder / "instance" / "content.git"
        repo.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(repo)], check=True)
        subprocess.run(
            ["git", "-C", str(repo), "fast-import", "--quiet"], input=fast_import_stream(docs, count), check=True
        )
        instance = Instance(folder / "instance")
        catch_up_s = instance.kb("init")
        with instance.serve() as http:
            paths = [f"h/{i // 100}/d{i}" for i in range(MEASURED)]
            for path in paths[:3]:
                http.get(f"{http.base}/api/v1/docs/{quote(path)}/history")
            history_ms = timed([lambda p=p: http.get(f"{http.base}/api/v1/docs/{quote(p)}/history") for p in paths * 2])
            versions = len(http.get(f"{http.base}/api/v1/docs/{quote(paths[0])}/history").json()["versions"])
        rows.append([count, docs, versions, f"{catch_up_s:.1f}", summary(history_ms)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", default="1000,10000")
    parser.add_argument("--commits", default="200,20000")
    parser.add_argument("--corpus", default="auto")
    parser.add_argument("--views", type=int, default=200)
    parser.add_argument("--saves", type=int, default=100)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="kb-bench-"))
    corpus = corpus_dir(args.corpus)
    started = time.perf_counter()
    if args.docs:
        rows = corpus_scenarios([int(n) for n in args.docs.split(",")], corpus, work, args.views, args.saves)
        print_table(
            f"documents (corpus: {corpus.name if corpus else 'synthetic'})",
            ["docs", "MB", "import docs/s", "reindex docs/s", "view p50 / p95 ms", "save p50 / p95 ms"],
            rows,
        )
    if args.commits:
        rows = history_scenarios([int(n) for n in args.commits.split(",")], work)
        print_table(
            "history",
            ["commits", "docs", "versions of each measured doc", "kb init catch-up s", "history p50 / p95 ms"],
            rows,
        )
    print(f"\n(total {time.perf_counter() - started:.0f} s, work folder {work})")


if __name__ == "__main__":
    main()
