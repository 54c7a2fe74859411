"""Saves in-process, through the Flask test client: ``PUT /api/v1/docs/<path>`` with a Bearer
token, as ../shared/peers drives ``kb serve`` (its JSON: title, body, access, message), timed
with the stages of the one write path taken apart.

    .venv/bin/python bench/save_inprocess.py [--docs 1000] [--saves 100] [--corpus auto|DIR]
                                             [--warmup 3] [--workdir DIR] [--profile [request|after|all]] [--top 30]

Builds an instance with ``kb init`` and ``kb import`` (``--docs`` files of the corpus in
../shared/corpus, replicated under dupN/ as needed; an existing ``--workdir`` is reused), takes a
token for admin, then edits ``--saves`` existing documents one after another (the corpus file
with a paragraph appended, like the peer benchmark's edits). Printed: p50 / p95 / max of the
request (what the client waits for), and per stage, from wrappers this script puts around the
stores of the app (nothing in kb is changed): waiting for the write lock, the git commit, the
audit entry, the catalog tables, the search index, and the rest of the request (routing, auth,
validation, reading the current version, composing the file). The prerender that runs after
the answer (``call_on_close``) is timed apart and is not part of the request's time. Then ten
more edits are each searched for at once, before that work has run (as when the saver's next
request reaches another worker first): the search's time, and whether it found the edit.

``--profile [request|after|all]`` runs the saves once more under cProfile (the requests, the
work after the answers, or both) and prints the ``--top`` functions.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

from flask.testing import FlaskClient
from harness import PASSWORD, corpus_dir, imported_instance, percentile, print_table
from sqlalchemy import event

from kb import create_app
from kb.stores import catalog

STAGES = ("lock wait", "git commit", "audit", "catalog", "index", "other")
AFTER = ("index (after)", "merge (after)", "prerender and rest (after)")


class Stages:
    """Milliseconds per stage of the save in progress (``current``), kept per save; the work
    after the answer (``after`` set) is kept apart from the request's."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.saves: list[dict[str, float]] = []
        self.after = False
        self._depth: dict[str, int] = defaultdict(int)

    def add(self, name: str, started: float) -> None:
        self.current[f"{name} (after)" if self.after else name] += (time.perf_counter() - started) * 1000

    def timed(self, name: str, function: Callable) -> Callable:
        """``function`` timed as stage ``name``; a call inside another of the same stage is not
        counted twice."""

        def wrapper(*args: object, **kwargs: object) -> object:
            self._depth[name] += 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._depth[name] -= 1
                if not self._depth[name]:
                    self.add(name, started)

        return wrapper

    def done(self, total: float, later: float) -> None:
        """Close the save whose request took ``total`` ms and its work after the answer
        ``later`` ms: the catalog's time without the index's in it, the rest as "other"."""
        row = dict(self.current)
        row["catalog"] = row.get("catalog+index", 0.0) - row.get("index", 0.0)
        row.pop("catalog+index", None)
        row["other"] = total - sum(row.get(name, 0.0) for name in STAGES if name != "other")
        row["merge (after)"] = row.get("merge (after)", 0.0)
        row["index (after)"] = row.get("index (after)", 0.0) - row["merge (after)"]
        row["prerender and rest (after)"] = later - row["index (after)"] - row["merge (after)"]
        self.saves.append(row)
        self.current = defaultdict(float)


def instrument(app, stages: Stages) -> None:
    """Wrap the stages of ``kb.stores.write_path.writing`` on this app's stores (and catalog's module
    functions, which ``kb.stores.write_path`` calls through the module; the index is brought up to date
    in the request or after it, depending on the version of kb measured)."""
    stores = app.extensions["kb.stores"]
    store = stores.store
    original_lock = store.lock

    @contextlib.contextmanager
    def lock() -> Iterator[None]:
        started = time.perf_counter()
        with original_lock():
            stages.add("lock wait", started)
            yield

    store.lock = lock
    store.commit = stages.timed("git commit", store.commit)
    stores.audit.record = stages.timed("audit", stores.audit.record)
    catalog.record = stages.timed("catalog+index", catalog.record)
    for name in ("refresh_index", "_index_changes", "_catch_up_index"):
        if hasattr(catalog, name):
            setattr(catalog, name, stages.timed("index", getattr(catalog, name)))
    if hasattr(stores.index, "merge"):  # merging in a commit of its own, after the answer
        stores.index.merge = stages.timed("merge", stores.index.merge)


