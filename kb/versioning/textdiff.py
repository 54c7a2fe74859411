"""Text diffs and three-way merges of document files.

Kept apart from the git store because it works on text, not on repositories: the diff view
shows a unified diff, and a save based on a stale revision is merged with the newer one
(``merge3``) instead of being refused whenever anything else changed in between.

Lines are split on ``\\n`` only. ``str.splitlines`` would also split on characters such as
U+2028 or form feeds, which are content in a Markdown file, not line ends.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from merge3 import Merge3

NO_NEWLINE = "\\ No newline at end of file\n"
START_MARKER = "<<<<<<< ours\n"
MID_MARKER = "=======\n"
END_MARKER = ">>>>>>> theirs\n"


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
class MergeResult:
    """A merged text; when ``conflicts`` is true it holds git-style conflict markers."""

    text: str
    conflicts: bool


def merge3(base: str, ours: str, theirs: str) -> MergeResult:
    """Line-based three-way merge of two edits of ``base``.

    Clean when the edits touch different lines, or make the same edit. Overlapping edits are
    kept side by side between ``<<<<<<< ours`` / ``=======`` / ``>>>>>>> theirs`` markers,
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
            _, _, _, ours_start, ours_end, theirs_start, theirs_end = region
            out.append(START_MARKER)
            out.extend(_closed(ours_lines[ours_start:ours_end]))
            out.append(MID_MARKER)
            out.extend(_closed(theirs_lines[theirs_start:theirs_end]))
            out.append(END_MARKER)
    return MergeResult(text="".join(out), conflicts=conflicts)


def _closed(lines: list[str]) -> list[str]:
    """Lines that all end in a newline, so a marker never lands at the end of a text line."""
    if lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + "\n"]
    return lines
