"""The notification channels page in a real browser (Debian's chromium driven by playwright-core) against the
embedded product and a webhook receiver this test runs on 127.0.0.1: bad input shows every field error the API
names at once, a valid channel is created, a paused job's event is listed as delivered with its attempts and zoned
times, the channel is deleted after its confirmation. Screenshots of the channels pages in both languages, wide and
at 390 px, land in services/dashboard/screenshots/ (committed)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.support.processes import ROOT, free_port
from tests.support.product import clean_env, product, read_banner, token_from_banner, wait_ready
from tests.support.receiver import Receiver

DASHBOARD = ROOT / "services/dashboard"
SCREENSHOTS = DASHBOARD / "screenshots"
# The receiver is local (the outbound guard refuses loopback otherwise); relayed within 0.2 s of the event.
NOTIFY_ENV = {"SCHEDULER_OUTBOUND_ALLOW": '["127.0.0.1"]', "SCHEDULER_NOTIFICATION_POLL_INTERVAL": "0.2"}


async def test_notification_channels_in_chromium(tmp_path: Path) -> None:
    assert (DASHBOARD / "dist/index.html").exists(), "build the dashboard first (make test does)"
    receiver = Receiver()
    await receiver.start()
    port = free_port()
    args = ["embedded", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    try:
        async with product(args, clean_env(**NOTIFY_ENV), tmp_path / "embedded.log") as process:
            banner = await read_banner(process)
            base_url = f"http://127.0.0.1:{port}"
            await wait_ready(base_url, process=process)
            env = {
                **os.environ,
                "BASE_URL": base_url,
                "TOKEN": token_from_banner(banner),
                "RECEIVER_URL": receiver.url,
                "SCREENSHOT_DIR": str(SCREENSHOTS),
            }
            browser = await asyncio.create_subprocess_exec(
                "npm", "run", "--silent", "e2e:channels",
                cwd=DASHBOARD, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            output, _ = await asyncio.wait_for(browser.communicate(), timeout=300)
    finally:
        await receiver.stop()
    report = output.decode(errors="replace")
    assert browser.returncode == 0, report[-4000:]
    assert "Content Security Policy" not in report, report[-4000:]
    # The delivery the page showed as delivered reached the receiver.
    assert [r.payload["type"] for r in receiver.received] == ["job.paused"], report[-2000:]
    taken = {path.stem for path in SCREENSHOTS.glob("*.png")}
    for name in ("channels", "channel-form", "channel-deliveries"):
        for lang in ("en", "ar"):
            for width in (1366, 390):
                assert f"page-{name}-{lang}-{width}" in taken, (name, lang, width)
