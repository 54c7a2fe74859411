"""The command line as a newcomer runs it: ``kb …`` through Click's runner in this process
(``conftest.kb_cli``), and ``kb serve`` for real, as a server process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from click.testing import Result
from conftest import kb_cli
from web_fixtures import KbServer

ADMIN_PASSWORD = "Admin-pass-123"


# one test process runs this module, so its demo instance is made once (scripts/test.sh: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("cli")


def kb(instance: Path, *args: str, input: str | None = None) -> Result:
    return kb_cli(instance, *args, input=input, KB_ADMIN_PASSWORD=ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    instance = tmp_path_factory.mktemp("demo") / "instance"
    done = kb(instance, "init", "--demo")
    assert done.exit_code == 0, done.output
    return instance


def test_init_demo_imports_the_starter_content_with_history(demo):
    listing = kb(demo, "export", str(demo.parent / "export"))
    assert listing.exit_code == 0
    exported = list((demo.parent / "export").rglob("*.md"))
    assert len(exported) >= 32
    log = subprocess.run(
        ["git", "-C", str(demo / "content.git"), "log", "--format=%an"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(log) >= 3
    assert {"张伟", "李娜"} <= set(log)


def test_init_prints_a_generated_password_once(tmp_path):
    first = kb_cli(tmp_path / "instance", "init", KB_ADMIN_PASSWORD=None)
    assert "password: " in first.stdout
    second = kb_cli(tmp_path / "instance", "init", KB_ADMIN_PASSWORD=None)
    assert "password" not in second.stdout


def test_check_passes_on_a_fresh_demo_and_reports_a_broken_index(demo, tmp_path):
    ok = kb(demo, "check")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert "agree" in ok.stdout


def test_check_fails_with_a_report_when_the_tables_are_behind(tmp_path):
    instance = tmp_path / "instance"
    assert kb(instance, "init", "--demo").exit_code == 0
    with sqlite3.connect(instance / "kb.sqlite3") as db:
        db.execute("delete from documents where rowid in (select rowid from documents limit 2)")
    broken = kb(instance, "check")
    assert broken.exit_code == 1
    assert "catalog: missing from catalog" in broken.stderr
    assert kb(instance, "reindex").exit_code == 0
    assert kb(instance, "check").exit_code == 0


def test_import_turns_files_into_documents_in_one_commit(tmp_path):
    instance = tmp_path / "instance"
    source = tmp_path / "notes"
    (source / "网络").mkdir(parents=True)
    (source / "网络" / "VPN 故障.md").write_text("# VPN 无法连接\n\n检查证书。\n", encoding="utf-8")
    (source / "readme.md").write_text("---\ntitle: 说明\naccess: public\n---\n正文\n", encoding="utf-8")
    assert kb(instance, "init").exit_code == 0
    done = kb(instance, "import", str(source))
    assert done.exit_code == 0, done.stderr
    assert "imported 2 documents" in done.stdout
    exported = tmp_path / "out"
    kb(instance, "export", str(exported))
    vpn = (exported / "网络" / "VPN-故障.md").read_text(encoding="utf-8")
    assert "title: VPN 无法连接" in vpn
    assert "access: internal" in vpn
    # kb init wrote the starter synonym list (kb.services.synonyms.seed)
    assert [action for (action,) in audit_actions(instance)] == ["user_create", "synonyms_update", "import", "export"]


def test_embed_computes_the_meaning_vectors_an_import_lacks(tmp_path):
    instance = tmp_path / "instance"
    source = tmp_path / "notes"
    source.mkdir()
    (source / "打印机.md").write_text("# 打印机卡纸\n\n打开前盖取出纸张。\n", encoding="utf-8")
    (source / "门禁.md").write_text("# 门禁卡补办\n\n到前台登记。\n", encoding="utf-8")
    assert kb(instance, "init").exit_code == 0
    assert kb(instance, "import", str(source)).exit_code == 0
    assert "2 document(s) still without a meaning vector" in kb(instance, "check").stdout
    first = kb(instance, "embed")
    assert first.exit_code == 0, first.stderr
    assert "computed 2 meaning vectors" in first.stdout
    assert "computed 0 meaning vectors" in kb(instance, "embed").stdout
    assert "meaning vector" not in kb(instance, "check").stdout


def audit_actions(instance: Path) -> list[tuple[str]]:
    """Each audit entry's action, oldest first (read with sqlite3, as an auditor's script would)."""
    with sqlite3.connect(instance / "kb.sqlite3") as db:
        rows = db.execute("SELECT action FROM audit_trail ORDER BY id").fetchall()
    db.close()
    return rows


def test_export_zip_and_bundle_from_the_command_line(demo, tmp_path):
    latest = kb(demo, "export", str(tmp_path / "process.zip"), "--prefix", "02-process", "--latest")
    assert latest.exit_code == 0, latest.stderr
    with zipfile.ZipFile(tmp_path / "process.zip") as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert len(names) == 4 + 4 and all(name.startswith("documents/02-process/") for name in names[:4])
    assert [entry["file"] for entry in manifest["files"]] == names[:4]
    one = kb(demo, "export", str(tmp_path / "one.zip"), "--path", names[0][len("documents/") :])
    assert one.exit_code == 0, one.stderr
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert any(name.startswith("history/02-process/") for name in archive.namelist())
    bundle = kb(demo, "export", str(tmp_path / "content.bundle"), "--bundle")
    assert bundle.exit_code == 0, bundle.stderr
    subprocess.run(["git", "clone", "-q", str(tmp_path / "content.bundle"), str(tmp_path / "clone")], check=True)
    head = [
        subprocess.run(
            ["git", f"--git-dir={git_dir}", "rev-parse", "main"], capture_output=True, text=True, check=True
        ).stdout
        for git_dir in (demo / "content.git", tmp_path / "clone" / ".git")
    ]
    assert head[0] == head[1]
    assert [action for (action,) in audit_actions(demo)][-3:] == ["export", "export", "export"]


def test_export_refuses_zip_options_for_a_directory_and_leaves_no_partial_zip(demo, tmp_path):
    misuse = kb(demo, "export", str(tmp_path / "folder"), "--latest")
    assert misuse.exit_code == 2 and "apply to a .zip export" in misuse.stderr
    bad = kb(demo, "export", str(tmp_path / "x.zip"), "--path", "../etc")
    assert bad.exit_code == 1 and "segment may not start with" in bad.stderr
    assert list(tmp_path.iterdir()) == []


def test_user_and_token_commands(tmp_path):
    instance = tmp_path / "instance"
    assert kb(instance, "init").exit_code == 0
    added = kb(
        instance,
        "user",
        "add",
        "chen.jie",
        "--role",
        "editor",
        "--clearance",
        "confidential",
        "--password",
        "Chen-pass-123",
    )
    assert added.exit_code == 0, added.stderr
    token = kb(instance, "token", "create", "chen.jie")
    assert token.exit_code == 0
    assert token.stdout.strip().startswith("kb_")
    duplicate = kb(instance, "user", "add", "chen.jie", "--password", "Chen-pass-123")
    assert duplicate.exit_code == 1
    assert "已存在" in duplicate.stderr


def test_serve_with_several_workers_loses_no_concurrent_save(demo):
    with KbServer(demo, workers=3) as server:
        base = server.url
        token = requests.post(
            base + "/api/v1/tokens", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def put(i: int) -> tuple[int, dict]:
            response = requests.put(
                f"{base}/api/v1/docs/并发/文档{i % 4}",
                headers=headers,
                timeout=60,
                json={"title": f"并发 {i}", "body": f"第 {i} 次保存\n", "message": f"save {i}"},
            )
            return response.status_code, response.json()

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(put, range(40)))
        accepted = {body["revision"] for status, body in results if status in (200, 201)}
        assert len(accepted) == 40
        in_history = set()
        for n in range(4):
            versions = requests.get(f"{base}/api/v1/docs/并发/文档{n}/history", headers=headers, timeout=10).json()
            in_history |= {v["revision"] for v in versions["versions"]}
        assert accepted <= in_history
