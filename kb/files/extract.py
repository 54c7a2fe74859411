"""The text inside an attachment, for the index, extracted where a hostile file can do no harm.

Parsers of PDF and Office files are large and meet files made to break them: a zip bomb, a PDF
whose pages never end, XML that expands without limit. So every extraction runs in a child
process, a fresh interpreter (nothing of the server's threads, locks or sockets, which a fork
would copy mid-flight; not ``multiprocessing``'s spawn either, which would import the parent's
main script, Flask and all, into every child) that

- gets an address-space limit (``RLIMIT_AS``) and a CPU-time limit before it parses anything,
- refuses an Office file whose zip directory declares parts that inflate past a limit, in all
  or at a suspicious ratio (Python's zipfile never inflates a part beyond its declared size),
- stops collecting text at a number of characters,
- and is killed when it has not answered within the wall-time limit.

``extract`` never raises and never waits past its limit: a corrupt or hostile file is an
``Extraction`` without text and with the reason, which the caller records.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import resource
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kb.files import types

if TYPE_CHECKING:
    from pptx.shapes.base import BaseShape
    from pptx.shapes.shapetree import SlideShapes

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """How far one extraction may go. ``max_ratio`` applies to parts of more than
    ``ratio_floor`` bytes: small XML parts compress far better than anything dangerous."""

    seconds: float = 30.0
    memory_bytes: int = 1024 * MIB
    max_chars: int = 1_000_000
    max_inflated_bytes: int = 256 * MIB
    max_members: int = 10_000
    max_ratio: int = 200
    ratio_floor: int = 10 * MIB


LIMITS = Limits()


@dataclass(frozen=True)
class Extraction:
    """The text of one file and how getting it went. ``reason`` is None when ``text`` is all of
    the file's text; otherwise it says, in English for the log and ``kb check``, why there is
    none (it starts with ``timeout``, ``memory``, ``zip bomb``, ``corrupt``, ``encrypted``,
    ``crashed``, ``no text`` or ``not run``) or why the text stops early (``truncated``).
    ``seconds`` is the wall time, child start included; ``peak_rss`` the child's peak resident
    memory in bytes (0 when unknown)."""

    text: str
    reason: str | None
    seconds: float
    peak_rss: int = 0


class _Full(Exception):
    """Raised by _Collector when the text reached its limit."""


class _Collector:
    """The pieces of text, up to ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> None:
        room = self.limit - self.size
        self.parts.append(text[:room])
        self.size += min(len(text), room)
        if len(text) > room:
            raise _Full

    def text(self) -> str:
        return "".join(self.parts)


def _pdf(data: bytes, out: _Collector) -> str | None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except Exception:  # pypdf needs the cryptography package for AES; either way, no text
            return "encrypted"
        if not opened:
            return "encrypted"
    for page in reader.pages:
        out.add(page.extract_text() + "\n")
    return None


def _docx(data: bytes, out: _Collector) -> str | None:
    import docx
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            out.add(block.text + "\n")
        else:
            for row in block.rows:
                out.add("\t".join(_distinct(cell.text for cell in row.cells)) + "\n")
    return None


def _xlsx(data: bytes, out: _Collector) -> str | None:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            out.add(sheet.title + "\n")
            for row in sheet.iter_rows(values_only=True):
                cells = [str(value) for value in row if value is not None]
                if cells:
                    out.add("\t".join(cells) + "\n")
    finally:
        workbook.close()
    return None


def _pptx(data: bytes, out: _Collector) -> str | None:
    from pptx import Presentation

    for slide in Presentation(io.BytesIO(data)).slides:
        for shape in _shapes(slide.shapes):
            if shape.has_text_frame:
                out.add(shape.text_frame.text + "\n")  # type: ignore[attr-defined]
            if getattr(shape, "has_table", False):
                for row in shape.table.rows:  # type: ignore[attr-defined]
                    out.add("\t".join(_distinct(cell.text for cell in row.cells)) + "\n")
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            out.add(slide.notes_slide.notes_text_frame.text + "\n")
    return None


def _shapes(shapes: SlideShapes | Iterable[BaseShape]) -> Iterator[BaseShape]:
    """The shapes of a slide, those inside groups included."""
    for shape in shapes:
        inner = getattr(shape, "shapes", None)
        if inner is not None:
            yield from _shapes(inner)
        else:
            yield shape


def _distinct(cells: Iterable[str]) -> list[str]:
    """A row's cell texts without the repeats a merged cell gives."""
    row: list[str] = []
    for text in cells:
        if not row or row[-1] != text:
            row.append(text)
    return row


def _text(data: bytes, out: _Collector) -> str | None:
    out.add(data.decode("utf-8-sig", errors="replace"))
    return None


