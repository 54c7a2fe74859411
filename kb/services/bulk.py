"""Moving many documents at once: ``kb import``, ``kb export`` and the demo content."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kb import access, clock, docpath
from kb.access import Principal
from kb.document import decode, parse, read, serialize
from kb.errors import KBError
from kb.stores import Stores
from kb.stores.write_path import writing
from kb.versioning import Author, Write

IMPORT_AUTHOR = Author("kb import", "import@kb.local")
# who the audit trail names for imports and the demo content (the command line, not a user)
IMPORTER = Principal("kb-import", "admin", "secret", address="cli")
_UNSAFE = re.compile(r"[^\w.\-/]+")


@dataclass
class ImportReport:
    imported: int = 0
    revision: str | None = None
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)


def find_markdown(directory: Path) -> list[Path]:
    """The .md files under ``directory``, hidden folders (``.git``) excluded, in a stable order."""
    return sorted(
        p
        for p in directory.rglob("*.md")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def document_path(directory: Path, file: Path) -> str:
    """``DIR/a/b c.md`` -> ``a/b-c``: characters a path may not hold become ``-``."""
    relative = file.relative_to(directory).with_suffix("").as_posix()
    cleaned = "/".join(_UNSAFE.sub("-", segment).lstrip(".-") for segment in relative.split("/"))
    return docpath.validate(cleaned)


def prepare(directory: Path, file: Path, default_access: str) -> tuple[str, bytes]:
    """The document path and normalised file text of one file to import; raises KBError."""
    path = document_path(directory, file)
    # input to be imported, not a stored file: what cannot be read is refused (reported), not read
    doc = parse(decode(file.read_bytes()), default_title=file.stem, default_access=default_access)
    return path, serialize(doc).encode("utf-8")


def import_files(
    stores: Stores,
    directory: Path,
    files: list[Path],
    *,
    message: str = "",
    author: Author = IMPORT_AUTHOR,
    progress: Callable[[int], None] | None = None,
    date: dt.datetime | None = None,
    user: Principal = IMPORTER,
) -> ImportReport:
    """Import ``files`` as one commit, audited as ``user``'s; files that cannot be read are
    reported, not committed."""
    started = time.perf_counter()
    report = ImportReport()
    writes: dict[str, Write] = {}
    for file in files:
        try:
            path, data = prepare(directory, file, stores.default_access)
        except KBError as error:
            report.skipped.append(f"{file.relative_to(directory)}: {error.message}")
        else:
            writes[path] = Write(path, data)
        if progress:
            progress(1)
    if writes:
        report.revision = _commit(
            stores,
            list(writes.values()),
            author,
            message or f"导入 {len(writes)} 篇文档 (import)",
            date,
            user=user,
            detail=f"{len(writes)} documents from {directory}"[:500],
        )
    report.imported = len(writes)
    report.seconds = time.perf_counter() - started
    return report


def export_directory(stores: Stores, directory: Path) -> int:
    """Write each current document to ``directory/<path>.md``, exactly as stored."""
    count = 0
    for path, blob in stores.store.documents():
        target = directory / docpath.to_file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(stores.store.read_blob(blob))
        count += 1
    return count


# The demo gets a believable history: a first draft by one author, completed in two later
# commits by another, so history and diffs show something on the first start.
_DEMO_AUTHORS = (Author("张伟", "zhang.wei@example.com"), Author("李娜", "li.na@example.com"))
_SECTION = re.compile(r"^## ", re.M)


def import_demo(stores: Stores, content: Path) -> int:
    files = find_markdown(content)
    full = dict(prepare(content, file, stores.default_access) for file in files)
    drafts = {path: _draft(data) for path, data in full.items()}
    now = clock.now().replace(microsecond=0)
    _commit(
        stores,
        [Write(p, d) for p, d in drafts.items()],
        _DEMO_AUTHORS[0],
        "导入服务管理手册初稿",
        now - dt.timedelta(days=60),
    )
    unfinished = sorted(p for p in full if drafts[p] != full[p])
    half = len(unfinished) // 2
    steps = (
        (unfinished[:half], _DEMO_AUTHORS[1], "补充处理步骤与检查清单", 40),
        (unfinished[half:], _DEMO_AUTHORS[0], "完善各章节内容并校对", 20),
    )
    for paths, author, message, days_ago in steps:
        if paths:
            _commit(stores, [Write(p, full[p]) for p in paths], author, message, now - dt.timedelta(days=days_ago))
    return len(full)


def _draft(data: bytes) -> bytes:
    """The document without its last ``##`` section, when it has at least three."""
    text = data.decode("utf-8")
    sections = [m.start() for m in _SECTION.finditer(text)]
    return text[: sections[-1]].rstrip().encode("utf-8") + b"\n" if len(sections) >= 3 else data


def _commit(
    stores: Stores,
    writes: list[Write],
    author: Author,
    message: str,
    date: dt.datetime | None,
    *,
    user: Principal = IMPORTER,
    detail: str = "",
) -> str:
    """One commit of many documents through the one write path, audited as ``user``'s."""
    level = access.strictest(*(read(write.data, write.path).access for write in writes))
    with writing(stores, user, "import", "") as w:
        return w.commit(
            writes, message, level=level, detail=detail or f"{len(writes)} documents", date=date, author=author
        )
