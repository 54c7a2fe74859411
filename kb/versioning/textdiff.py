"""Text diffs and three-way merges of document files.

Kept apart from the git store because it works on text, not on repositories: the diff view
shows a unified diff and a side-by-side table (``side_by_side``), and a save based on a stale
revision is merged with the newer one (``merge3``) instead of being refused whenever anything
else changed in between.

The side-by-side table also marks the changed words inside a changed line, since a Markdown
paragraph is one long line and a whole-line diff would leave readers hunting for the edit.
Chinese and Japanese have no spaces between words, so every CJK character is a word of its own
there; otherwise one changed character would mark the whole sentence as changed.

Lines are split on ``\\n`` only. ``str.splitlines`` would also split on characters such as
U+2028 or form feeds, which are content in a Markdown file, not line ends.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from markupsafe import Markup, escape
from merge3 import Merge3

NO_NEWLINE = "\\ No newline at end of file\n"
MID_MARKER = "=======\n"


def _lines(text: str) -> list[str]:
    """``text`` as lines that keep their ``\\n``; the last one lacks it if the text does."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def unified_diff(old: str, new: str, old_label: str, new_label: str, context: int = 3) -> str:
    """A unified diff from ``old`` to ``new`` as git prints it; "" when they are equal.

    A last line without a newline is marked like git does, so the diff stays well-formed.
    """
    out = []
    for line in difflib.unified_diff(_lines(old), _lines(new), fromfile=old_label, tofile=new_label, n=context):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n" + NO_NEWLINE)
    return "".join(out)


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff, its two sides already HTML-escaped (safe as ``{{ row.old }}``).

    ``kind`` is "equal", "change" (changed words in ``<del>``/``<ins>``), "delete" (only ``old``),
    "insert" (only ``new``) or "skip": ``hidden`` unchanged lines folded away, both sides empty and
    the numbers those of the first hidden line. Numbers count from 1; None on a side without a line.
    """

    kind: str
    old_number: int | None
    new_number: int | None
    old: Markup
    new: Markup
    hidden: int = 0


# Han (with extensions and compatibility ideographs), kana, Hangul, CJK symbols and punctuation,
# fullwidth and halfwidth forms: each character is a word of its own.
_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u2ff0-\u303f\u3040-\u30ff\u3100-\u312f\u3130-\u318f"
    "\u3190-\u31ff\u3200-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff"
)
_TOKEN = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+|\\s+|.", re.DOTALL)


def _tokens(line: str) -> list[str]:
    """``line`` as words for a word diff: CJK characters one by one, other words, spaces, symbols."""
    return _TOKEN.findall(line)


def _word_diff(old: str, new: str) -> tuple[Markup, Markup]:
    """Both lines escaped, with the tokens only ``old`` has in ``<del>`` and only ``new`` has in ``<ins>``."""
    old_tokens, new_tokens = _tokens(old), _tokens(new)
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    old_out: list[Markup] = []
    new_out: list[Markup] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old_part, new_part = "".join(old_tokens[i1:i2]), "".join(new_tokens[j1:j2])
        if tag == "equal":
            old_out.append(escape(old_part))
            new_out.append(escape(new_part))
            continue
        if old_part:
            old_out.append(Markup("<del>{}</del>").format(old_part))
        if new_part:
            new_out.append(Markup("<ins>{}</ins>").format(new_part))
    return Markup("").join(old_out), Markup("").join(new_out)


def _equal_rows(old: list[str], new: list[str], i1: int, j1: int, count: int, keep: tuple[int, int]) -> list[DiffRow]:
    """Rows for ``count`` equal lines from ``old[i1]``/``new[j1]``, keeping ``keep`` lines at (start, end).

    The lines in between become one "skip" row, unless there are none.
    """
    head, tail = keep
    if head + tail >= count:
        head, tail = count, 0
    rows = [DiffRow("equal", i1 + k + 1, j1 + k + 1, escape(old[i1 + k]), escape(new[j1 + k])) for k in range(head)]
    if head < count:
        hidden = count - head - tail
        rows.append(DiffRow("skip", i1 + head + 1, j1 + head + 1, Markup(""), Markup(""), hidden=hidden))
        first = count - tail
        rows.extend(
            DiffRow("equal", i1 + k + 1, j1 + k + 1, escape(old[i1 + k]), escape(new[j1 + k]))
            for k in range(first, count)
        )
    return rows


def _replace_rows(old: list[str], new: list[str], i1: int, i2: int, j1: int, j2: int) -> list[DiffRow]:
    """Replaced lines paired one to one with their words marked; the extra ones deleted or inserted."""
    pairs = min(i2 - i1, j2 - j1)
    rows = []
    for k in range(pairs):
        old_html, new_html = _word_diff(old[i1 + k], new[j1 + k])
        rows.append(DiffRow("change", i1 + k + 1, j1 + k + 1, old_html, new_html))
    rows.extend(DiffRow("delete", i + 1, None, escape(old[i]), Markup("")) for i in range(i1 + pairs, i2))
    rows.extend(DiffRow("insert", None, j + 1, Markup(""), escape(new[j])) for j in range(j1 + pairs, j2))
    return rows


def side_by_side(old: str, new: str, context: int = 3) -> list[DiffRow]:
    """The rows of a side-by-side diff from ``old`` to ``new``, changed words marked in changed lines.

    Unchanged runs keep ``context`` lines next to each change and fold the rest into one "skip"
    row; a run at the start or end of the text keeps lines only on the side facing a change.
    So equal texts give a single "skip" row with every line, and two empty texts give ``[]``.

    Lines are compared without their ``\\n``: a text that only gains or loses its final newline
    shows no changed row here (the unified diff marks that).
    """
    if context < 0:
        raise ValueError("context must not be negative")
    old_lines = [line.removesuffix("\n") for line in _lines(old)]
    new_lines = [line.removesuffix("\n") for line in _lines(new)]
    opcodes = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes()
    rows: list[DiffRow] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            keep = (0 if index == 0 else context, 0 if index == len(opcodes) - 1 else context)
            rows.extend(_equal_rows(old_lines, new_lines, i1, j1, i2 - i1, keep))
        else:
            rows.extend(_replace_rows(old_lines, new_lines, i1, i2, j1, j2))
    return rows


@dataclass(frozen=True)
class MergeResult:
    """A merged text; when ``conflicts`` is true it holds git-style conflict markers."""

    text: str
    conflicts: bool


def merge3(base: str, ours: str, theirs: str, labels: tuple[str, str] = ("ours", "theirs")) -> MergeResult:
    """Line-based three-way merge of two edits of ``base``.

    Clean when the edits touch different lines, or make the same edit. Overlapping edits are
    kept side by side between ``<<<<<<< ours`` / ``=======`` / ``>>>>>>> theirs`` markers
    (``labels`` name the two sides, so an editor resolving them reads whose text is whose),
    narrowed to the lines that really differ.
    """
    base_lines, ours_lines, theirs_lines = _lines(base), _lines(ours), _lines(theirs)
    merger = Merge3(base_lines, ours_lines, theirs_lines)
    out: list[str] = []
    conflicts = False
    for region in merger.reprocess_merge_regions(merger.merge_regions()):
        kind = region[0]
        if kind == "unchanged":
            out.extend(base_lines[region[1] : region[2]])
        elif kind in ("a", "same"):
            out.extend(ours_lines[region[1] : region[2]])
        elif kind == "b":
            out.extend(theirs_lines[region[1] : region[2]])
        else:  # "conflict"
            conflicts = True
            if len(region) != 7:
                raise ValueError(f"unexpected merge region {region!r}")
            _, _, _, ours_start, ours_end, theirs_start, theirs_end = region
            out.append(f"<<<<<<< {labels[0]}\n")
            out.extend(_closed(ours_lines[ours_start:ours_end]))
            out.append(MID_MARKER)
            out.extend(_closed(theirs_lines[theirs_start:theirs_end]))
            out.append(f">>>>>>> {labels[1]}\n")
    return MergeResult(text="".join(out), conflicts=conflicts)


def _closed(lines: list[str]) -> list[str]:
    """Lines that all end in a newline, so a marker never lands at the end of a text line."""
    if lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + "\n"]
    return lines
