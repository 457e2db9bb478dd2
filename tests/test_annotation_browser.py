"""A real browser on the real app: headless Debian Chromium driven by Playwright logs in,
ranks a pair with the keyboard, and the ranking is in PostgreSQL; a response holding a
<script> shows as text and never runs."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from db.models import Ranking
from db.session import sessionmaker_for
from tests.annotation_helpers import PASSWORD, annotation_store
from tests.conftest import FACTORY, env_for, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def streamlit_up(url: str, seconds: float = 60) -> bool:
    """Whether the Streamlit server at ``url`` answers its health check within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.3)
    return False
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
def app_url(pg_url: str, tmp_path: Path):
    port = free_port()
    env = env_for(pg_url, "", "")
    log = (tmp_path / "app.log").open("wb")
    proc = subprocess.Popen([FACTORY, "annotate", "app", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    if not streamlit_up(url):
        proc.kill()
        pytest.fail(f"the app did not start: {(tmp_path / 'app.log').read_text()}")
    yield url
    os.killpg(proc.pid, 15)
    proc.wait(20)


def test_log_in_and_rank_a_pair_with_the_keyboard(pg_url, app_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is required at {CHROMIUM}: run scripts/setup.sh")
    sessions = sessionmaker_for(pg_url)
    annotation_store(sessions, tmp_path, count=1, temperatures=(0.3, 1.0))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(app_url)
        page.get_by_role("textbox", name="Name").fill("ann")
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("Rank the responses")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("done 0 · left 1")).to_be_visible()
        # the script is on the page as text, and it did not run
        expect(page.get_by_text("<script>window.pwned = 1</script> a hot answer")).to_be_visible()
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.locator("script:text('pwned')").count() == 0
        page.get_by_text("Rank the responses").click()  # focus off any input
        page.keyboard.press("b")
        expect(page.get_by_text("done 1 · left 0")).to_be_visible(timeout=30_000)
        browser.close()
    with sessions() as s:
        [j] = s.scalars(select(Ranking)).all()
    assert j.tiers == [[j.shown_order[1]], [j.shown_order[0]]]  # B (shown second) won
