"""Commit trailers: every commit kb makes names its action and actor in git itself
(``KB-Action:``, ``KB-Actor:``, ``KB-Path:``, ``KB-Level:``), so the audit trail can be rebuilt
from the repository when a process died between the commit and its audit entry."""

from __future__ import annotations

import re

_LINE = re.compile(r"^(KB-[A-Za-z]+): ?(.*)$")


def with_trailers(message: str, **values: str | None) -> str:
    """``message`` followed by a blank line and one trailer per given value (keys such as
    ``action`` become ``KB-Action``); line breaks inside a value are flattened so a value can
    never forge another trailer."""
    lines = [f"KB-{key.capitalize()}: {' '.join(str(value).split())}" for key, value in values.items() if value]
    body = message.rstrip("\n")
    return f"{body}\n\n" + "\n".join(lines) + "\n" if lines else body + "\n"


def split_trailers(message: str) -> tuple[str, dict[str, str]]:
    """A commit message as (its text, its KB trailers): the trailers are the last paragraph when
    every line of it is a ``KB-*:`` line, by key without the prefix, in lower case
    (``{"action": "update", "actor": "zhang.wei", ...}``); none when there is no such paragraph."""
    text = message.rstrip("\n")
    head, sep, last = text.rpartition("\n\n")
    found: dict[str, str] = {}
    for line in last.splitlines() if sep else ():
        match = _LINE.match(line)
        if match is None:
            return text, {}
        found[match.group(1)[3:].lower()] = match.group(2).strip()
    return (head, found) if found else (text, {})
