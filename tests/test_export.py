"""Export with provenance: the zip (documents, every version, manifest, audit entries), the git
bundle, who may have them, and what a clearance hides from them."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import subprocess
import zipfile
from dataclasses import dataclass

import pytest
from conftest import PASSWORD, audit_entries, save
from sqlalchemy import event

from kb.access import CLEARANCES, Principal
from kb.identity import users
from kb.services.export import export_zip
from kb.stores import audit
from kb.stores.audit import CSV_FIELDS

MANIFEST_FIELDS = {
    "file",
    "path",
    "file_path",
    "revision",
    "kind",
    "author",
    "email",
    "date",
    "message",
    "access",
    "status",
    "sha256",
    "bytes",
}


@dataclass
class Export:
    """An export as its recipient sees it."""

    files: dict[str, bytes]
    manifest: dict
    audit: list[dict]

    @property
    def documents(self) -> set[str]:
        return {name for name in self.files if name.startswith("documents/")}

    @property
    def history(self) -> list[str]:
        return sorted(name for name in self.files if name.startswith("history/"))

    def entry(self, name: str) -> dict:
        return next(entry for entry in self.manifest["files"] if entry["file"] == name)


def unpack(data: bytes) -> Export:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        files = {name: archive.read(name) for name in archive.namelist()}
    rows = list(csv.DictReader(io.StringIO(files["audit.csv"].decode("utf-8").lstrip("\ufeff"))))
    return Export(files, json.loads(files["manifest.json"]), rows)


def download(api, url: str):
    """The response, read and closed (which closes the file it was sent from)."""
    response = api.get(url)
    response.get_data()
    response.close()
    return response


def exported(api, query: str = "") -> Export:
    response = download(api, f"export{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=kb-export-")
    return unpack(response.data)


def add_user(app, name: str, role: str, clearance: str) -> None:
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, name, PASSWORD, role, clearance)
        session.commit()


def revisions(api, path: str) -> list[str]:
    """The document's revisions, oldest first, as the history API gives them."""
    return [v["revision"] for v in reversed(api.get(f"docs/{path}/history").get_json()["versions"])]


@pytest.fixture
def archivist(api_as):
    return api_as("zhao.archivist")


@pytest.fixture
def knowledge(editor, admin):
    """Two documents in 网络/ (one with three versions), one elsewhere, one confidential."""
    for body in ("第一版", "第二版", "第三版"):
        save(editor, "网络/VPN故障", body=body)
    save(editor, "网络/DNS", body="DNS 说明")
    save(editor, "桌面/打印机", body="打印机")
    save(editor, "网络/机密拓扑", body="机密正文", access="confidential")


# ---------------------------------------------------------------- the zip


def test_one_document_with_every_version_byte_for_byte(knowledge, archivist):
    got = exported(archivist, "?path=网络/VPN故障")
    revs = revisions(archivist, "网络/VPN故障")
    assert got.documents == {"documents/网络/VPN故障.md"}
    assert got.history == [f"history/网络/VPN故障/{n:04d}-{rev[:10]}.md" for n, rev in enumerate(revs, 1)]
    for name, rev in zip(got.history, revs, strict=True):
        assert got.files[name] == archivist.get(f"docs/网络/VPN故障/raw?revision={rev}").data
        assert got.entry(name)["revision"] == rev
    assert got.files["documents/网络/VPN故障.md"] == archivist.get("docs/网络/VPN故障/raw").data
    assert "第三版" in got.files["documents/网络/VPN故障.md"].decode()
    assert {"README.txt", "manifest.json", "audit.csv", "SHA256SUMS"} <= set(got.files)
    assert got.manifest["scope"] == {"path": "网络/VPN故障", "prefix": None, "history": "all"}


def test_a_folder_holds_its_documents_and_no_others(knowledge, admin):
    got = exported(admin, "?prefix=网络")
    assert got.documents == {"documents/网络/VPN故障.md", "documents/网络/DNS.md", "documents/网络/机密拓扑.md"}
    assert len(got.history) == 5
    assert not any("桌面" in name for name in got.files)


def test_everything_and_the_manifest_describes_each_file_with_its_hash(knowledge, admin, app):
    got = exported(admin)
    assert len(got.documents) == 4 and len(got.history) == 6
    assert got.manifest["format"] == 1 and got.manifest["generated_by"] == "admin"
    assert got.manifest["head"] == app.extensions["kb.stores"].store.head()
    assert sorted(entry["file"] for entry in got.manifest["files"]) == sorted(got.documents | set(got.history))
    for entry in got.manifest["files"]:
        assert set(entry) == MANIFEST_FIELDS
        data = got.files[entry["file"]]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    first = got.entry(got.history[0])
    assert (first["author"], first["email"], first["kind"]) == ("Wang.Editor", "wang.editor@example.com", "add")
    assert first["message"] == f"新建 {first['path']}" and first["date"].startswith("20")
    sums = dict(reversed(line.split("  ", 1)) for line in got.files["SHA256SUMS"].decode().splitlines())
    assert set(sums) == set(got.files) - {"SHA256SUMS"}
    assert all(hashlib.sha256(got.files[name]).hexdigest() == digest for name, digest in sums.items())
    assert "sha256sum -c SHA256SUMS" in got.files["README.txt"].decode()


