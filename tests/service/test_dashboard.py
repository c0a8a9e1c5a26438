"""The dashboard in headless Chromium: live credit, recent paths, recommendation, via SSE."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import httpx
import pytest
from tests.service.conftest import Server, auth, conversion, touch

from mixlens.service.store import EventStore

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(), reason="no system chromium"
)


def _colored_pixels(png: bytes, rgb: tuple[int, int, int]) -> int:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int64)
    return int((np.abs(pixels - np.array(rgb)).max(axis=-1) < 8).sum())


def test_dashboard_updates_live_and_draws_charts(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    db = tmp_path / "dash.db"
    store = EventStore(db)
    key = store.create_key("dash")
    store.close()
    allocation = tmp_path / "allocation.csv"
    allocation.write_text(
        "channel,current_spend,recommended_spend,expected_contribution_mean\n"
        "tv,100,80,50\nsearch,50,90,60\n"
    )
    server = Server(db, "--allocation", str(allocation))
    server.start()
    try:
        events = [
            touch("t1", "u1", "2025-01-01T00:00:00Z", "tv"),
            touch("t2", "u1", "2025-01-02T00:00:00Z", "search"),
            conversion("c1", "u1", "2025-01-03T00:00:00Z", value=10.0),
        ]
        r = httpx.post(f"{server.url}/v1/events", json={"events": events}, headers=auth(key))
        assert r.status_code == 200
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(f"{server.url}/dashboard")
            page.fill("#key", key)
            page.click("button[type=submit]")
            page.wait_for_selector("#credit-chart rect.bar", timeout=15_000)
            assert page.locator("#status").inner_text() == "live"
            assert page.locator("#credit-chart rect.bar").count() == 2
            assert page.locator("#allocation-chart rect.bar").count() == 4
            assert "c1" in page.locator("#recent").inner_text()
            assert "tv 0.50" in page.locator("#recent").inner_text()
            updates = int(page.locator("body").get_attribute("data-updates") or 0)
            more = [
                touch("t3", "u2", "2025-01-03T00:00:00Z", "social"),
                conversion("c2", "u2", "2025-01-04T00:00:00Z", value=5.0),
            ]
            r = httpx.post(f"{server.url}/v1/events", json={"events": more}, headers=auth(key))
            assert r.status_code == 200
            page.wait_for_function(
                f"Number(document.body.dataset.updates) > {updates}", timeout=15_000
            )
            assert page.locator("#credit-chart rect.bar").count() == 3
            assert page.locator("#recent tr").first.inner_text().startswith("c2")
            shot = page.locator("#credit-chart").screenshot()
            (tmp_path / "credit.png").write_bytes(shot)
            assert _colored_pixels(shot, (0x3B, 0x6F, 0xD8)) > 200  # the first channel's bar
            alloc = page.locator("#allocation-chart").screenshot()
            assert _colored_pixels(alloc, (0x3A, 0xA6, 0x7A)) > 200  # recommended spend bars
            page.screenshot(path=str(tmp_path / "dashboard.png"))
            browser.close()
    finally:
        server.stop()
