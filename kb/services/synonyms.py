"""The synonym list search applies at query time: kept in git, changed through the one write path.

The list is kb's own file ``.kb/synonyms.txt`` in the content repository (not a document: no
document path starts with a dot, so the catalog, listings, ``kb check`` and the index never see
it), so every change is a commit with its trailers and audit entry (``synonyms_update``), and
its history is git's. Search reads it through ``Synonyms.groups``, which costs a ref read while
HEAD has not moved and a tree lookup while the list's blob has not changed; a change made by
another worker process is a new HEAD, so the next search there sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from kb import access
from kb.access import Principal
from kb.models import AuditEntry
from kb.search.synonyms import parse
from kb.stores.audit import Filters
from kb.stores.synonyms import PATH, parsed, text_at
from kb.stores.write_path import writing
from kb.versioning import WriteSetting

if TYPE_CHECKING:
    from kb.stores import Stores

ACTION = "synonyms_update"
# every editor may read the list, whatever their clearance: its entries are as open as that
LEVEL = "public"
DEFAULT_MESSAGE = "更新同义词表 (update the synonym list)"
MAX_LISTED = 20


@dataclass(frozen=True)
class SynonymList:
    """The list as of ``revision`` (the commit it was read at or saved in; None: no commit yet)."""

    text: str
    groups: list[list[str]]
    revision: str | None


def read(stores: Stores, user: Principal) -> SynonymList:
    """The list at HEAD, as written. Raises Forbidden/Unauthorized below an editor."""
    access.require(user, "view_synonyms")
    head = stores.store.head()
    blob = stores.store.setting_blob(PATH, head) if head is not None else None
    text = text_at(stores.store, blob)
    return SynonymList(text, parsed(text, blob), head)


def save(stores: Stores, user: Principal, text: str, message: str | None = None) -> SynonymList:
    """Replace the list with ``text``: one commit, audited as ``user``'s.

    Raises Forbidden/Unauthorized for anyone but an administrator, SynonymError for a line
    breaking a rule (nothing committed), InsufficientStorage when the disk is full.
    """
    access.require(user, "edit_synonyms")
    groups = parse(text)
    data = "\n".join(text.splitlines()).rstrip("\n").encode("utf-8") + b"\n"
    with writing(stores, user, ACTION, PATH) as w:
        revision = w.commit(
            [WriteSetting(PATH, data)], message or DEFAULT_MESSAGE, level=LEVEL, detail=f"{len(groups)} groups"
        )
    return SynonymList(data.decode("utf-8"), groups, revision)


def history(stores: Stores, session: Session, user: Principal) -> list[AuditEntry]:
    """The last changes of the list, newest first, from the audit trail (each names its commit).
    Raises Forbidden/Unauthorized for anyone but an administrator."""
    access.require(user, "edit_synonyms")
    return stores.audit.query(session, user, Filters(action=ACTION), per_page=MAX_LISTED).items


def seed(stores: Stores, user: Principal) -> bool:
    """Put the starter glossary into a repository that has no list yet (``kb init``); whether
    it did."""
    if stores.store.setting_blob(PATH) is not None:
        return False
    save(stores, user, glossary(), "加入初始同义词表 (starter synonym list)")
    return True


def glossary() -> str:
    """The starter glossary of IT-operations terms shipped with kb."""
    return resources.files("kb.search").joinpath("glossary.txt").read_text(encoding="utf-8")