def test_the_audit_entries_are_those_of_the_exported_documents(knowledge, archivist):
    got = exported(archivist, "?prefix=网络")
    assert list(got.audit[0]) == list(CSV_FIELDS)
    saves = [(row["action"], row["target"]) for row in got.audit]
    assert saves.count(("update", "网络/VPN故障")) == 2
    assert ("create", "网络/DNS") in saves and ("create", "网络/机密拓扑") in saves
    assert {row["target"] for row in got.audit} == {"网络/VPN故障", "网络/DNS", "网络/机密拓扑"}


def test_many_documents_match_their_audit_entries_while_streaming(knowledge, archivist, monkeypatch):
    """Beyond MAX_SQL_TARGETS the targets are matched in Python: the same entries either way."""
    expected = exported(archivist, "?prefix=网络").audit
    monkeypatch.setattr(audit, "MAX_SQL_TARGETS", 0)
    assert exported(archivist, "?prefix=网络").audit == expected


def test_latest_only_has_the_current_files_and_no_history(knowledge, archivist):
    got = exported(archivist, "?prefix=网络&history=latest")
    assert got.history == []
    assert len(got.documents) == 3 and len(got.manifest["files"]) == 3
    assert got.manifest["scope"]["history"] == "latest"


@pytest.mark.parametrize("who", ["li.reader", "wang.editor", None])
def test_readers_and_editors_may_not_export(knowledge, api_as, who):
    for url in ("export", "export?path=网络/DNS", "export/bundle"):
        assert api_as(who).get(url).status_code == (401 if who is None else 403)


def test_an_internal_archivist_gets_nothing_above_internal(app, knowledge, admin, api_as):
    add_user(app, "qian.archivist", "archivist", "internal")
    save(admin, "网络/曾经绝密", body="绝密旧版", access="secret")
    save(admin, "网络/曾经绝密", body="如今内部", access="internal")
    archivist = api_as("qian.archivist")
    for got in (
        exported(archivist),
        exported(archivist, "?prefix=网络"),
        exported(archivist, "?path=网络/曾经绝密"),
        exported(archivist, "?history=latest"),
    ):
        everything = b"".join(got.files.values()).decode()
        assert "机密拓扑" not in everything and "机密正文" not in everything and "绝密旧版" not in everything
        assert all(entry["access"] in ("public", "internal") for entry in got.manifest["files"])
        assert all(row["level"] in ("", "public", "internal") for row in got.audit)
    once_secret = exported(archivist, "?path=网络/曾经绝密")
    assert [once_secret.entry(name)["access"] for name in once_secret.history] == ["internal"]
    assert exported(admin, "?path=网络/曾经绝密").history[0].startswith("history/网络/曾经绝密/0001-")
    assert len(exported(admin, "?path=网络/曾经绝密").history) == 2
    hidden = archivist.get("export?path=网络/机密拓扑")
    assert hidden.status_code == 404
    assert hidden.get_json() == archivist.get("export?path=网络/不存在").get_json()
    assert {e.level for e in audit_entries(app, actor="qian.archivist", action="export")} == {"internal"}


def test_archived_and_deleted_documents_are_included_for_archivists(knowledge, archivist, admin):
    assert archivist.post("docs/网络/DNS/archive", json={"reason": "过时"}).status_code == 200
    assert admin.delete("docs/桌面/打印机").status_code == 204
    got = exported(archivist)
    assert "documents/网络/DNS.md" in got.documents
    assert got.entry("documents/网络/DNS.md")["status"] == "archived"
    assert "documents/桌面/打印机.md" not in got.documents
    printer = [name for name in got.history if name.startswith("history/桌面/打印机/")]
    assert len(printer) == 1 and got.files[printer[0]].decode().endswith("\n---\n打印机")
    assert ("delete", "桌面/打印机") in {(row["action"], row["target"]) for row in got.audit}
    assert len(exported(archivist, "?path=桌面/打印机").history) == 1
    assert not any("打印机" in name for name in exported(archivist, "?history=latest").files)


def test_a_moved_documents_history_follows_it(knowledge, editor, archivist):
    assert editor.post("docs/网络/VPN故障/move", json={"to": "远程/VPN"}).status_code == 200
    got = exported(archivist, "?path=远程/VPN")
    assert len(got.history) == 4 and all(name.startswith("history/远程/VPN/") for name in got.history)
    assert got.entry(got.history[0])["file_path"] == "网络/VPN故障"
    assert got.entry(got.history[-1])["kind"] == "move"
    targets = {row["target"] for row in got.audit}
    assert targets == {"网络/VPN故障"}  # the saves and the move were logged under the old path
    assert archivist.get("export?path=网络/VPN故障").status_code == 404


