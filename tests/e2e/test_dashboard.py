"""The dashboard in a real browser (Debian's chromium driven by playwright-core) against the embedded
product: sign in, create an interval job, trigger it, see the run succeed in its history, re-run it, backfill
a range of its past slots (and see a second backfill create nothing, and one into the future refused at `to`),
create a job with a retry that pauses itself after a failure and see attempt 2 linked to attempt 1 and the
reason it paused, resume it, cancel a running run, pause a job, switch to Arabic; the job's charts draw from its
history, times carry their zone (UTC switch remembered), a run triggered through the API appears in the jobs list
without a reload, no page scrolls sideways at 390 px. Screenshots of every page in both languages, wide and at
390 px, land in services/dashboard/screenshots/ (committed)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.support.processes import ROOT, free_port
from tests.support.product import clean_env, product, read_banner, token_from_banner, wait_ready

DASHBOARD = ROOT / "services/dashboard"
# Committed: every page in both languages, wide and at 390 px, as the last e2e run saw them.
SCREENSHOTS = DASHBOARD / "screenshots"


async def test_operator_flow_in_chromium(tmp_path: Path) -> None:
    assert (DASHBOARD / "dist/index.html").exists(), "build the dashboard first (make test does)"
    port = free_port()
    args = ["embedded", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    async with product(args, clean_env(), tmp_path / "embedded.log") as process:
        banner = await read_banner(process)
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url, process=process)
        env = {
            **os.environ,
            "BASE_URL": base_url,
            "TOKEN": token_from_banner(banner),
            "SCREENSHOT_DIR": str(SCREENSHOTS),
        }
        browser = await asyncio.create_subprocess_exec(
            "npm", "run", "--silent", "e2e",
            cwd=DASHBOARD, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(browser.communicate(), timeout=480)
    report = output.decode(errors="replace")
    assert browser.returncode == 0, report[-4000:]
    # The API's Content-Security-Policy lets the dashboard load what it needs: the browser refused nothing.
    assert "Content Security Policy" not in report, report[-4000:]
    taken = {path.stem for path in SCREENSHOTS.glob("*.png")}
    assert {"01-sign-in"} <= taken
    assert len(taken) >= 8, taken
    for name in ("overview", "jobs", "job-detail", "job-form", "history", "status"):
        for lang in ("en", "ar"):
            for width in (1366, 390):
                assert f"page-{name}-{lang}-{width}" in taken, (name, lang, width)


def test_the_production_build_ships_no_source_maps() -> None:
    dist = DASHBOARD / "dist"
    assert (dist / "index.html").exists(), "build the dashboard first (make test does)"
    files = [path for path in dist.rglob("*") if path.is_file()]

    assert any(path.suffix == ".js" for path in files)
    assert [path.name for path in files if path.suffix == ".map"] == []
    assert [
        path.name for path in files if path.suffix in {".js", ".css"} and b"sourceMappingURL" in path.read_bytes()
    ] == []
