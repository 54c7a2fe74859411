"""The store's own value types.

The rest of kb codes against these small frozen dataclasses instead of pygit2 objects, so that
pygit2 stays an implementation detail of ``kb.versioning`` and values can cross threads and be
cached freely.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Author:
    """Who made a commit; recorded as both author and committer."""

    name: str
    email: str


@dataclass(frozen=True)
class Revision:
    """One commit of the content repository."""

    id: str  # 40-hex commit id
    author: Author
    date: dt.datetime  # tz-aware: the commit's author time with its own UTC offset
    message: str  # without kb's trailers
    parents: tuple[str, ...]
    # the KB-* trailers (``kb.versioning.trailers``), key without prefix, in lower case
    trailers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Write:
    """Create or replace the document at ``path`` with ``data`` (the whole file)."""

    path: str
    data: bytes


@dataclass(frozen=True)
class Delete:
    """Remove the document at ``path``; its past versions stay readable at older revisions."""

    path: str


@dataclass(frozen=True)
class Move:
    """Give the document at ``old`` the new path ``new``, content unchanged."""

    old: str
    new: str


@dataclass(frozen=True)
class WriteSetting:
    """Create or replace kb's own file ``path`` under ``.kb/`` (the synonym list): it lives in
    the repository for its history, but is no document, so no catalog, index or listing sees it
    (no document path may start with a dot)."""

    path: str
    data: bytes


@dataclass(frozen=True)
class WriteFile:
    """Create or replace the file ``name`` attached to the document at ``document`` (which must
    exist after the commit): stored beside it, under ``<document>.files/``."""

    document: str
    name: str
    data: bytes


@dataclass(frozen=True)
class DeleteFile:
    """Remove the file ``name`` of the document at ``document``; older revisions keep it."""

    document: str
    name: str


Operation = Write | Delete | Move | WriteSetting | WriteFile | DeleteFile


@dataclass(frozen=True)
class StoredFile:
    """A file attached to a document, as of some revision."""

    name: str
    blob: str  # 40-hex blob id
    size: int


@dataclass(frozen=True)
class Change:
    """What one commit did to one document, compared with its first parent."""

    kind: str  # "add" | "modify" | "delete" | "move"
    path: str  # the document path after the change; for "delete" the removed path
    old_path: str | None  # the path before a "move", else None
    blob: str | None  # 40-hex blob id of the new content; None for "delete"


ADD = "add"
MODIFY = "modify"
DELETE = "delete"
MOVE = "move"
