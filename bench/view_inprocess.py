"""Page views in-process, through the Flask test client: no HTTP, no second process, so the
figures are kb's own work per request (what a worker spends), and a profile can be taken.

    .venv/bin/python bench/view_inprocess.py [--docs 1000] [--views 300] [--corpus auto|DIR]
                                             [--profile page|page-token|api|search] [--top 30]

Builds an instance with ``kb init`` and ``kb import`` (``--docs`` files of the corpus, or
generated ones; an existing ``--workdir`` is reused), signs in as admin (a session cookie
for pages, a Bearer token for the API), then times the document page (GET /docs/<path>, by
cookie and by token), the document API (GET /api/v1/docs/<path>) and the search page:
p50 / p95 ms (wall), CPU p50 ms, requests/s, SQL statements per request; and this process's
RSS after import, after building the app and after the views. ``--profile`` runs one of them
again under cProfile and prints the ``--top`` functions by ``--sort`` (cumulative by default).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from flask.testing import FlaskClient
from harness import PASSWORD, corpus_dir, imported_instance, percentile, print_table
from sqlalchemy import event

from kb import create_app

SEARCHES = ("服务请求", "数据库 备份", "TiDB", "升级", "监控 告警", "SQL", "配置")


def run(calls: list[Callable[[], object]]) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each call: on a shared machine the CPU time of this process
    is the steadier figure (it leaves out the time other processes had the core)."""
    wall, cpu = [], []
    for call in calls:
        started, started_cpu = time.perf_counter(), time.thread_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return wall, cpu


def rss_mb() -> float:
    """This process's resident set in MB (Linux; 0 elsewhere)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    return int(status.split("VmRSS:", 1)[1].split()[0]) / 1024


def checked(client: FlaskClient, url: str, **kwargs: object) -> Callable[[], object]:
    def call() -> object:
        response = client.get(url, **kwargs)  # type: ignore[arg-type]
        if response.status_code >= 400:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
        return response

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--views", type=int, default=300)
    parser.add_argument("--corpus", default="auto")
    parser.add_argument("--profile", choices=("page", "page-token", "api", "search"), default=None)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative", help="a pstats sort key: cumulative, tottime…")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    memory = [("kb imported", rss_mb())]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="kb-view-"))
    instance, paths = imported_instance(work, args.docs, corpus_dir(args.corpus))

    app = create_app({"INSTANCE_DIR": str(instance.folder), "WTF_CSRF_ENABLED": False})
    memory.append(("app created", rss_mb()))
    statements = [0]
    event.listen(
        app.extensions["kb.stores"].sessions.kw["bind"],
        "before_cursor_execute",
        lambda *_: statements.__setitem__(0, statements[0] + 1),
    )
    page = app.test_client()
    if page.post("/login", data={"username": "admin", "password": PASSWORD}).status_code >= 400:
        raise RuntimeError("sign-in failed")
    api = app.test_client()
    token = api.post("/api/v1/tokens", json={"username": "admin", "password": PASSWORD}).get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}

    rng = random.Random(7)
    sample = [rng.choice(paths) for _ in range(args.views)]
    cases: dict[str, list[Callable[[], object]]] = {
        "page": [checked(page, f"/docs/{quote(p)}") for p in sample],
        "page-token": [checked(api, f"/docs/{quote(p)}", headers=bearer) for p in sample],
        "api": [checked(api, f"/api/v1/docs/{quote(p)}", headers=bearer) for p in sample],
        "search": [checked(page, f"/search?q={quote(SEARCHES[i % len(SEARCHES)])}") for i in range(args.views // 3)],
    }
    names = {
        "page": "document page GET /docs/<path> (session cookie)",
        "page-token": "document page GET /docs/<path> (Bearer token, as ../shared/peers does)",
        "api": "document API GET /api/v1/docs/<path>",
        "search": "search page GET /search?q=",
    }
    rows = []
    for key, calls in cases.items():
        run(calls[:10])  # warm-up: prerendered pages, templates compiled, connections open
        statements[0] = 0
        samples, cpu = run(calls)
        rows.append(
            [
                names[key],
                f"{statistics.median(samples):.2f}",
                f"{percentile(samples, 95):.2f}",
                f"{statistics.median(cpu):.2f}",
                f"{len(samples) / (sum(samples) / 1000):.0f}",
                f"{statements[0] / len(calls):.1f}",
            ]
        )
    print_table(
        f"in-process views ({args.docs} documents, Flask test client, one thread)",
        ["request", "p50 ms", "p95 ms", "CPU p50 ms", "requests/s", "SQL statements / request"],
        rows,
    )
    memory.append(("after the views above", rss_mb()))
    print_table(
        "resident memory of this process (what one worker holds)",
        ["when", "RSS MB"],
        [[when, f"{mb:.0f}"] for when, mb in memory],
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, cases[args.profile])
        print(f"\n### cProfile of {names[args.profile]} × {len(cases[args.profile])}\n")
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    app.extensions["kb.stores"].close()


if __name__ == "__main__":
    main()
