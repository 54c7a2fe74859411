"""Which documents a body links to.

The catalog calls this for every version it replays, so it must be cheap: regular expressions
over the Markdown source, not a render. It finds what the page would render as a link to a
document: inline links ``[text](href "title")`` and reference definitions ``[id]: href``,
outside code (fenced and indented code blocks, code spans) and HTML comments, resolved by the
renderer's own rule (``kb.render.document_link``).
"""

from __future__ import annotations

import functools
import posixpath
import re

from markdown.blockprocessors import ReferenceProcessor
from markdown.extensions.fenced_code import FencedBlockPreprocessor

from kb import docpath
from kb.errors import InvalidPath
from kb.render import document_link

# Python-Markdown's own patterns for a fenced code block and a reference definition
_FENCED = FencedBlockPreprocessor.FENCED_BLOCK_RE
_REFERENCE = ReferenceProcessor.RE
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BLOCKS = re.compile(r"\n[ \t]*\n")
# a code span: a run of backticks up to the next run of the same length (within one block)
_CODE_SPAN = re.compile(r"(?<!\\)(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
# [text](href ...): the text may hold one level of brackets ([![icon](a.png)](doc)), the
# parenthesis one level of parentheses; not an image (![alt](src)), not an escaped \[
_INLINE = re.compile(
    r"(?<![!\\])\[(?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.)*\])*\]"
    r"\(([^()\n]*(?:\([^()\n]*\)[^()\n]*)*)\)"
)
# the address after any "](" (up to a space or parenthesis): every inline link's, and more
_ANY_HREF = re.compile(r"\]\(\s*<?([^\s()<>]*)")
_TITLE = re.compile(r"""\s+(?:"[^"\n]*"|'[^'\n]*')\s*$""")
_LIST_ITEM = re.compile(r"[ ]{0,3}(?:[*+-]|\d+[.)])[ \t]")
_INDENTED_AFTER_BLANK = re.compile(r"(?:^|\n)[ \t]*\n(?: {4}|\t)|^(?: {4}|\t)")


def link_targets(body: str, path: str) -> set[str]:
    """The paths of the documents ``body`` (of the document at ``path``) links to, itself not
    included. A target need not exist; one that is no valid document path is left out."""
    if "](" not in body and "]:" not in body:
        return set()
    folder = posixpath.dirname(path)
    # most links lead elsewhere (other sites, images, this page): when no address after a "](" is
    # a document, and there is no reference definition, the body is not read for code at all
    if "]:" not in body and not {_target(folder, href) for href in _ANY_HREF.findall(body)} - {None, path}:
        return set()
    targets = {_target(folder, href) for href in set(_hrefs(body))}
    return {target for target in targets if target is not None and target != path}


@functools.lru_cache(maxsize=16384)
def _target(folder: str, href: str) -> str | None:
    """The valid document path ``href`` leads to from ``folder``, or None (the same links recur
    across a knowledge base, so the answers are kept)."""
    target = document_link(folder, href)
    if target is None:
        return None
    try:
        return docpath.validate(target)
    except InvalidPath:
        return None


def _hrefs(body: str) -> list[str]:
    text = body.replace("\r\n", "\n")
    if "```" in text or "~~~" in text:
        text = _FENCED.sub("", text)
    if "<!--" in text:
        text = _COMMENT.sub(" ", text)
    if _INDENTED_AFTER_BLANK.search(text):
        text = _without_indented_code(text)
    hrefs = [match.group(2).lstrip("<").rstrip(">") for match in _REFERENCE.finditer(text)] if "]:" in text else []
    for block in _BLOCKS.split(text):
        if "](" not in block:
            continue
        if "`" in block:
            block = _CODE_SPAN.sub(" ", block)
        for match in _INLINE.finditer(block):
            hrefs.append(_href(match.group(1)))
    return hrefs


def _href(inside: str) -> str:
    """The address in what stands between the parentheses of an inline link."""
    inside = inside.strip()
    if inside.startswith("<"):
        end = inside.find(">")
        return inside[1:end] if end > 0 else inside[1:]
    title = _TITLE.search(inside)
    return inside[: title.start()] if title else inside


def _without_indented_code(text: str) -> str:
    """``text`` with its indented code blocks blanked: lines indented by four spaces or a tab
    after a blank line, unless they continue a list item."""
    lines = text.split("\n")
    in_list = in_code = False
    blank_before = True
    for number, line in enumerate(lines):
        if not line.strip():
            blank_before = True
            continue
        if line.startswith(("    ", "\t")):
            if in_code or (blank_before and not in_list):
                in_code = True
                lines[number] = ""
                blank_before = False
                continue
        else:
            in_code = False
            if _LIST_ITEM.match(line):
                in_list = True
            elif blank_before:
                in_list = False
        blank_before = False
    return "\n".join(lines)