_EXTRACTORS: dict[str, Callable[[bytes, _Collector], str | None]] = {
    types.PDF.content_type: _pdf,
    types.DOCX.content_type: _docx,
    types.XLSX.content_type: _xlsx,
    types.PPTX.content_type: _pptx,
    types.TEXT.content_type: _text,
    types.CSV.content_type: _text,
}
_ZIPPED = frozenset((types.DOCX.content_type, types.XLSX.content_type, types.PPTX.content_type))


def extractable(content_type: str) -> bool:
    """Whether files of this type have text ``extract`` reads."""
    return content_type in _EXTRACTORS


def zip_bomb(data: bytes, limits: Limits = LIMITS) -> str | None:
    """Why the zip's directory alone shows it is too much to open, or None. Reads only the
    directory: the declared sizes are binding, as zipfile inflates no part past its own."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    if len(members) > limits.max_members:
        return f"zip bomb: {len(members)} parts (limit {limits.max_members})"
    inflated = sum(member.file_size for member in members)
    if inflated > limits.max_inflated_bytes:
        return f"zip bomb: parts inflate to {inflated // MIB} MiB (limit {limits.max_inflated_bytes // MIB} MiB)"
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > limits.ratio_floor and ratio > limits.max_ratio:
            return f"zip bomb: {member.filename} inflates {ratio:.0f} times (limit {limits.max_ratio})"
    return None


def _child() -> None:
    """The child's whole life: limit itself, read the file from stdin, extract, write
    ``[text, reason, peak RSS]`` as JSON to stdout (JSON, not pickle: were a parser subverted,
    its process still could not run code in the parent's by answering), exit."""
    content_type, limits = sys.argv[1], Limits(**json.loads(sys.argv[2]))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    cpu = math.ceil(limits.seconds) + 1  # a backstop should the parent be gone
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    logging.disable(logging.CRITICAL)  # pypdf logs every repair; the reason says what matters
    out = _Collector(limits.max_chars)
    try:
        data = sys.stdin.buffer.read()
        reason = zip_bomb(data, limits) if content_type in _ZIPPED else None
        if reason is None:
            reason = _EXTRACTORS[content_type](data, out)
    except _Full:
        reason = f"truncated: the first {limits.max_chars} characters"
    except MemoryError:
        reason = f"memory: over {limits.memory_bytes // MIB} MiB"
    except Exception as error:  # a parser meets files made to break it: any failure is this file's
        # lxml and others report a failed allocation as their own error: near the limit, it was one
        near_limit = _status("VmPeak") > 0.9 * limits.memory_bytes
        kind = f"memory: over {limits.memory_bytes // MIB} MiB" if near_limit else "corrupt"
        reason = f"{kind}: {type(error).__name__}: {error}"[:300]
    text = out.text() if reason is None or reason.startswith("truncated") else ""
    sys.stdout.write(json.dumps([text, reason, _status("VmHWM")], ensure_ascii=False))


def _status(field: str) -> int:
    """A size in bytes from this process's /proc status: ``VmHWM``, the peak resident memory
    (``ru_maxrss`` would keep the forking parent's), or ``VmPeak``, the peak address space that
    RLIMIT_AS limits; 0 where Linux's /proc is not."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# The child is a fresh interpreter (-I: no PYTHON* variables, no user site, not the cwd on its path)
# that imports this module from the same kb as the parent's, whether installed or a checkout.
_KB_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD = f"import sys; sys.path.insert(0, {_KB_ROOT!r}); from kb.files.extract import _child; _child()"


def extract(data: bytes, content_type: str, limits: Limits = LIMITS) -> Extraction:
    """The text of ``data`` (of the type ``kb.files.types.detect`` gave), extracted in a bounded
    child process. Never raises and returns within about ``limits.seconds``; a reason starting
    with ``not run`` is the machine's (no process could be started), so worth a later retry."""
    if not extractable(content_type):
        return Extraction("", f"no text: {content_type} is not read", 0.0)
    start = time.monotonic()
    argv = [sys.executable, "-I", "-c", _CHILD, content_type, json.dumps(dataclasses.asdict(limits))]
    try:
        child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError as error:
        return Extraction("", f"not run: {type(error).__name__}: {error}", time.monotonic() - start)
    with child:
        try:
            answer, _ = child.communicate(data, timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            return Extraction("", f"timeout: over {limits.seconds:g} s", time.monotonic() - start)
    seconds = time.monotonic() - start
    try:
        text, reason, peak = json.loads(answer)
    except ValueError:  # no answer, or half of one: the child died
        return Extraction("", _death(child.returncode, limits), seconds)
    return Extraction(str(text), reason, seconds, int(peak))


def _death(returncode: int, limits: Limits) -> str:
    """Why a child ended without answering: its limits' signals, or a crash in a parser."""
    if returncode == -signal.SIGXCPU:
        return f"timeout: over {math.ceil(limits.seconds) + 1} s of CPU"
    if returncode == -signal.SIGKILL:
        return "memory: killed (out of memory)"
    return f"crashed: exit code {returncode}"