def edits(work: Path, paths: list[str], count: int, seed: int, skip: int) -> list[tuple[str, str, str]]:
    """(path, body, mark) of ``count`` edits of documents whose name has no dot (as the peer
    benchmark samples them), after ``skip`` for the warm-up; each appends a paragraph."""
    plain = [p for p in paths if "." not in p.rsplit("/", 1)[-1]]
    rng = random.Random(seed)
    chosen = rng.sample(plain, min(count + skip, len(plain)))
    while len(chosen) < count + skip:
        chosen.append(rng.choice(plain))
    out = []
    run = f"{time.time_ns() % 10**9:09d}"  # every run's texts are new blobs (nothing cached from the last run)
    for i, path in enumerate(chosen):
        mark = f"bench{seed}r{run}e{i:03d}"
        text = (work / "import" / f"{path}.md").read_text(encoding="utf-8", errors="replace").rstrip()
        out.append((path, f"{text}\n\n## 修订 {i}\n\n基准测试第 {i} 次修改（bench edit {i}），标记 {mark}。\n", mark))
    return out


def save(
    client: FlaskClient, bearer: dict, path: str, body: str, stages: Stages | None = None
) -> tuple[float, float, float, float]:
    """One save: (ms until the answer, CPU ms of this thread until then, ms and CPU ms of the
    work deferred until after it). On a shared machine the CPU time is the steadier figure;
    the difference is time waiting (fsync, other processes on the cores)."""
    started, started_cpu = time.perf_counter(), time.thread_time()
    response = put(client, bearer, path, body)
    answered, answered_cpu = time.perf_counter(), time.thread_time()
    if stages is not None:
        stages.after = True
    response.close()  # runs the call_on_close work (index, prerender), as the server does after sending
    if stages is not None:
        stages.after = False
    return (
        (answered - started) * 1000,
        (answered_cpu - started_cpu) * 1000,
        (time.perf_counter() - answered) * 1000,
        (time.thread_time() - answered_cpu) * 1000,
    )


def put(client: FlaskClient, bearer: dict, path: str, body: str):
    response = client.put(
        f"/api/v1/docs/{quote(path)}",
        headers=bearer,
        json={"title": path.rsplit("/", 1)[-1], "body": body, "access": "public", "message": "bench edit"},
    )
    if response.status_code not in (200, 201) or "revision" not in (response.get_json() or {}):
        raise RuntimeError(f"save {path}: HTTP {response.status_code} {response.get_data(as_text=True)[:200]}")
    return response


