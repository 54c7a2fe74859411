"""What accounts, access checks and the audit trail cost.

Over HTTP through ``kb serve`` (two workers, loopback): viewing an internal document (no audit
entry) against a confidential one (an audited read), by token and by session cookie; signing
in (Argon2id with the production parameters); saving (with its audit entry); querying the
trail. In-process: appending to the trail from one and from two processes at once, and
verifying a chain of ``--entries`` entries.

    .venv/bin/python bench/access_bench.py [--docs 1000] [--entries 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from harness import PASSWORD, Instance, corpus_dir, print_table, summary, timed, write_corpus

from kb import create_app
from kb.access import Principal

SAMPLES = 200


def http_rows(work: Path, docs: int) -> list[list]:
    folder = work / "http"
    paths = write_corpus(folder / "import", docs, corpus_dir())
    instance = Instance(folder / "instance")
    instance.kb("init")
    instance.kb("import", str(folder / "import"))
    rng = random.Random(7)
    rows = []
    with instance.serve() as http:
        base = http.base  # type: ignore[attr-defined]
        confidential = paths[:50]
        for path in confidential:
            current = http.get(f"{base}/api/v1/docs/{quote(path)}").json()
            http.put(
                f"{base}/api/v1/docs/{quote(path)}",
                json={"title": current["title"], "body": current["body"], "access": "confidential"},
            ).raise_for_status()
        internal = paths[50:]
        browser = requests.Session()
        form = browser.get(f"{base}/login").text
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        browser.post(f"{base}/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf})

        def sample(pool: list[str]) -> list[str]:
            return [rng.choice(pool) for _ in range(SAMPLES)]

        cases = [
            ("view internal document, API token", lambda p: http.get(f"{base}/api/v1/docs/{quote(p)}"), internal),
            (
                "view confidential document (audited), API token",
                lambda p: http.get(f"{base}/api/v1/docs/{quote(p)}"),
                confidential,
            ),
            ("view internal document page, session cookie", lambda p: browser.get(f"{base}/docs/{quote(p)}"), internal),
            (
                "view confidential document page (audited), session cookie",
                lambda p: browser.get(f"{base}/docs/{quote(p)}"),
                confidential,
            ),
        ]
        for name, call, pool in cases:
            for path in pool[:3]:
                call(path)
            rows.append([name, summary(timed([lambda p=p, c=call: c(p) for p in sample(pool)]))])
        rows.append(
            [
                "sign in (POST /api/v1/tokens, Argon2id)",
                summary(
                    timed(
                        [
                            lambda: http.post(f"{base}/api/v1/tokens", json={"username": "admin", "password": PASSWORD})
                            for _ in range(40)
                        ]
                    )
                ),
            ]
        )
        rows.append(
            [
                "save (commit, index, audit entry)",
                summary(
                    timed(
                        [
                            lambda i=i: http.put(
                                f"{base}/api/v1/docs/bench/审计-{i % 20}",
                                json={"title": f"审计 {i}", "body": f"第 {i} 次保存。\n"},
                            )
                            for i in range(100)
                        ]
                    )
                ),
            ]
        )
        entries = http.get(f"{base}/api/v1/audit", params={"per_page": 1}).json()["total"]
        rows.append(
            [
                f"audit query by user, 50 per page ({entries} entries)",
                summary(timed([lambda: http.get(f"{base}/api/v1/audit", params={"user": "admin"}) for _ in range(50)])),
            ]
        )
    return rows


def _append(folder: str, count: int, start: Any) -> None:
    app = create_app({"INSTANCE_DIR": folder})
    trail = app.extensions["kb.stores"].audit
    who = Principal("bench", "admin", "secret", address="127.0.0.1")
    start.wait()  # timing starts once every process has built its app
    for i in range(count):
        trail.record(who, "read", f"bench/{i % 100}", level="confidential")
    app.extensions["kb.stores"].close()


def trail_rows(work: Path, entries: int) -> list[list]:
    folder = str(work / "trail")
    rows = []
    context = multiprocessing.get_context("fork")
    for processes in (1, 2):
        count = 2000
        start = context.Barrier(processes + 1)
        workers = [context.Process(target=_append, args=(folder, count, start)) for _ in range(processes)]
        for worker in workers:
            worker.start()
        start.wait()
        started = time.perf_counter()
        for worker in workers:
            worker.join()
        seconds = time.perf_counter() - started
        rows.append([f"append, {processes} process(es) × {count}", f"{processes * count / seconds:.0f} entries/s"])
    app = create_app({"INSTANCE_DIR": folder})
    stores = app.extensions["kb.stores"]
    who = Principal("bench", "admin", "secret", address="127.0.0.1")
    with stores.sessions() as session:
        have = stores.audit.verify(session).entries
    with stores.audit.transaction() as session:
        for i in range(max(entries - have, 0)):
            stores.audit.append(session, who, "read", f"bench/{i % 100}", level="confidential")
    with stores.sessions() as session:
        started = time.perf_counter()
        result = stores.audit.verify(session)
        seconds = time.perf_counter() - started
    rows.append(
        [
            f"verify the whole chain ({result.entries} entries, ok={result.ok})",
            f"{seconds:.2f} s ({result.entries / seconds:.0f} entries/s)",
        ]
    )
    stores.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        rows = http_rows(Path(work), args.docs)
        print_table(
            f"Access and audit over HTTP ({args.docs} documents, kb serve, 2 workers), ms p50 / p95",
            ["operation", "p50 / p95 ms"],
            rows,
        )
        print_table("Audit trail in-process (SQLite)", ["operation", "figure"], trail_rows(Path(work), args.entries))


if __name__ == "__main__":
    main()
