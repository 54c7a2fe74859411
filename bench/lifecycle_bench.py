"""Document lifecycle figures over HTTP on loopback through ``kb serve``: the past, diffs, export.

    .venv/bin/python bench/lifecycle_bench.py [--docs 10000] [--commits 20000] [--corpus auto|DIR]
        [--requests 200] [--workers 2] [--keep DIR | --reuse DIR]

Build (the expensive part; ``--keep DIR`` leaves it in DIR, ``--reuse DIR`` measures it again):
``kb init``, then history written straight into the content repository with ``GitStore.commit``:
one import commit of ``--docs`` documents made from the corpus (cycled when it is smaller; one
folder, 导出/, holds up to 1,000 of them, the others are spread over 20 folders), then
``--commits`` - 1 more commits, mostly single-document edits of a few body lines (a few hundred
documents take a large share of them, so some have many versions), some multi-document commits,
a few moves, deletes and new documents. Commits are back-dated so the history spans two years.
Then kb catches its catalog and search index up with the repository, as it does on start-up.

Measured over HTTP (p50 / p95 ms): a document now, a document at a random date within its
history (``?at=``), a diff between two random versions, its history, the knowledge base listed as
of a date (whole and one folder), and exporting the 导出/ folder with its whole history as a zip.
Endpoints that do not exist yet are reported as n/a.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import json
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import requests
from harness import Instance, corpus_dir, machine, percentile, print_table, synthetic_documents, timed

from kb import create_app
from kb.document import DocumentFile, decode, parse, serialize
from kb.errors import KBError
from kb.instance import catch_up
from kb.versioning import Author, Delete, Move, Operation, Write

MANIFEST = "lifecycle-build.json"
EXPORT_FOLDER = "导出"
FOLDERS = (
    "服务台",
    "事件管理",
    "问题管理",
    "变更管理",
    "发布管理",
    "配置管理",
    "容量管理",
    "可用性管理",
    "连续性管理",
    "安全管理",
    "网络运维",
    "数据库运维",
    "中间件",
    "监控告警",
    "备份恢复",
    "应用支持",
    "桌面支持",
    "供应商管理",
    "知识管理",
    "培训资料",
)
AUTHORS = tuple(
    Author(name, f"{login}@example.com")
    for name, login in (
        ("张伟", "zhang.wei"),
        ("李娜", "li.na"),
        ("王芳", "wang.fang"),
        ("刘洋", "liu.yang"),
        ("陈静", "chen.jing"),
        ("杨磊", "yang.lei"),
        ("赵敏", "zhao.min"),
        ("黄强", "huang.qiang"),
    )
)
PHRASES = (
    "补充说明：该步骤需在维护窗口内执行，并提前通知服务台。",
    "注意：变更前请先备份相关数据并确认回退方案。",
    "根据最近一次事件复盘，更新了处理步骤。",
    "如遇 502 或 timeout，请先检查 nginx 与上游服务状态。",
    "此处的 SLA 目标调整为 4 小时内响应。",
    "已与二线支持确认，该配置项在 CMDB 中同步更新。",
    "审计要求：操作记录需保留至少一年。",
    "适用范围扩大到所有生产环境集群。",
)
HISTORY_SPAN = dt.timedelta(days=730)
ZONE = dt.timezone(dt.timedelta(hours=8))
HOT_DOCS = 300  # documents that get HOT_SHARE of the edits, so they have many versions
HOT_SHARE = 0.4
EXPORT_RUNS = 3
_UNSAFE = re.compile(r"[^\w.\-]+")


# ---------------------------------------------------------------------------------- build


def corpus_sources(corpus: Path | None, limit: int) -> list[tuple[str, DocumentFile]]:
    """(file stem, parsed document) of each corpus file, or of generated documents."""
    sources = []
    if corpus is not None:
        for file in sorted(p for p in corpus.rglob("*.md") if ".git" not in p.parts and p.name != "README.md"):
            try:
                sources.append((file.stem, parse(decode(file.read_bytes()), default_title=file.stem)))
            except KBError:
                continue
    if not sources:
        for relative, text in synthetic_documents(min(limit, 2000)):
            sources.append((Path(relative).stem, parse(text, default_title=Path(relative).stem)))
    return sources


class LivePaths:
    """The documents that exist now: random choice and removal in O(1)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.where: dict[str, int] = {}

    def add(self, path: str) -> None:
        self.where[path] = len(self.items)
        self.items.append(path)

    def remove(self, path: str) -> None:
        i = self.where.pop(path)
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.where[last] = i

    def choice(self, rng: random.Random) -> str:
        return self.items[rng.randrange(len(self.items))]


