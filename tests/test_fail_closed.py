"""Data that cannot be read fails closed: a document file committed straight into the repository
whose front matter does not parse, or names an unknown level or status, counts as ``secret`` on
every surface, exactly like a missing document for anyone cleared below it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ApiClient, make_app, open_app, save, token_for

from kb.cli import main as kb_cli
from kb.document import read

SECRET_WORD = "蓝鲸密钥轮换"
BROKEN_FILES = {
    "yaml": f"---\ntitle: [未闭合\naccess: public\n---\n{SECRET_WORD}\n".encode(),
    "unknown-level": f"---\ntitle: 级别未知\naccess: top-secret\n---\n{SECRET_WORD}\n".encode(),
    "unknown-status": f"---\ntitle: 状态未知\naccess: public\nstatus: draft\n---\n{SECRET_WORD}\n".encode(),
    "empty-level": f"---\ntitle: 级别为空\naccess:\n---\n{SECRET_WORD}\n".encode(),
    "twice": f"---\ntitle: 两次\naccess: public\naccess: secret\n---\n{SECRET_WORD}\n".encode(),
    "list-level": f"---\ntitle: 列表\naccess: [public]\n---\n{SECRET_WORD}\n".encode(),
    "not-utf8": b"---\ntitle: x\naccess: public\n---\n\xff\xfe " + SECRET_WORD.encode(),
}


def commit_straight_into_git(content_dir: Path, files: dict[str, bytes], work: Path) -> None:
    """Write ``files`` with plain git (clone, commit, push), as someone with the repository would."""
    subprocess.run(["git", "clone", "-q", str(content_dir), str(work)], check=True)
    for path, data in files.items():
        target = work / f"{path}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    git = ["git", "-C", str(work), "-c", "user.name=手工", "-c", "user.email=hand@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "hand-written files"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "HEAD:main"], check=True)


@pytest.fixture
def app(tmp_path: Path):
    """The app (``api_as`` uses it) restarted after the broken files were pushed, one of them
    linking to a public page."""
    instance = tmp_path / "instance"
    first = make_app(instance)
    save(ApiClient(first.test_client(), token_for(first, "wang.editor")), "公开/目标", "公开页面", access="public")
    first.extensions["kb.stores"].close()
    files = {f"手工/{name}": data for name, data in BROKEN_FILES.items()}
    files["手工/yaml"] += "\n[目标](../公开/目标)\n".encode()
    commit_straight_into_git(instance / "content.git", files, tmp_path / "work")
    app = open_app({"TESTING": True, "INSTANCE_DIR": str(instance)})
    yield app
    app.extensions["kb.stores"].close()


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_an_unreadable_file_counts_as_secret(name):
    doc = read(BROKEN_FILES[name], f"手工/{name}")
    assert doc.access == "secret"
    assert doc.problem


@pytest.mark.parametrize("username", ["li.reader", "sun.public", "wang.editor"])
def test_a_reader_below_secret_meets_no_trace_of_an_unreadable_document(app, api_as, username):
    api = api_as(username)
    for name in BROKEN_FILES:
        path = f"手工/{name}"
        for url in (f"docs/{path}", f"docs/{path}/raw", f"docs/{path}/history", f"docs/{path}/diff"):
            response = api.get(url)
            assert response.status_code in (403, 404), (url, response.status_code)
            if response.status_code == 403:  # a reader may not see history at all: same for any path
                assert api.get(url.replace(path, "手工/不存在")).status_code == 403
        assert api.get(f"/docs/{path}").status_code == 404
    listed = api.get("docs?per_page=200").get_json()["items"]
    assert not [item for item in listed if item["path"].startswith("手工/")]
    found = api.get("search", query_string={"q": SECRET_WORD}).get_json()
    assert found["total"] == 0 and found["hits"] == []
    page = api.get("/docs/公开/目标").get_data(as_text=True)
    assert "手工" not in page


def test_someone_cleared_for_secret_sees_it_with_its_raw_text(app, api_as):
    admin = api_as("admin")
    for name in BROKEN_FILES:
        answer = admin.get(f"docs/手工/{name}").get_json()
        assert answer["access"] == "secret"
        assert SECRET_WORD in answer["body"]
    hits = admin.get("search", query_string={"q": SECRET_WORD}).get_json()["hits"]
    assert {hit["path"] for hit in hits} == {f"手工/{name}" for name in BROKEN_FILES}


def test_kb_check_and_the_health_panel_name_every_unreadable_document(app, api_as, tmp_path):
    check = api_as("admin").get("health?check=1").get_json()["check"]
    assert check["ok"] is False
    assert sorted(line.split(":")[1].strip() for line in check["problems"] if line.startswith("unreadable:")) == sorted(
        f"手工/{name}" for name in BROKEN_FILES
    )
    result = CliRunner().invoke(kb_cli, ["check"], env={"KB_INSTANCE_DIR": str(tmp_path / "instance")})
    assert result.exit_code == 1
    for name in BROKEN_FILES:
        assert f"unreadable: 手工/{name}: " in result.output
    assert "unreadable: 公开/目标" not in result.output