def search_right_after(
    client: FlaskClient, bearer: dict, planned: list[tuple[str, str, str]]
) -> list[tuple[float, bool]]:
    """Each edit saved and searched for at once, before the work after the answer has run (as
    when the saver's next request reaches another worker first): (search ms, edit found)."""
    out = []
    for path, body, mark in planned:
        response = put(client, bearer, path, body)
        started = time.perf_counter()
        hits = client.get(f"/api/v1/search?q={quote(mark)}&limit=10", headers=bearer).get_json()["hits"]
        out.append(((time.perf_counter() - started) * 1000, any(hit["path"] == path for hit in hits)))
        response.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--saves", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3, help="untimed saves first (other documents)")
    parser.add_argument("--corpus", default="auto")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", default=None)
    parser.add_argument(
        "--profile",
        nargs="?",
        const="request",
        choices=("request", "after", "all"),
        default=None,
        help="run the saves again under cProfile: the requests only, or with the work after them",
    )
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative", help="a pstats sort key: cumulative, tottime…")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="kb-save-"))
    instance, paths = imported_instance(work, args.docs, corpus_dir(args.corpus))

    app = create_app({"INSTANCE_DIR": str(instance.folder), "WTF_CSRF_ENABLED": False})
    stages = Stages()
    statements = [0]  # in the requests, not after them
    event.listen(
        app.extensions["kb.stores"].sessions.kw["bind"],
        "before_cursor_execute",
        lambda *_: statements.__setitem__(0, statements[0] + (not stages.after)),
    )
    client = app.test_client()
    token = client.post("/api/v1/tokens", json={"username": "admin", "password": PASSWORD}).get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    planned = edits(work, paths, args.saves, args.seed, args.warmup)
    warm, timed = planned[: args.warmup], planned[args.warmup :]
    for path, body, _mark in warm:
        save(client, bearer, path, body)

    instrument(app, stages)
    statements[0] = 0
    totals, cpus, deferred, deferred_cpus = [], [], [], []
    for path, body, _mark in timed:
        total, cpu, later, later_cpu = save(client, bearer, path, body, stages)
        stages.done(total, later)
        totals.append(total)
        cpus.append(cpu)
        deferred.append(later)
        deferred_cpus.append(later_cpu)
    sql_per_save = statements[0] / len(timed)
    probes = search_right_after(client, bearer, edits(work, paths, 10, args.seed + 1000, 0))

    print_table(
        f"in-process saves PUT /api/v1/docs/<path> ({len(paths)} documents, {len(timed)} saves, "
        "Flask test client, one thread)",
        [
            "N docs",
            "saves",
            "p50 ms",
            "p95 ms",
            "max ms",
            "mean ms",
            "CPU p50 ms",
            "SQL statements / request",
            "after the answer p50 / mean ms",
            "CPU mean ms, request + after the answer",
            "search right after a save p50 ms",
            "edit found by it",
        ],
        [
            [
                len(paths),
                len(timed),
                f"{statistics.median(totals):.1f}",
                f"{percentile(totals, 95):.1f}",
                f"{max(totals):.1f}",
                f"{statistics.fmean(totals):.1f}",
                f"{statistics.median(cpus):.1f}",
                f"{sql_per_save:.1f}",
                f"{statistics.median(deferred):.1f} / {statistics.fmean(deferred):.1f}",
                f"{statistics.fmean(cpus):.1f} + {statistics.fmean(deferred_cpus):.1f}",
                f"{statistics.median(ms for ms, _ in probes):.1f}",
                f"{sum(found for _, found in probes)} of {len(probes)}",
            ]
        ],
    )
    rows = []
    mean_total = statistics.fmean(totals)
    for name in (*STAGES, *AFTER):
        values = [row.get(name, 0.0) for row in stages.saves]
        share = f"{100 * statistics.fmean(values) / mean_total:.0f}%" if name in STAGES else "(after)"
        rows.append(
            [
                name,
                f"{statistics.fmean(values):.2f}",
                f"{statistics.median(values):.2f}",
                f"{percentile(values, 95):.2f}",
                f"{max(values):.2f}",
                share,
            ]
        )
    print_table(
        "stages of a save (ms; the last rows run after the answer)",
        ["stage", "mean", "p50", "p95", "max", "share of the request's mean"],
        rows,
    )

    if args.profile:
        profiler = cProfile.Profile()
        for path, body, _mark in edits(work, paths, args.saves, args.seed + 2000, 0):
            if args.profile != "after":
                profiler.enable()
            response = put(client, bearer, path, body)
            profiler.disable()
            if args.profile != "request":
                profiler.enable()
            response.close()
            profiler.disable()
        what = {
            "request": "the requests",
            "after": "the work after the answers",
            "all": "the requests and the work after the answers",
        }[args.profile]
        print(f"\n### cProfile of {args.saves} more saves ({what})\n")
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    app.extensions["kb.stores"].close()


if __name__ == "__main__":
    main()