class History:
    """Writes the repository's history and remembers what each document is now."""

    def __init__(self, store: object, sources: list[tuple[str, DocumentFile]], rng: random.Random) -> None:
        self.store = store
        self.sources = sources
        self.rng = rng
        self.docs: dict[str, DocumentFile] = {}
        self.live = LivePaths()  # documents outside 导出/ and the hot set: may move or be deleted
        self.used: set[str] = set()
        self.next_source = 0
        self.edits = 0

    def new_doc(self, folder: str) -> tuple[str, DocumentFile]:
        stem, doc = self.sources[self.next_source % len(self.sources)]
        copy = self.next_source // len(self.sources)
        self.next_source += 1
        name = _UNSAFE.sub("-", stem).strip(".-") or "doc"
        path = f"{folder}/{name}" + (f"-{copy}" if copy else "")
        while path in self.used:
            path += "-x"
        self.used.add(path)
        if copy:
            doc = dataclasses.replace(doc, title=f"{doc.title}（{folder} {copy}）")
        return path, doc

    def edited(self, path: str, n: int) -> Write:
        """The document with one to three body lines changed, appended to or inserted."""
        rng = self.rng
        lines = self.docs[path].body.split("\n")
        for _ in range(rng.randint(1, 3)):
            candidates = [
                i
                for i, line in enumerate(lines)
                if line.strip() and not line.lstrip().startswith(("```", "|", "#", "<", "-", "*"))
            ]
            i = rng.choice(candidates) if candidates else len(lines) - 1
            phrase = f"{rng.choice(PHRASES)}（修订 {n}）"
            kind = rng.random()
            if kind < 0.5:
                lines[i] = lines[i].rstrip() + phrase
            elif kind < 0.8:
                lines[i + 1 : i + 1] = ["", phrase]
            else:
                lines[i] = phrase
        self.docs[path] = dataclasses.replace(self.docs[path], body="\n".join(lines))
        self.edits += 1
        return Write(path, serialize(self.docs[path]).encode("utf-8"))

    def commit(self, ops: list[Operation], message: str, date: dt.datetime) -> None:
        self.store.commit(ops, self.rng.choice(AUTHORS), message, date=date)  # type: ignore[attr-defined]


