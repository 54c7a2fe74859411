"""Lifecycle pages: a document's draft and its review, archive and restore, the archive and
deleted lists, documents due for review, and the knowledge base as it was at a date.

Each view parses the request and calls ``kb.services.drafts`` or ``kb.services.lifecycle``
(which check access with the document), then renders a template or redirects with a message.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import BaseModel
from werkzeug.wrappers import Response

from kb import db, extensions
from kb.auth import current_user
from kb.errors import BadRequest
from kb.i18n import select_locale
from kb.paging import Page
from kb.routes.guard import checked
from kb.routes.params import date_arg, int_arg
from kb.schemas.base import validated
from kb.schemas.drafts import Publish, SendBack, Submit
from kb.schemas.lifecycle import Archive, Restore
from kb.services import drafts, lifecycle

bp = Blueprint("lifecycle", __name__)

PER_PAGE = 50
# what a moment in an /asof/ address may look like: a date, or a date and time
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?")


# ---------------------------------------------------------------- drafts and review


@bp.get("/docs/<path:path>/draft")
@checked("draft")
def draft_page(path: str) -> str:
    view = drafts.get_draft(extensions.stores(), db.session(), current_user(), path)
    return render_template(
        "draft.html",
        draft=view,
        require_review=extensions.stores().require_review,
    )


@bp.post("/docs/<path:path>/draft/submit")
@checked("review")
def submit_draft(path: str) -> Response:
    drafts.submit(extensions.stores(), db.session(), current_user(), path, _form(Submit, "comment").comment)
    flash(_("Submitted for review."), "ok")
    return redirect(url_for("lifecycle.draft_page", path=path))


@bp.post("/docs/<path:path>/draft/return")
@checked("review")
def return_draft(path: str) -> Response:
    drafts.send_back(extensions.stores(), db.session(), current_user(), path, _form(SendBack, "comment").comment)
    flash(_("Sent back to the authors."), "ok")
    return redirect(url_for("lifecycle.draft_page", path=path))


@bp.post("/docs/<path:path>/draft/publish")
@checked("publish")
def publish_draft(path: str) -> Response:
    result = drafts.publish(
        extensions.stores(), db.session(), current_user(), path, _form(Publish, "message").message or None
    )
    flash(_("Published; merged with the changes made meanwhile.") if result.merged else _("Published."), "ok")
    return redirect(url_for("web.view_doc", path=result.path))


@bp.post("/docs/<path:path>/draft/discard")
@checked("draft")
def discard_draft(path: str) -> Response:
    drafts.discard_draft(extensions.stores(), db.session(), current_user(), path)
    flash(_("Draft discarded."), "ok")
    return redirect(url_for("lifecycle.drafts_page"))


@bp.get("/drafts")
@checked("draft")
def drafts_page() -> str:
    state = request.args.get("state") or None
    views = drafts.list_drafts(extensions.stores(), db.session(), current_user(), state)
    return render_template("drafts.html", drafts=views, state=state)


@bp.get("/review-due")
@checked("review_due")
def review_due_page() -> str:
    user = current_user()
    mine = request.args.get("mine") == "1"
    within = int_arg("within", 30, 0, 3650)
    rows = lifecycle.review_due(db.session(), user, within_days=within, owner=user.username if mine else None)
    return render_template("review_due.html", rows=rows, mine=mine, within=within)


# ---------------------------------------------------------------- archive, restore and the lists


@bp.post("/docs/<path:path>/archive")
@checked("archive")
def archive_doc(path: str) -> Response:
    lifecycle.archive(extensions.stores(), db.session(), current_user(), path, _form(Archive, "reason").reason)
    flash(_("Archived."), "ok")
    return redirect(url_for("web.view_doc", path=path))


@bp.post("/docs/<path:path>/restore")
@checked("restore")
def restore_doc(path: str) -> Response:
    lifecycle.restore(extensions.stores(), db.session(), current_user(), path, _form(Restore, "reason").reason)
    flash(_("Restored: readers see the document again."), "ok")
    return redirect(url_for("web.view_doc", path=path))


@bp.get("/archive")
@checked("view_archived")
def archive_page() -> str:
    page = int_arg("page", 1, 1)
    found: Page[Any]
    if request.args.get("show") == "deleted":
        found = lifecycle.deleted_documents(
            db.session(), current_user(), prefix=request.args.get("prefix"), page=page, per_page=PER_PAGE
        )
    else:
        found = lifecycle.archived_documents(
            db.session(),
            current_user(),
            prefix=request.args.get("prefix"),
            tag=request.args.get("tag"),
            since=date_arg("from", start=True),
            until=date_arg("to"),
            page=page,
            per_page=PER_PAGE,
        )
    return render_template(
        "archive.html",
        total=found.total,
        items=found.items,
        page=page,
        per_page=PER_PAGE,
        show=request.args.get("show") or "archived",
    )


# ---------------------------------------------------------------- the past


@bp.get("/asof")
@checked("view_at_date")
def asof_pick() -> Response | str:
    """The date picker's target: on to the knowledge base as of the chosen moment."""
    moment = (request.args.get("date") or "").strip()
    if not moment:
        return render_template("asof.html", past=None, moment="")
    return redirect(url_for("lifecycle.asof_home", moment=_moment(moment), prefix=request.args.get("prefix") or None))


@bp.get("/asof/<moment>/")
@checked("view_at_date")
def asof_home(moment: str) -> str:
    page = int_arg("page", 1, 1)
    past = lifecycle.list_as_of(
        extensions.stores(),
        db.session(),
        current_user(),
        _moment(moment),
        prefix=request.args.get("prefix"),
        page=page,
        per_page=PER_PAGE,
    )
    return render_template("asof.html", past=past, moment=moment, page=page, per_page=PER_PAGE)


@bp.get("/asof/<moment>/docs/<path:path>")
@checked("view_at_date")
def asof_doc(moment: str, path: str) -> str:
    moment = _moment(moment)  # digits, "-", "T" and ":" only: safe to put into the links below
    doc = lifecycle.get_as_of(extensions.stores(), db.session(), current_user(), moment, path)
    # links between documents lead to the other documents as they were at the same moment
    doc.html = doc.html.replace('href="/docs/', f'href="/asof/{moment}/docs/')
    return render_template("doc.html", doc=doc, moment=moment)


def _moment(value: str) -> str:
    """A moment from an address or the date picker (``datetime-local`` sends no seconds)."""
    if not _MOMENT.fullmatch(value):
        raise BadRequest(f"无法识别的日期“{value[:40]}”，请用 2026-10-01 或 2026-10-01T09:30 格式 (invalid date)")
    return value


def _form(model: type[BaseModel], *names: str) -> Any:
    """The posted ``names`` held to the API's ``model`` (a refusal is a page saying why)."""
    return validated(model, {name: request.form[name] for name in names if name in request.form}, select_locale())
