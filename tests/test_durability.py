"""What must be on disk before an answer is synced there: the git commit (libgit2 fsyncs its
objects and refs) and the audit entry (SQLite syncs its log at the entry's commit); the caches of
git (catalog, index) are not."""

from __future__ import annotations

from sqlalchemy import event, text

from kb.access import Principal


def _synchronous(app) -> list[tuple[str, int]]:
    """(statement, its connection's synchronous setting: 1 NORMAL, 2 FULL) of every statement
    that writes, from now on."""
    seen: list[tuple[str, int]] = []
    engine = app.extensions["kb.stores"].sessions.kw["bind"]

    @event.listens_for(engine, "after_cursor_execute")
    def record(connection, _cursor, statement, *_args) -> None:
        if statement.startswith(("INSERT", "UPDATE", "DELETE")):
            seen.append((statement, connection.exec_driver_sql("PRAGMA synchronous").scalar()))

    return seen


def test_an_audit_entry_commits_with_full_sync_and_the_catalog_without(app, editor):
    seen = _synchronous(app)
    assert editor.put("docs/运维/同步", json={"title": "同步", "body": "落盘"}).status_code == 201
    audit = [level for statement, level in seen if "INTO audit_trail" in statement]
    catalog = [level for statement, level in seen if "INTO versions" in statement]
    assert audit and set(audit) == {2}  # FULL
    assert catalog and set(catalog) == {1}  # NORMAL


def test_a_pooled_connection_goes_back_to_normal_after_an_audit_entry(app):
    stores = app.extensions["kb.stores"]
    stores.audit.record(Principal("tester", "admin", "secret"), "probe")
    for _ in range(3):  # whichever connection the pool hands out
        with stores.sessions() as session:
            assert session.execute(text("PRAGMA synchronous")).scalar() == 1
