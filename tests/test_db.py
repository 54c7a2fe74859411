"""The database layer: a table made by an older kb is brought up to date by ``kb migrate``."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from kb import migrations
from kb.models import ApiToken
from kb.stores.db import make_sessionmaker


def test_a_database_from_an_older_kb_gets_the_new_nullable_columns_when_migrated(tmp_path):
    """API tokens gained expiry, revocation and last use; a token table made before that keeps
    its rows and gains the columns when adopted, so an existing instance keeps working."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE api_tokens (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, "
                "token_hash VARCHAR(64) NOT NULL UNIQUE, name VARCHAR(128) NOT NULL, "
                "created_at DATETIME NOT NULL)"
            )
        )
        connection.execute(text("INSERT INTO api_tokens VALUES (1, 1, 'abc', 'old', '2026-01-01 00:00:00')"))
    engine.dispose()
    report = migrations.upgrade(url)
    assert {"api_tokens.expires_at", "api_tokens.revoked_at", "api_tokens.last_used_at", "table users"} <= set(
        report.adopted or []
    )
    sessions = make_sessionmaker(url)
    with sessions() as session:
        token = session.get(ApiToken, 1)
        assert (token.name, token.expires_at, token.revoked_at, token.state) == ("old", None, None, "active")
    sessions.kw["bind"].dispose()
