"""What a save becomes (``kb.services.editing``), decided once for the edit form and the API:
publish, a draft, a draft submitted for review, or the open draft published with the new text;
where an edit starts; and what an editor settles a conflict with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_app
from flask import Flask

from kb.errors import Conflict, ReviewRequired
from kb.identity import users
from kb.services import drafts, editing

PATH = "运维/备份"


def _save(app: Flask, edit: editing.Edit, **how: object) -> editing.Outcome:
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        editor = users.principal(users.get_user(session, "wang.editor"))
        return editing.save(stores, session, editor, PATH, edit, **how)  # type: ignore[arg-type]


def _open_draft(app: Flask) -> drafts.DraftView | None:
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        return editing.open_draft(stores, session, users.principal(users.get_user(session, "wang.editor")), PATH)


@pytest.fixture
def reviewed(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path / "instance", REQUIRE_REVIEW=True)
    yield app
    app.extensions["kb.stores"].close()


def test_an_edit_is_published_directly_and_a_new_document_says_so(app):
    outcome = _save(app, editing.Edit("备份策略", "每日全量备份。\n"))
    assert (outcome.step, outcome.path, outcome.created, outcome.merged) == ("published", PATH, True, False)
    assert _open_draft(app) is None


def test_an_edit_kept_as_a_draft_leaves_the_published_document_alone(app):
    published = _save(app, editing.Edit("备份策略", "每日全量备份。\n"))
    drafted = _save(app, editing.Edit("备份策略", "每周全量备份。\n"), intent="draft")
    assert drafted.step == "draft" and drafted.revision != published.revision
    draft = _open_draft(app)
    assert draft is not None and draft.body == "每周全量备份。\n" and draft.base_revision == published.revision


def test_submitting_saves_the_draft_and_submits_it_for_review(app):
    _save(app, editing.Edit("备份策略", "每日全量备份。\n"))
    outcome = _save(app, editing.Edit("备份策略", "每周全量备份。\n"), intent="submit")
    draft = _open_draft(app)
    assert outcome.step == "submitted" and draft is not None
    assert (draft.state, draft.submitted_by, draft.revision) == ("submitted", "wang.editor", outcome.revision)


def test_publishing_an_edit_of_the_open_draft_publishes_the_draft_with_the_new_text(app):
    _save(app, editing.Edit("备份策略", "每日全量备份。\n"))
    draft = _save(app, editing.Edit("备份策略", "每周全量备份。\n"), intent="draft")
    outcome = _save(app, editing.Edit("备份策略", "每月全量备份。\n"), draft_revision=draft.revision)
    assert (outcome.step, outcome.created) == ("published", False)
    assert _open_draft(app) is None


def test_with_review_required_an_edit_of_the_open_draft_stays_a_draft(reviewed):
    _save(reviewed, editing.Edit("备份策略", "每日全量备份。\n"), intent="draft")
    first = _open_draft(reviewed)
    assert first is not None
    outcome = _save(reviewed, editing.Edit("备份策略", "每周全量备份。\n"), draft_revision=first.revision)
    assert outcome.step == "draft"
    with pytest.raises(ReviewRequired):
        _save(reviewed, editing.Edit("备份策略", "直接发布。\n"))


def test_an_edit_starts_from_the_open_draft_when_there_is_one(app):
    stores = app.extensions["kb.stores"]
    _save(app, editing.Edit("备份策略", "每日全量备份。\n", tags=["备份"]))
    with stores.sessions() as session:
        editor = users.principal(users.get_user(session, "wang.editor"))
        begin = editing.start(stores, session, editor, PATH)
        assert (begin.body, begin.tags, begin.draft) == ("每日全量备份。\n", ["备份"], None)
        _save(app, editing.Edit("备份策略（草稿）", "每周全量备份。\n"), intent="draft")
        begin = editing.start(stores, session, editor, PATH)
        assert (begin.title, begin.body) == ("备份策略（草稿）", "每周全量备份。\n")
        assert begin.draft is not None and begin.doc.body == "每日全量备份。\n"


def test_a_conflict_is_settled_with_a_merge_that_marks_the_overlap(app):
    stores = app.extensions["kb.stores"]
    base = _save(app, editing.Edit("备份策略", "第一行\n第二行\n"))
    _save(app, editing.Edit("备份策略", "第一行（他人）\n第二行\n"), base_revision=base.revision)
    mine = "第一行（我的）\n第二行\n"
    with pytest.raises(Conflict) as raised:
        _save(app, editing.Edit("备份策略", mine), base_revision=base.revision)
    with stores.sessions() as session:
        editor = users.principal(users.get_user(session, "wang.editor"))
        settle = editing.resolution(
            stores,
            session,
            editor,
            PATH,
            raised.value,
            mine,
            base_revision=base.revision,
            draft_revision="",
            labels=("当前版本", "你的版本"),
        )
    assert settle.theirs is not None and settle.theirs.body == "第一行（他人）\n第二行\n"
    assert settle.merged is not None and editing.unresolved(settle.merged)
    assert "<<<<<<< 当前版本" in settle.merged and ">>>>>>> 你的版本" in settle.merged
    assert settle.base_revision != base.revision and "+第一行（我的）" in settle.changes
