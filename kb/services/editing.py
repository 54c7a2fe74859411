"""An editor's save, whichever surface it comes from: which write it becomes (publish, a draft
version, a draft submitted for review, or the open draft published with the new text), where
an edit starts from, and what an editor is shown to settle a conflict.

The edit form and the API make the same decisions through these functions, so a page and its
API twin cannot come to different answers (the form only adds the wording and the page to show).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal, TypedDict

from sqlalchemy.orm import Session

from kb.access import Principal
from kb.document import DocumentFile, read
from kb.errors import Conflict, KBError, NotFound
from kb.services import documents, drafts
from kb.stores import Stores
from kb.versioning import merge3

# what the editor asked for: publish (the default), keep it as a draft, or submit it for review
Intent = Literal["publish", "draft", "submit"]
# the lines merge3 puts around overlapping edits, left in a text that is being saved
CONFLICT_MARKERS = re.compile(r"^(<{7} |={7}$|>{7} )", re.MULTILINE)


@dataclass(frozen=True)
class Edit:
    """The fields of a document an editor sends (validated by ``kb.schemas.documents``); None
    keeps a field's value."""

    title: str
    body: str
    tags: list[str] | None = None
    access: str | None = None
    review_by: str | None = None
    message: str | None = None


class _Fields(TypedDict):
    """``Edit`` as the keyword arguments of ``documents.save_document`` and ``drafts.save_draft``."""

    title: str
    body: str
    tags: list[str] | None
    access_level: str | None
    review_by: str | None
    message: str | None


@dataclass(frozen=True)
class Outcome:
    """What a save became: ``published`` (``merged`` with changes made meanwhile or not), a
    ``draft`` version, or a draft ``submitted`` for review; ``revision`` is the commit made last."""

    step: Literal["published", "draft", "submitted"]
    path: str
    revision: str
    created: bool  # a new document, or a new draft
    merged: bool = False


def save(
    stores: Stores,
    session: Session,
    user: Principal,
    path: str,
    edit: Edit,
    *,
    intent: Intent = "publish",
    base_revision: str | None = None,
    draft_revision: str | None = None,
) -> Outcome:
    """Save ``edit`` as ``intent`` asks. An edit of the open draft (``draft_revision``) is saved
    to it first, and published from it unless it is to stay a draft or the deployment requires
    review (then it stays a draft); else it is published directly, merged with changes since
    ``base_revision``. Raises as ``documents.save_document`` and the ``drafts`` functions do."""
    as_draft = intent != "publish" or bool(draft_revision and stores.require_review)
    fields: _Fields = {
        "title": edit.title,
        "body": edit.body,
        "tags": edit.tags,
        "access_level": edit.access,
        "review_by": edit.review_by,
        "message": edit.message,
    }
    if not as_draft and not draft_revision:
        saved = documents.save_document(stores, session, user, path, base_revision=base_revision, **fields)
        return Outcome("published", saved.path, saved.revision, saved.created, saved.merged)
    revision, created = drafts.save_draft(stores, session, user, path, draft_revision=draft_revision, **fields)
    if intent == "submit":
        return Outcome("submitted", path, drafts.submit(stores, session, user, path), created)
    if as_draft:
        return Outcome("draft", path, revision, created)
    published = drafts.publish(stores, session, user, path, edit.message or None)
    return Outcome("published", published.path, published.revision, published.created, published.merged)


def unresolved(text: str) -> bool:
    """Whether ``text`` still holds the markers a conflicting merge left in it."""
    return CONFLICT_MARKERS.search(text) is not None


@dataclass(frozen=True)
class Start:
    """What an edit of a document starts from: the open draft when there is one (nothing in it
    is lost), else the published document."""

    doc: documents.DocumentView
    draft: drafts.DraftView | None
    title: str
    body: str
    tags: list[str]
    access: str
    review_by: str | None


def start(stores: Stores, session: Session, user: Principal, path: str) -> Start:
    """Where an edit of ``path`` starts. Raises as ``documents.get_document``."""
    doc = documents.get_document(stores, session, user, path)
    draft = open_draft(stores, session, user, doc.path)
    shown = draft.doc if draft is not None else doc
    return Start(doc, draft, shown.title, shown.body, list(shown.tags), shown.access, shown.review_by)


def open_draft(stores: Stores, session: Session, user: Principal, path: str) -> drafts.DraftView | None:
    """The open draft of ``path`` the user may see, or None."""
    try:
        return drafts.get_draft(stores, session, user, path)
    except NotFound:
        return None


@dataclass(frozen=True)
class Resolution:
    """What an editor settles a conflict with: the stored version (None when it was removed),
    how their text differs from it, their three-way merge with the overlaps between labelled
    markers (None without a version both started from), and the revisions to save against next."""

    theirs: DocumentFile | None
    changes: str
    merged: str | None
    base_revision: str
    draft_revision: str


def resolution(
    stores: Stores,
    session: Session,
    user: Principal,
    path: str,
    conflict: Conflict,
    mine: str,
    *,
    base_revision: str,
    draft_revision: str,
    labels: tuple[str, str],
) -> Resolution:
    """The way out of ``conflict``, raised by a save of the body ``mine`` that started from
    ``base_revision`` (or, for a draft, ``draft_revision``); ``labels`` name the other version
    and the editor's own in the diff and the markers."""
    current = conflict.details.get("current", {})
    # the stored version, read as stored files are (an unreadable one fails closed, never a 400)
    theirs = read(current["text"].encode("utf-8"), path) if current.get("text") else None
    body = theirs.body if theirs else ""
    other, own = labels
    changes = "".join(difflib.unified_diff(body.splitlines(True), mine.splitlines(True), other, own))
    # the version both edits started from: the draft version for a draft, else the published one
    started_from = draft_revision if "draft_revision" in current else base_revision
    base = _readable(stores, session, user, path, started_from) if theirs and started_from else None
    merged = merge3(base.body, body, mine, labels=labels).text if base else None
    return Resolution(
        theirs,
        changes,
        merged,
        current.get("revision") or "",
        current.get("draft_revision") or draft_revision,
    )


def _readable(
    stores: Stores, session: Session, user: Principal, path: str, revision: str
) -> documents.DocumentView | None:
    try:
        return documents.get_document(stores, session, user, path, revision=revision)
    except KBError:
        return None
