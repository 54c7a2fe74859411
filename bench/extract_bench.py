"""What extracting the text of an attachment costs: seconds per MB of file for each format, and
the peak resident memory of the extracting child (``kb.files.extract``).

    .venv/bin/python bench/extract_bench.py [--sizes 1,4] [--repeat 3]

Each input is made here (tests/sample_files.py, grown to about each size in MiB on disk) from
Chinese and English service-desk words, so its text compresses as real documents do. Every
extraction runs as the service runs it, in a fresh child interpreter, its start included (the
"start" row is that fixed cost, on a one-line text file), under the default memory limit; the
limits on time and characters are lifted so that no input is cut short and every MiB is read.
Figures are the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import print_table
from kb.files import extract, types
from tests import sample_files

WORDS = (
    "服务请求 变更审批 事件管理 问题管理 配置管理 服务台 二线支持 运维组 响应时间 解决时间 升级 监控 告警 "
    "备份 恢复 数据库 网络 防火墙 nginx 502 timeout SLA KPI CMDB ITIL release deploy rollback "
    "客户 满意度 审计 合规 知识库 文档 归档 密级"
).split()


def sentence(rng: random.Random, words: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def make_pdf(units: int, rng: random.Random) -> bytes:
    return sample_files.pdf([[sentence(rng) for _ in range(40)] for _ in range(units)])


def make_docx(units: int, rng: random.Random) -> bytes:
    return sample_files.docx_file(sentence(rng, 30) for _ in range(units))


def make_xlsx(units: int, rng: random.Random) -> bytes:
    return sample_files.xlsx_file(
        [f"INC-{i}", rng.choice(WORDS), sentence(rng, 6), rng.randint(1, 500), rng.random()] for i in range(units)
    )


def make_pptx(units: int, rng: random.Random) -> bytes:
    return sample_files.pptx_file((sentence(rng, 4), "\n".join(sentence(rng) for _ in range(8))) for _ in range(units))


def make_text(units: int, rng: random.Random) -> bytes:
    return "".join(f"2026-12-04 10:{i % 60:02d} {sentence(rng)}\n" for i in range(units)).encode()


# (format, a name for types.detect, the maker, units for a first try)
FORMATS: list[tuple[str, str, Callable[[int, random.Random], bytes], int]] = [
    ("PDF", "x.pdf", make_pdf, 20),
    ("DOCX", "x.docx", make_docx, 2000),
    ("XLSX", "x.xlsx", make_xlsx, 2000),
    ("PPTX", "x.pptx", make_pptx, 20),
    ("text", "x.log", make_text, 2000),
]


LIMITS = dataclasses.replace(extract.LIMITS, seconds=600, max_chars=1 << 30)


def grown(make: Callable[[int, random.Random], bytes], units: int, mib: float) -> bytes:
    """An input of about ``mib`` MiB: made once small, then again with its units scaled."""
    probe = make(units, random.Random(7))
    return make(max(1, round(units * mib * (1 << 20) / len(probe))), random.Random(7))


def measure(data: bytes, name: str, repeat: int) -> tuple[float, int, int, str | None]:
    content_type = types.detect(data, name).content_type
    runs = [extract.extract(data, content_type, LIMITS) for _ in range(repeat)]
    seconds = statistics.median(run.seconds for run in runs)
    return seconds, max(run.peak_rss for run in runs), len(runs[0].text), runs[0].reason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4", help="sizes of the inputs in MiB, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [float(size) for size in args.sizes.split(",")]

    seconds, peak, _, _ = measure(b"start\n", "x.txt", args.repeat)
    rows: list[list[object]] = [["start (1 line of text)", "0.00", f"{seconds:.3f}", "", f"{peak / (1 << 20):.0f}", ""]]
    for label, name, make, units in FORMATS:
        for mib in sizes:
            data = grown(make, units, mib)
            megabytes = len(data) / (1 << 20)
            seconds, peak, chars, reason = measure(data, name, args.repeat)
            rows.append(
                [
                    label,
                    f"{megabytes:.2f}",
                    f"{seconds:.2f}",
                    f"{seconds / megabytes:.2f}",
                    f"{peak / (1 << 20):.0f}",
                    f"{chars:,}" + (f" ({reason})" if reason else ""),
                ]
            )
    print_table(
        f"Text extraction in a bounded child (median of {args.repeat}; memory limited, time and characters not)",
        ["format", "MiB on disk", "seconds", "s per MiB", "peak RSS MiB", "characters"],
        rows,
    )


if __name__ == "__main__":
    main()
