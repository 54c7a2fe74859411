"""The git store: documents, their versions, history, moves and the write lock.

The one package that talks to git (through pygit2). Everything it returns is one of the small
frozen dataclasses re-exported here, never a pygit2 object.
"""

from kb.versioning.model import (
    Author,
    Change,
    Delete,
    DeleteFile,
    Move,
    Operation,
    Revision,
    StoredFile,
    Write,
    WriteFile,
    WriteSetting,
)
from kb.versioning.store import GitStore, StoreBusy, StoreError
from kb.versioning.textdiff import DiffRow, MergeResult, merge3, side_by_side, unified_diff

__all__ = [
    "Author",
    "Change",
    "Delete",
    "DeleteFile",
    "DiffRow",
    "GitStore",
    "MergeResult",
    "Move",
    "Operation",
    "Revision",
    "StoreBusy",
    "StoreError",
    "StoredFile",
    "Write",
    "WriteFile",
    "WriteSetting",
    "merge3",
    "side_by_side",
    "unified_diff",
]
