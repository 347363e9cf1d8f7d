"""Summarise py-spy raw (collapsed) profiles: `python -m benchmarks.harness.profile_summary FILE... [--top N]`.

For each file: samples, the top functions by self time, and inclusive time of the product's own functions and
of the libraries underneath (SQLAlchemy, asyncpg, aio-pika/aiormq, structlog, pydantic, asyncio). py-spy
records non-idle samples only, so shares are of the process's busy time."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")
# Library buckets by the first directory of a frame's file (py-spy prints paths relative to sys.path).
BUCKETS = {
    "sqlalchemy": "sqlalchemy",
    "asyncpg": "asyncpg",
    "aiosqlite": "aiosqlite/sqlite3",
    "sqlite3": "aiosqlite/sqlite3",
    "aio_pika": "aio_pika/aiormq/pamqp",
    "aiormq": "aio_pika/aiormq/pamqp",
    "pamqp": "aio_pika/aiormq/pamqp",
    "structlog": "structlog/logging",
    "logging": "structlog/logging",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "uvicorn": "uvicorn/starlette/fastapi",
    "starlette": "uvicorn/starlette/fastapi",
    "fastapi": "uvicorn/starlette/fastapi",
    "prometheus_client": "prometheus_client",
    "asyncio": "asyncio (event loop, transports)",
    "selectors.py": "asyncio (event loop, transports)",
}
ASYNCIO = "asyncio (event loop, transports)"


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        body, _, count = line.rpartition(" ")
        if not body or not count.isdigit():
            continue
        frames = []
        for raw in body.split(";")[1:]:  # the first element is the process/thread name
            match = FRAME.match(raw.strip())
            frames.append((match["func"], match["file"]) if match else (raw.strip(), ""))
        stacks.append((frames, int(count)))
    return stacks


def _top_dir(file: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return file.split("/", 1)[0]


def _short(func: str, file: str) -> str:
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{func} ({file})"


def summarise(path: Path, top: int) -> str:
    stacks = parse(path)
    total = sum(count for _, count in stacks) or 1
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    leaf_buckets: Counter[str] = Counter()
    for frames, count in stacks:
        if frames:
            self_time[_short(*frames[-1])] += count
            leaf_file = frames[-1][1]
            leaf_buckets[
                BUCKETS.get(_top_dir(leaf_file), "scheduler code" if "scheduler_" in leaf_file else "other")
            ] += count
        seen: set[str] = set()
        for func, file in frames:
            if "scheduler_" in file or "benchmarks/" in file:
                name = _short(func, file)
                if name not in seen:
                    inclusive[name] += count
                    seen.add(name)
        hit = {BUCKETS[_top_dir(file)] for _, file in frames if _top_dir(file) in BUCKETS} - {ASYNCIO}
        for bucket in hit:
            buckets[bucket] += count
    lines = [f"### {path.name}: {total} samples", "", "self time:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in self_time.most_common(top)]
    lines += ["", "inclusive, product code:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in inclusive.most_common(top)]
    lines += ["", "self time by where the leaf frame is:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in leaf_buckets.most_common()]
    lines += ["", "inclusive, libraries:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in buckets.most_common()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.files:
        print(summarise(path, args.top))


if __name__ == "__main__":
    main()