def build(folder: Path, docs: int, commits: int, corpus: Path | None, seed: int = 7) -> dict:
    """Create the instance in ``folder/instance`` with its history; return the build manifest."""
    started = time.perf_counter()
    instance = Instance(folder / "instance")
    instance.kb("init")
    rng = random.Random(seed)
    sources = corpus_sources(corpus, docs)
    app = create_app({"INSTANCE_DIR": str(instance.folder)})
    stores = app.extensions["kb.stores"]
    history = History(stores.store, sources, rng)

    export_count = min(1000, docs // 5)
    exported = set(rng.sample(range(docs), export_count))
    writes = []
    for i in range(docs):
        path, doc = history.new_doc(EXPORT_FOLDER if i in exported else FOLDERS[i % len(FOLDERS)])
        history.docs[path] = doc
        writes.append(Write(path, serialize(doc).encode("utf-8")))
    every = sorted(history.docs)
    hot_list = rng.sample(every, min(HOT_DOCS, docs // 10))
    hot = set(hot_list)
    for path in every:
        if path not in hot and not path.startswith(EXPORT_FOLDER + "/"):
            history.live.add(path)

    start = (dt.datetime.now(ZONE) - HISTORY_SPAN).replace(microsecond=0)
    step = (HISTORY_SPAN - dt.timedelta(days=1)) / max(commits, 1)
    history.commit(writes, f"导入 {docs} 篇文档 (import)", start)
    del writes
    print(
        f"import commit of {docs} documents ({len(sources)} corpus files): {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    written = time.perf_counter()
    report_every = max(commits // 20, 1)
    moves = deletes = adds = multi = 0
    for n in range(1, commits):
        date = start + step * n + dt.timedelta(seconds=rng.uniform(0, step.total_seconds() / 2))
        kind = rng.random()
        if kind < 0.90:
            path = rng.choice(hot_list) if rng.random() < HOT_SHARE else rng.choice(every)
            while path not in history.docs:  # moved or deleted since
                path = rng.choice(every)
            history.commit([history.edited(path, n)], f"更新《{history.docs[path].title}》", date)
        elif kind < 0.95:
            paths = {history.live.choice(rng) for _ in range(rng.randint(2, 20))}
            history.commit([history.edited(p, n) for p in sorted(paths)], f"批量更新 {len(paths)} 篇文档", date)
            multi += 1
        elif kind < 0.97:
            old = history.live.choice(rng)
            new = f"{rng.choice(FOLDERS)}/{old.split('/', 1)[1]}-m{n}"
            history.used.add(new)
            history.commit([Move(old, new)], f"移动 {old} → {new}", date)
            history.docs[new] = history.docs.pop(old)
            history.live.remove(old)
            history.live.add(new)
            moves += 1
        elif kind < 0.985:
            old = history.live.choice(rng)
            history.commit([Delete(old)], f"删除 {old}", date)
            del history.docs[old]
            history.live.remove(old)
            deletes += 1
        else:
            path, doc = history.new_doc(rng.choice(FOLDERS))
            history.docs[path] = doc
            history.live.add(path)
            history.commit([Write(path, serialize(doc).encode("utf-8"))], f"新增《{doc.title}》", date)
            adds += 1
        if n % report_every == 0 or n == commits - 1:
            seconds = time.perf_counter() - written
            print(
                f"  {n + 1}/{commits} commits, {n / seconds:.0f} commits/s, "
                f"{seconds / n * (commits - 1 - n):.0f} s to go",
                flush=True,
            )
    history_s = time.perf_counter() - written
    stores.close()

    print("catalog and search index catching up…", flush=True)
    caught = time.perf_counter()
    stores = create_app({"INSTANCE_DIR": str(instance.folder)}).extensions["kb.stores"]
    catch_up(stores)
    stores.close()
    catch_up_s = time.perf_counter() - caught
    manifest = {
        "docs": docs,
        "commits": commits,
        "corpus": corpus.name if corpus else "synthetic",
        "start": start.isoformat(),
        "end": (start + step * commits).isoformat(),
        "export_folder": EXPORT_FOLDER,
        "export_count": export_count,
        "folders": list(FOLDERS),
        "hot": sorted(hot),
        "paths": sorted(history.docs),
        "edits": history.edits,
        "multi": multi,
        "moves": moves,
        "deletes": deletes,
        "adds": adds,
        "history_seconds": history_s,
        "catch_up_seconds": catch_up_s,
        "build_seconds": time.perf_counter() - started,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    print(
        f"built in {manifest['build_seconds']:.0f} s (history {history_s:.0f} s, catch-up {catch_up_s:.0f} s)",
        flush=True,
    )
    return manifest


# ---------------------------------------------------------------------------------- measure


def row(name: str, samples: list[float], note: str = "") -> list[object]:
    return [name, len(samples), f"{statistics.median(samples):.1f}", f"{percentile(samples, 95):.1f}", note]


def na(name: str, why: str) -> list[object]:
    return [name, 0, "n/a (not available)", "n/a", why]


def iso(when: dt.datetime) -> str:
    return when.replace(microsecond=0).isoformat()


def measure(http: requests.Session, manifest: dict, n: int, rng: random.Random) -> list[list[object]]:
    base = http.base  # type: ignore[attr-defined]
    api = f"{base}/api/v1"
    paths = manifest["paths"]
    hot = sorted(set(manifest["hot"]) & set(paths))
    now = dt.datetime.now(ZONE)
    rows = []

    def warm_and_time(calls: list[Callable[[], requests.Response]]) -> list[float]:
        for call in calls[:3]:
            call()
        return timed(calls)

    current = [rng.choice(paths) for _ in range(n)]
    rows.append(
        row(
            "GET /docs/<path> (current version)",
            warm_and_time([lambda p=p: http.get(f"{api}/docs/{quote(p)}") for p in current]),
        )
    )

    # history of a sample (timed too, for reference); their dates drive the ?at= requests
    pool = rng.sample(paths, min(n, len(paths)))
    versions: dict[str, list[dict]] = {}

    def history(path: str) -> requests.Response:
        response = http.get(f"{api}/docs/{quote(path)}/history")
        if response.ok:
            versions[path] = response.json()["versions"]
        return response

    hot_pool = rng.sample(hot, min(100, len(hot)))
    history_ms = warm_and_time([lambda p=p: history(p) for p in pool + hot_pool])
    counts = [len(versions[p]) for p in pool]
    rows.append(
        row(
            "GET /docs/<path>/history",
            history_ms,
            f"random docs: {statistics.mean(counts):.1f} versions avg, max {max(counts)}; "
            f"hot docs: {statistics.mean(len(versions[p]) for p in hot_pool):.0f} avg",
        )
    )

    def at_date(path: str) -> str:
        first = min(dt.datetime.fromisoformat(v["date"]) for v in versions[path])
        return iso(first + (now - first) * rng.uniform(0.0001, 1))

    ats = [(p, at_date(p)) for p in (rng.choice(pool) for _ in range(n))]
    rows.append(
        row(
            "GET /docs/<path>?at=<datetime>",
            warm_and_time([lambda p=p, a=a: http.get(f"{api}/docs/{quote(p)}", params={"at": a}) for p, a in ats]),
            "random docs, random date within each one's history",
        )
    )

    def version_pair(path: str) -> tuple[str, str]:
        live = [v["revision"] for v in reversed(versions[path]) if v["kind"] != "delete"]
        older, newer = sorted(rng.sample(range(len(live)), 2))
        return live[older], live[newer]

    several = [p for p in hot_pool if sum(v["kind"] != "delete" for v in versions[p]) >= 3]
    if several:
        pairs = [(p, *version_pair(p)) for p in (rng.choice(several) for _ in range(n))]
        rows.append(
            row(
                "GET /docs/<path>/diff?from=&to=",
                warm_and_time(
                    [
                        lambda p=p, a=a, b=b: http.get(f"{api}/docs/{quote(p)}/diff", params={"from": a, "to": b})
                        for p, a, b in pairs
                    ]
                ),
                f"{len(several)} docs with ≥ 3 versions, two random versions each",
            )
        )

    start, end = dt.datetime.fromisoformat(manifest["start"]), dt.datetime.fromisoformat(manifest["end"])
    folders = manifest["folders"] + [manifest["export_folder"]]
    for label, prefix in (
        ("GET /docs?at=<date>&per_page=50", None),
        ("GET /docs?at=<date>&prefix=<folder>&per_page=50", "folder"),
    ):
        dates = [(start + (end - start) * rng.random()).date().isoformat() for _ in range(n)]
        prefixes = [rng.choice(folders) if prefix else None for _ in range(n)]
        probe = http.get(f"{api}/docs", params={"at": dates[0], "per_page": 50, "prefix": prefixes[0]})
        if probe.status_code >= 400 or "at" not in probe.json():
            rows.append(na(label, "`at` ignored" if probe.ok else f"HTTP {probe.status_code} {error_code(probe)}"))
            continue
        totals: list[int] = []

        def listing(at: str, folder: str | None, totals: list[int] = totals) -> requests.Response:
            response = http.get(f"{api}/docs", params={"at": at, "per_page": 50, "prefix": folder})
            if response.ok:
                totals.append(response.json()["total"])
            return response

        samples = warm_and_time([lambda a=a, f=f: listing(a, f) for a, f in zip(dates, prefixes, strict=True)])
        rows.append(
            row(
                label,
                samples,
                f"random dates over the history; {statistics.mean(totals):.0f} docs "
                f"listed on average (max {max(totals)})",
            )
        )

    export = manifest["export_folder"]
    params = {"prefix": export, "history": "all"}
    probe = http.get(f"{api}/export", params=params, stream=True)
    probe.close()
    label = f"GET /export?prefix={export}&history=all"
    if probe.status_code >= 400:
        rows.append(na(label, f"HTTP {probe.status_code} {error_code(probe)}"))
        return rows
    seconds, sizes, notes = [], [], ""
    for _ in range(EXPORT_RUNS):
        started = time.perf_counter()
        response = http.get(f"{api}/export", params=params)
        seconds.append(time.perf_counter() - started)
        if response.status_code >= 400:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        sizes.append(len(response.content))
        notes = zip_summary(response.content)
    rows.append(
        row(
            label,
            [s * 1000 for s in seconds],
            f"{statistics.median(seconds):.2f} s median, {max(seconds):.2f} s max; "
            f"{statistics.median(sizes) / 1e6:.1f} MB; {notes}",
        )
    )
    return rows


def error_code(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError, requests.RequestException):
        return ""


def zip_summary(data: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return "not a zip"
    names = archive.namelist()
    text = f"{len(names)} files in the zip"
    if "manifest.json" in names:
        manifest = json.loads(archive.read("manifest.json"))
        files = manifest.get("files") if isinstance(manifest, dict) else manifest
        if isinstance(files, list):
            documents = {entry.get("path") for entry in files if isinstance(entry, dict)}
            text += f"; manifest.json: {len(files)} files of {len(documents)} documents"
    return text


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def repository_rows(folder: Path, manifest: dict) -> list[list[object]]:
    repo = folder / "instance" / "content.git"
    git = ["git", "-C", str(repo)]
    commits = subprocess.run(
        [*git, "rev-list", "--count", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    documents = subprocess.run(
        [*git, "ls-tree", "-r", "--name-only", "main"], capture_output=True, check=True
    ).stdout.count(b"\n")
    objects = subprocess.run([*git, "count-objects", "-v"], capture_output=True, text=True, check=True).stdout.split()
    loose = objects[objects.index("count:") + 1]
    build = manifest["build_seconds"]
    return [
        [
            "documents now (at HEAD)",
            f"{documents} ({len(manifest['paths']) - manifest['export_count']} in 20 folders, "
            f"{manifest['export_count']} in {manifest['export_folder']}/)",
        ],
        [
            "commits",
            f"{commits} over {manifest['start'][:10]} … {manifest['end'][:10]}: "
            f"{manifest['edits']} document edits, {manifest['multi']} multi-document commits, "
            f"{manifest['moves']} moves, {manifest['deletes']} deletes, {manifest['adds']} new documents",
        ],
        ["content.git on disk", f"{folder_size(repo) / 1e6:.0f} MB ({loose} loose objects, never packed)"],
        ["instance folder on disk (repository, catalog, index)", f"{folder_size(folder / 'instance') / 1e6:.0f} MB"],
        ["corpus", manifest["corpus"]],
        [
            "build time",
            f"{build:.0f} s: history written with GitStore.commit {manifest['history_seconds']:.0f} s "
            f"({manifest['commits'] / manifest['history_seconds']:.0f} commits/s), catalog and index "
            f"catch-up {manifest['catch_up_seconds']:.0f} s",
        ],
        ["machine", machine()],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--corpus", default="auto")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per operation")
    parser.add_argument("--workers", type=int, default=2)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--keep", type=Path, help="build into DIR (must be empty or absent) and keep it")
    where.add_argument("--reuse", type=Path, help="measure the build left in DIR by --keep")
    args = parser.parse_args()

    folder = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="kb-lifecycle-"))
    try:
        if args.reuse:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            print(f"reusing {folder}: {manifest['docs']} documents, {manifest['commits']} commits", flush=True)
        else:
            if args.keep and folder.exists() and any(folder.iterdir()):
                parser.error(f"{folder} is not empty (use --reuse {folder} to measure it again)")
            folder.mkdir(parents=True, exist_ok=True)
            manifest = build(folder, args.docs, args.commits, corpus_dir(args.corpus))
        instance = Instance(folder / "instance")
        rng = random.Random(11)
        with instance.serve(args.workers) as http:
            rows = measure(http, manifest, args.requests, rng)
        print_table(
            f"Lifecycle over HTTP ({manifest['docs']} documents, {manifest['commits']} commits, "
            f"kb serve, {args.workers} workers, loopback)",
            ["operation", "n", "p50 ms", "p95 ms", "notes"],
            rows,
        )
        print_table("Repository", ["", ""], repository_rows(folder, manifest))
    finally:
        if not (args.keep or args.reuse):
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\n(work folder {folder}{'' if args.keep or args.reuse else ', removed'})")


if __name__ == "__main__":
    main()
