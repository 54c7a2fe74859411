"""Loading a benchmark corpus (a folder of Markdown files) as ``IndexedDoc`` values.

The corpus lives outside the project (``../shared/corpus`` next to the repository); nothing
from it is copied into the project. A document's path is its relative file path without
``.md``; its title is the front-matter ``title`` or the first ``# heading`` (``kb.document``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kb.document import parse
from kb.errors import InvalidDocument
from kb.search import IndexedDoc

_BASE_TIME = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def default_corpus_root() -> Path:
    """``<repo>/../shared/corpus``: the shared corpus folder beside the checkout."""
    return Path(__file__).resolve().parents[2] / "shared" / "corpus"


def resolve_corpus(path: Path) -> Path:
    """A corpus folder; given a folder of corpora (``shared/corpus``), the first one that has a
    ``<name>.queries.jsonl`` beside it."""
    for queries in sorted(path.glob("*.queries.jsonl")):
        candidate = path / queries.name.removesuffix(".queries.jsonl")
        if candidate.is_dir():
            return candidate
    return path


def corpus_files(corpus: Path) -> list[Path]:
    """Markdown files of a corpus; the top-level README describes the corpus and is skipped."""
    return sorted(p for p in corpus.rglob("*.md") if p.relative_to(corpus) != Path("README.md"))


def load_docs(corpus: Path, copies: int = 1, limit: int | None = None) -> list[IndexedDoc]:
    """The corpus as documents; ``copies > 1`` repeats it under ``dup1/``, ``dup2/``... paths."""
    base = [_doc(corpus, p, i) for i, p in enumerate(corpus_files(corpus))]
    docs = list(base)
    for n in range(1, copies):
        docs.extend(
            IndexedDoc(**{**d.__dict__, "path": f"dup{n}/{d.path}", "updated_at": d.updated_at - dt.timedelta(days=n)})
            for d in base
        )
    return docs[:limit] if limit else docs


def _doc(corpus: Path, path: Path, i: int) -> IndexedDoc:
    rel = path.relative_to(corpus).as_posix().removesuffix(".md")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        parsed = parse(text, default_title=path.stem)
        title, body, tags = parsed.title, parsed.body, parsed.tags
    except InvalidDocument:
        title, body, tags = path.stem, text, []
    return IndexedDoc(
        path=rel,
        title=title,
        body=body,
        tags=tags,
        access="internal",
        status="published",
        owner="bench",
        revision=f"{i:040x}",
        updated_at=_BASE_TIME + dt.timedelta(minutes=i),
    )


@dataclass
class Query:
    query: str
    expect: str  # document path (the file path without .md)
    lang: str
    kind: str


def load_queries(path: Path) -> Iterator[Query]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            yield Query(row["query"], row["expect"].removesuffix(".md"), row.get("lang", ""), row.get("kind", ""))
