"""Shared pieces of the benchmarks: a corpus, a kb instance served over loopback, statistics
and a table printer. Benchmarks measure; they never assert."""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
# ../shared/corpus beside the checkout; a git worktree further down (wt/<name>) finds it higher up
SHARED_CORPUS = next(
    (folder / "shared" / "corpus" for folder in ROOT.parents if (folder / "shared" / "corpus").is_dir()),
    ROOT.parent / "shared" / "corpus",
)
PASSWORD = "Bench-admin-pw-1!"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        load = "load average unknown"
    return f"{os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}, {platform.system()}, {load}"


def corpus_dir(arg: str = "auto") -> Path | None:
    """The corpus folder: an explicit path, or the first one in ../shared/corpus, or None."""
    if arg != "auto":
        return Path(arg)
    if SHARED_CORPUS.is_dir():
        for child in sorted(SHARED_CORPUS.iterdir()):
            if child.is_dir():
                return child
    return None


def synthetic_documents(count: int, seed: int = 7) -> Iterator[tuple[str, str]]:
    """(relative path, text) of generated Chinese/English service documents."""
    rng = random.Random(seed)
    words = (
        "服务请求 变更审批 事件管理 问题管理 配置管理 服务台 二线支持 运维组 响应时间 解决时间 升级 监控 告警 "
        "备份 恢复 数据库 网络 防火墙 nginx 502 timeout SLA KPI CMDB ITIL release deploy rollback "
        "客户 满意度 审计 合规 知识库 文档 归档 密级"
    ).split()
    for i in range(count):
        paragraphs = [
            "".join(rng.choice(words) + ("，" if rng.random() < 0.2 else "") for _ in range(60)) for _ in range(12)
        ]
        yield f"gen/{i // 100:03d}/doc-{i:05d}.md", f"# 文档 {i}\n\n" + "\n\n".join(paragraphs) + "\n"


def write_corpus(target: Path, count: int, corpus: Path | None) -> list[str]:
    """Write ``count`` .md files into ``target`` (the corpus, replicated under dupN/ as needed);
    return their document paths."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    paths: list[str] = []
    if corpus is not None:
        sources = sorted(p for p in corpus.rglob("*.md") if ".git" not in p.parts)
        copy = 0
        while len(paths) < count:
            for source in sources:
                if len(paths) >= count:
                    break
                relative = source.relative_to(corpus).as_posix()
                relative = relative if copy == 0 else f"dup{copy}/{relative}"
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target / relative)
                paths.append(relative[:-3])
            copy += 1
    else:
        for relative, text in synthetic_documents(count):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_text(text, encoding="utf-8")
            paths.append(relative[:-3])
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Instance:
    """A kb instance folder driven through ``python -m kb``."""

    folder: Path
    python: str = sys.executable

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, KB_INSTANCE_DIR=str(self.folder), KB_ADMIN_PASSWORD=PASSWORD)

    def kb(self, *args: str) -> float:
        """Run a kb command; return its wall time in seconds."""
        started = time.perf_counter()
        subprocess.run([self.python, "-m", "kb", *args], cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started

    @contextmanager
    def serve(self, workers: int = 2) -> Iterator[requests.Session]:
        """Serve on a free loopback port; yield an HTTP session logged in as admin."""
        port = free_port()
        process = subprocess.Popen(
            [self.python, "-m", "kb", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        http = requests.Session()
        http.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    if http.get(http.base + "/api/v1/openapi.json", timeout=5).ok:  # type: ignore[attr-defined]
                        break
                except requests.ConnectionError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("kb serve did not start") from None
                    time.sleep(0.1)
            token = http.post(
                http.base + "/api/v1/tokens",  # type: ignore[attr-defined]
                json={"username": "admin", "password": PASSWORD},
            ).json()["token"]
            http.headers["Authorization"] = f"Bearer {token}"
            yield http
        finally:
            process.terminate()
            process.wait(timeout=30)


def imported_instance(work: Path, docs: int, corpus: Path | None) -> tuple[Instance, list[str]]:
    """An instance under ``work`` holding ``docs`` documents and their paths; a ``work`` built by an
    earlier run is measured again as it is (its import folder says which documents it holds)."""
    instance = Instance(work / "instance")
    if instance.folder.exists():
        return instance, sorted(p.relative_to(work / "import").as_posix()[:-3] for p in (work / "import").rglob("*.md"))
    paths = write_corpus(work / "import", docs, corpus)
    instance.kb("init")
    instance.kb("import", str(work / "import"))
    return instance, paths


def timed(calls: list[Callable[[], requests.Response]]) -> list[float]:
    """Milliseconds of each call; a failed call raises (a benchmark of errors is worthless)."""
    samples = []
    for call in calls:
        started = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code >= 400:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        samples.append(elapsed)
    return samples


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(samples: list[float]) -> str:
    return f"{statistics.median(samples):.1f} / {percentile(samples, 95):.1f}"


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n### {title}\n\nmachine: {machine()}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def save_json(path: Path | None, data: object) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
