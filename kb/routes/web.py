"""HTML pages. Each view parses the request, calls a service and renders a template.

Forms post with a CSRF token (Flask-WTF). Input errors in the edit form re-render the form with
the user's text and the message, so nothing typed is lost; a stale edit whose changes overlap a
newer version gets the conflict page with both versions.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from kb import access, db, extensions
from kb.auth import current_user, session_authenticated
from kb.document import normalize_tags
from kb.errors import BadRequest, Conflict, NotFound, ReviewRequired, TooLarge, Unauthorized
from kb.i18n import select_locale
from kb.render import render
from kb.routes.errors import error_response
from kb.routes.guard import checked
from kb.routes.params import int_arg
from kb.schemas.base import validated
from kb.schemas.documents import DocumentForm
from kb.schemas.search import SearchQuery
from kb.services import documents, drafts, editing, lifecycle, links, search
from kb.versioning import side_by_side

bp = Blueprint("web", __name__)

PER_PAGE = 20
DASHBOARD_ROWS = 8
DASHBOARD_TAGS = 15
# the recently viewed documents, kept in the session cookie: how many, and at most how long
VIEWED_KEY, MAX_VIEWED, MAX_VIEWED_BYTES = "kb_viewed", 12, 2400
FORM_FIELDS = ("path", "title", "tags", "access", "review_by", "body", "message", "base_revision", "draft_revision")


@bp.app_errorhandler(Unauthorized)
def login_first(error: Unauthorized) -> Response | tuple:
    """Browsers are sent to the login page; the API gets its JSON 401 from the common handler."""
    if request.path.startswith("/api/") or request.headers.get("Authorization"):
        return error_response(error.status, error.code, error.message)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@bp.get("/")
@checked("view")
def home() -> str:
    """The dashboard: search, what changed, what the user read lately and their worklists."""
    user, catalog = current_user(), db.session()
    recent = documents.documents_at(catalog, user, _viewed_paths())
    mine = None
    if access.can(user, "draft"):
        mine = [
            d
            for d in drafts.list_drafts(extensions.stores(), catalog, user)
            if user.username == d.submitted_by or d.updated_by == user.author_name
        ][:DASHBOARD_ROWS]
    due = (
        lifecycle.review_due(catalog, user, within_days=30, owner=user.username)[:DASHBOARD_ROWS]
        if access.can(user, "review_due")
        else None
    )
    archived = (
        lifecycle.archived_documents(catalog, user, per_page=5).items if access.can(user, "view_archived") else None
    )
    return render_template(
        "home.html",
        updated=documents.list_documents(catalog, user, per_page=10).items,
        recent=recent,
        your_tags=_your_tags(recent),
        my_drafts=mine,
        due=due,
        archived=archived,
    )


@bp.get("/browse")
@checked("view")
def browse() -> str:
    page = int_arg("page", 1, 1)
    found = documents.list_documents(
        db.session(),
        current_user(),
        prefix=request.args.get("prefix"),
        tag=request.args.get("tag"),
        status=request.args.get("status"),
        page=page,
        per_page=PER_PAGE,
    )
    return render_template("browse.html", total=found.total, rows=found.items, page=page, per_page=PER_PAGE)


@bp.get("/docs/<path:path>")
@checked("view")
def view_doc(path: str) -> str:
    doc = documents.get_document(
        extensions.stores(),
        db.session(),
        current_user(),
        path,
        revision=request.args.get("revision"),
        at=request.args.get("at"),
    )
    if doc.current:
        _remember_viewed(doc.path)
    draft = (
        editing.open_draft(extensions.stores(), db.session(), current_user(), doc.path)
        if doc.current and access.can(current_user(), "draft", doc)
        else None
    )
    return render_template(
        "doc.html",
        doc=doc,
        draft=draft,
        referenced_by=links.referenced_by(db.session(), current_user(), doc.path) if doc.current else [],
    )


@bp.get("/docs/<path:path>/edit")
@checked("edit")
def edit_doc(path: str) -> tuple[str, int]:
    """The edit form; with an open draft, the draft is what is edited (nothing in it is lost)."""
    begin = editing.start(extensions.stores(), db.session(), current_user(), path)
    form = {
        "path": begin.doc.path,
        "title": begin.title,
        "tags": ", ".join(begin.tags),
        "access": begin.access,
        "review_by": begin.review_by or "",
        "body": begin.body,
        "message": "",
        "base_revision": begin.doc.revision,
        "draft_revision": begin.draft.revision if begin.draft else "",
    }
    return _form_page(form, creating=False, draft=begin.draft)


@bp.post("/docs/<path:path>/edit")
@checked("edit")
def save_doc(path: str) -> Response | tuple[str, int]:
    return _save(path, _posted() | {"path": path}, creating=False)  # the form shown again posts here


@bp.get("/new")
@checked("edit")
def new_doc() -> tuple[str, int]:
    form = dict.fromkeys(FORM_FIELDS, "") | {
        "path": request.args.get("path", ""),
        "access": documents.default_level(current_user(), extensions.stores().default_access),
    }
    return _form_page(form, creating=True)


@bp.post("/new")
@checked("edit")
def create_doc() -> Response | tuple[str, int]:
    form = _posted()
    form["path"] = form["path"].strip().strip("/")  # "/运维/备份" typed with a slash is meant relative
    return _save(form["path"], form, creating=True)


@bp.post("/preview")
@checked("edit")
def preview() -> str:
    """Sanitized HTML of the posted body, exactly as the document page would show it."""
    return render(_normalized(request.form.get("body", "")), request.form.get("path", ""))


@bp.get("/docs/<path:path>/history")
@checked("history")
def doc_history(path: str) -> str:
    versions = documents.history(extensions.stores(), db.session(), current_user(), path)
    return render_template("history.html", path=path, versions=versions)


@bp.post("/docs/<path:path>/revert")
@checked("revert")
def revert_doc(path: str) -> Response:
    revision = request.form.get("revision", "")
    documents.revert(
        extensions.stores(), db.session(), current_user(), path, revision, request.form.get("message") or None
    )
    flash(_("Restored the version %(rev)s as a new version.", rev=revision[:10]), "ok")
    return redirect(url_for("web.view_doc", path=path))


@bp.get("/docs/<path:path>/diff")
@checked("diff")
def doc_diff(path: str) -> str:
    comparison = documents.diff(
        extensions.stores(),
        db.session(),
        current_user(),
        path,
        request.args.get("from") or None,
        request.args.get("to") or None,
    )
    return render_template(
        "diff.html",
        path=path,
        diff=comparison.unified(),
        rows=side_by_side(comparison.old, comparison.new),
        old_label=comparison.old_label,
        new_label=comparison.new_label,
    )


@bp.get("/search")
@checked("search")
def search_page() -> str:
    """The search page; its query is held to the API's rules (a refusal is a page saying why)."""
    query = validated(SearchQuery, request.args.to_dict(), select_locale())
    q = query.q
    page = int_arg("page", 1, 1, 1000)
    result = search.search(
        extensions.index(),
        extensions.stores().audit,
        current_user(),
        q,
        tag=query.tag,
        status=query.status,
        path_prefix=_folder_prefix(request.args.get("prefix")),
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    popular = documents.popular_tags(db.session(), current_user(), 15) if not result.hits else []
    return render_template("search.html", q=q, result=result, page=page, per_page=PER_PAGE, popular=popular)


def _folder_prefix(folder: str | None) -> str | None:
    """The search filter for a folder: the paths under it, not those of a folder whose name
    merely begins the same (``运维/``, not ``运维组``), as in ``documents.in_folder``."""
    folder = (folder or "").strip().strip("/")
    return f"{folder}/" if folder else None


# ---------------------------------------------------------------- recently viewed


def _remember_viewed(path: str) -> None:
    """Put ``path`` first in the signed-in user's recently viewed list (in the signed session
    cookie, which logging in and out clears). Only paths are kept: every read goes through the
    access check again (``documents.documents_at``)."""
    if not session_authenticated():
        return
    paths = [path, *(p for p in _viewed_paths() if p != path)][:MAX_VIEWED]
    while len(paths) > 1 and len(json.dumps(paths)) > MAX_VIEWED_BYTES:  # a cookie holds about 4 kB
        paths.pop()
    session[VIEWED_KEY] = {"user": current_user().username, "paths": paths}


def _viewed_paths() -> list[str]:
    kept = session.get(VIEWED_KEY)
    if not isinstance(kept, dict) or kept.get("user") != current_user().username or not session_authenticated():
        return []
    paths = kept.get("paths")
    return [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []


def _your_tags(recent: list[Any]) -> tuple[bool, list[str]]:
    """(from the history?, tags): those of the recently viewed documents, most frequent first,
    else the most used among the documents the user may see."""
    counted = Counter(tag for row in recent for tag in row.tag_names)
    if counted:
        return True, [tag for tag, _n in counted.most_common(DASHBOARD_TAGS)]
    return False, [tag for tag, _n in documents.popular_tags(db.session(), current_user(), DASHBOARD_TAGS)]


# ---------------------------------------------------------------- template helpers


@bp.app_template_global()
def url_with(**changes: Any) -> str:
    """This page's URL with some query arguments changed (``None`` drops one).

    Filters, the pager and the language switch keep everything else the user chose.
    """
    args: dict[str, Any] = dict(request.args.items())
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = value
    # the path as requested: after a POST (a form shown again) it is also the form's GET page
    query = urlencode(args)
    return quote(request.script_root + request.path) + (f"?{query}" if query else "")


@bp.app_template_filter("folders")
def folders(path: str) -> list[tuple[str, str]]:
    """(name, prefix) for each folder of a document path: ``a/b/c`` -> ``a``, ``a/b``."""
    parts = path.split("/")[:-1]
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


# ---------------------------------------------------------------- the edit form


def _posted() -> dict[str, str]:
    form = {name: request.form.get(name, "") for name in FORM_FIELDS}
    form["body"] = _normalized(form["body"])
    return form


def _normalized(body: str) -> str:
    """Browsers post textareas with CRLF; git should see the LF the file had, or every line diffs."""
    return body.replace("\r\n", "\n").replace("\r", "\n")


def _form_page(
    form: dict[str, str],
    *,
    creating: bool,
    error: str | None = None,
    status: int = 200,
    draft: drafts.DraftView | None = None,
    resolving: bool = False,
) -> tuple[str, int]:
    return render_template(
        "edit.html",
        form=form,
        creating=creating,
        error=error,
        draft=draft,
        resolving=resolving,
        require_review=extensions.stores().require_review,
        levels=access.visible_levels(current_user()),
    ), status


def _exists(path: str) -> bool:
    try:
        documents.get_document(extensions.stores(), db.session(), current_user(), path)
    except NotFound:
        return False
    return True


def _save(path: str, form: dict[str, str], *, creating: bool) -> Response | tuple[str, int]:
    """Save the form as ``editing.save`` decides (publish, a draft, a draft submitted for review,
    or the open draft published with the form's text). Input errors come back in the form,
    overlapping edits on the conflict page."""
    if request.form.get("resolving") and editing.unresolved(form["body"]):
        return _form_page(
            form,
            creating=creating,
            status=400,
            resolving=True,
            error=_(
                "The text still holds conflict markers (<<<<<<<, =======, >>>>>>>): keep the lines you want "
                "from each side and delete the markers, then save again."
            ),
        )
    asked = request.form.get("intent")
    intent: editing.Intent = "submit" if asked == "submit" else "draft" if asked == "draft" else "publish"
    try:
        validated(DocumentForm, form, select_locale())  # the API's rules, for the same fields
        if creating and _exists(path):
            return _form_page(form, creating=True, status=409, error=_("A document already exists at this path."))
        outcome = editing.save(
            extensions.stores(),
            db.session(),
            current_user(),
            path,
            editing.Edit(
                title=form["title"],
                body=form["body"],
                tags=normalize_tags(form["tags"]),
                access=form["access"] or None,
                review_by=form["review_by"] or None,
                message=form["message"],
            ),
            intent=intent,
            base_revision=form["base_revision"] or None,
            draft_revision=form["draft_revision"] or None,
        )
    except Conflict as conflict:
        return _conflict_page(path, form, conflict)
    except (BadRequest, TooLarge, ReviewRequired) as error:
        return _form_page(form, creating=creating, error=error.message, status=error.status)
    if outcome.step == "submitted":
        flash(_("Submitted for review: another editor publishes it or sends it back."), "ok")
    elif outcome.step == "draft":
        flash(_("Draft saved. Readers still see the published version."), "ok")
    else:
        flash(_("Saved; merged with the changes made meanwhile.") if outcome.merged else _("Saved."), "ok")
        return redirect(url_for("web.view_doc", path=outcome.path))
    return redirect(url_for("lifecycle.draft_page", path=path))


def _conflict_page(path: str, form: dict[str, str], conflict: Conflict) -> tuple[str, int]:
    """Both versions side by side, and in the form their three-way merge: what merged cleanly is
    in, the overlapping parts stand between labelled markers for the user to settle."""
    settle = editing.resolution(
        extensions.stores(),
        db.session(),
        current_user(),
        path,
        conflict,
        form["body"],
        base_revision=form["base_revision"],
        draft_revision=form["draft_revision"],
        labels=(_("current version"), _("your version")),
    )
    resubmit = {"base_revision": settle.base_revision, "draft_revision": settle.draft_revision}
    return render_template(
        "conflict.html",
        path=path,
        form=form | resubmit,
        merged_form=form | resubmit | {"body": settle.merged} if settle.merged is not None else None,
        theirs=settle.theirs,
        changes=settle.changes,
        levels=access.visible_levels(current_user()),
    ), 409