@pytest.mark.parametrize(
    "query", ["?history=some", "?history=ALL", "?path=../etc", "?prefix=a//b", "?path=-x", "?path=a&prefix=b"]
)
def test_bad_input_is_a_400(knowledge, archivist, query):
    response = archivist.get(f"export{query}")
    assert response.status_code == 400, query
    assert "(" in response.get_json()["error"]["message"]


def test_every_export_is_in_the_audit_trail(app, knowledge, archivist):
    exported(archivist, "?prefix=网络&history=latest")
    exported(archivist, "?path=网络/DNS")
    assert download(archivist, "export/bundle").status_code == 200
    head = app.extensions["kb.stores"].store.head()
    got = [(e.target, e.revision, e.level, e.detail) for e in audit_entries(app, action="export")]
    assert got == [
        ("网络", head, "confidential", "scope=网络/; history=latest; documents=3; files=3"),
        ("网络/DNS", head, "internal", "scope=网络/DNS; history=all; documents=1; files=2"),
        ("", head, "secret", "bundle"),
    ]


def test_the_export_reads_the_database_a_fixed_number_of_times(app, editor, archivist):
    engine = app.extensions["kb.stores"].sessions.kw["bind"]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    def queries() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            exported(archivist, "?prefix=批量")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len([s for s in statements if "versions" in s or "documents" in s])

    for n in range(3):
        save(editor, f"批量/文档{n}", body="一")
    few = queries()
    for n in range(3, 12):
        save(editor, f"批量/文档{n}", body="一")
        save(editor, f"批量/文档{n}", body="二")
    assert queries() == few


def test_progress_is_reported_per_document(app, knowledge):
    steps: list[tuple[int, int]] = []
    report = export_zip(
        app.extensions["kb.stores"],
        Principal("t", "archivist", "secret"),
        io.BytesIO(),
        prefix="网络",
        progress=lambda done, total: steps.append((done, total)),
    )
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert (report.documents, report.files, report.level) == (3, 8, "confidential")


# ---------------------------------------------------------------- the bundle


def test_the_bundle_clones_to_the_same_head_and_files(app, knowledge, admin, tmp_path):
    response = download(admin, "export/bundle")
    assert response.status_code == 200 and response.mimetype == "application/x-git-bundle"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=kb-content-")
    bundle = tmp_path / "kb.bundle"
    bundle.write_bytes(response.data)
    subprocess.run(["git", "clone", "-q", str(bundle), str(tmp_path / "clone")], check=True)
    git = ["git", "-C", str(tmp_path / "clone")]
    store = app.extensions["kb.stores"].store
    assert (
        subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        == store.head()
    )
    files = subprocess.run([*git, "ls-files", "-z"], capture_output=True, check=True).stdout.decode().split("\0")
    assert sorted(filter(None, files)) == sorted(f"{path}.md" for path, _blob in store.documents())
    assert (tmp_path / "clone" / "网络" / "机密拓扑.md").read_bytes() == admin.get("docs/网络/机密拓扑/raw").data
    assert (
        subprocess.run([*git, "rev-list", "--count", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        == "6"
    )


@pytest.mark.parametrize(("role", "clearance"), [("archivist", "confidential"), ("admin", "internal")])
def test_the_bundle_needs_the_highest_clearance(app, knowledge, api_as, role, clearance):
    add_user(app, "low.clearance", role, clearance)
    response = api_as("low.clearance").get("export/bundle")
    assert response.status_code == 403
    assert "secret" in response.get_json()["error"]["message"]
    assert audit_entries(app, action="export", outcome="ok") == []
    assert [e.actor for e in audit_entries(app, action="export", outcome="denied")] == ["low.clearance"]


def test_the_bundle_answers_each_caller(app, knowledge, api_as):
    """The route walk's table cannot say "403 below secret clearance": the bundle's own walk."""
    answers = {"anonymous": download(api_as(None), "export/bundle").status_code}
    for role, clearance in itertools.product(("reader", "editor", "archivist", "admin"), CLEARANCES):
        add_user(app, f"b.{role}.{clearance}", role, clearance)
        answers[f"{role}.{clearance}"] = download(api_as(f"b.{role}.{clearance}"), "export/bundle").status_code
    allowed = {"archivist.secret", "admin.secret"}
    assert answers == {
        caller: 200 if caller in allowed else 401 if caller == "anonymous" else 403 for caller in answers
    }


def test_a_bundle_of_an_empty_repository_is_a_clear_404(admin):
    response = admin.get("export/bundle")
    assert response.status_code == 404
    assert "内容仓库为空" in response.get_json()["error"]["message"]
