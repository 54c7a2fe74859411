"""The synonym groups in force, read from the list in git (``.kb/synonyms.txt``; changing it is
``kb.services.synonyms``'s). ``Synonyms.groups`` costs a ref read while HEAD has not moved and a
tree lookup while the list's blob has not changed; a change made by another worker process is a
new HEAD, so the next search there sees it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from kb.search.synonyms import parse
from kb.versioning import GitStore

log = logging.getLogger(__name__)

PATH = ".kb/synonyms.txt"


@dataclass(frozen=True)
class _Seen:
    head: str | None
    blob: str | None
    groups: list[list[str]]


class Synonyms:
    """The groups in force at HEAD, cached by HEAD and by the list's blob id (one per process)."""

    def __init__(self, store: GitStore) -> None:
        self._store = store
        self._seen = _Seen(None, None, [])
        self._lock = threading.Lock()

    def groups(self) -> Sequence[Sequence[str]]:
        """The groups at HEAD (what ``SearchIndex.synonyms`` is set to). A list that does not
        parse (committed with plain git) gives no groups, logged: a search never fails for it."""
        head = self._store.head()
        seen = self._seen
        if head == seen.head:
            return seen.groups
        with self._lock:  # one parse per change, however many threads search at once
            seen = self._seen
            if head != seen.head:
                blob = self._store.setting_blob(PATH, head) if head is not None else None
                groups = seen.groups if blob == seen.blob else parsed(text_at(self._store, blob), blob)
                seen = _Seen(head, blob, groups)
                self._seen = seen  # one assignment: readers without the lock see the old or the new
        return seen.groups


def text_at(store: GitStore, blob: str | None) -> str:
    """The list's text in ``blob`` (none: empty)."""
    return "" if blob is None else store.read_blob(blob).decode("utf-8", "replace")


def parsed(text: str, blob: str | None) -> list[list[str]]:
    """The groups of ``text``; a list that does not parse gives none, logged."""
    try:
        return parse(text)
    except ValueError:
        log.exception("the synonym list %s (blob %s) does not parse; searching without synonyms", PATH, blob)
        return []
