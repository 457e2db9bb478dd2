"""A real browser on the real app: headless Debian Chromium driven by Playwright logs in,
ranks a pair with the keyboard, and the ranking is in PostgreSQL; a response holding a
<script> shows as text and never runs. Sessions: the HttpOnly, SameSite=Strict cookie
keeps a person logged in across a reload, a second tab and a followed link; log-out ends it
in the other tab too; idle, expired and forged cookies lead back to the login page; the
per-client back-off keys on a forwarded address only from a trusted proxy."""

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from db.base import utcnow
from db.models import LoginSession, LoginThrottle, Ranking
from db.session import sessionmaker_for
from tests.annotation_helpers import PASSWORD, annotation_store
from tests.conftest import FACTORY, env_for, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def serving(pg_url: str, tmp_path: Path, port: int | None = None,
            **settings: str) -> Iterator[str]:
    """`factory annotate app` on a free port, until the block ends."""
    port = port or free_port()
    env = env_for(pg_url, "", "") | {f"FACTORY_{k.upper()}": v for k, v in settings.items()}
    log = (tmp_path / f"app-{port}.log").open("wb")
    proc = subprocess.Popen([FACTORY, "annotate", "app", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"the app did not start: {(tmp_path / f'app-{port}.log').read_text()}")
    try:
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)


@pytest.fixture
def app_url(pg_url: str, tmp_path: Path) -> Iterator[str]:
    with serving(pg_url, tmp_path) as url:
        yield url


def launch(pw):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is required at {CHROMIUM}: run scripts/setup.sh")
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def log_in(page, url: str, name: str = "ann", password: str = PASSWORD) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_log_in_and_rank_a_pair_with_the_keyboard(pg_url, app_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    sessions = sessionmaker_for(pg_url)
    annotation_store(sessions, tmp_path, count=1, temperatures=(0.3, 1.0))
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        log_in(page, app_url)
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


RANK = "Rank the responses"
LOGGED_OUT = "You were logged out (here, in another tab, or by an admin)."


def session_cookies(context) -> list[dict]:
    return [c for c in context.cookies() if c["name"] == "factory_session"]


def test_a_session_survives_reload_tabs_and_links_and_log_out_ends_it_in_every_tab(
        pg_url, app_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    sessions = sessionmaker_for(pg_url)
    annotation_store(sessions, tmp_path, count=2, temperatures=(0.3, 1.0))
    with sync_playwright() as pw:
        browser = launch(pw)
        context = browser.new_context()
        page = context.new_page()
        log_in(page, app_url)
        expect(page.get_by_text(RANK)).to_be_visible(timeout=30_000)
        [cookie] = session_cookies(context)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
        assert time.time() + 11 * 3600 < cookie["expires"] < time.time() + 13 * 3600
        assert "factory_session" not in page.evaluate("document.cookie")  # out of scripts' reach
        page.reload()
        expect(page.get_by_text(RANK)).to_be_visible(timeout=30_000)
        second = context.new_page()
        second.goto(app_url)
        expect(second.get_by_text(RANK)).to_be_visible(timeout=30_000)
        # a relative link followed: a whole new page load, not Streamlit's own navigation
        page.evaluate("""() => {
            const a = document.createElement("a");
            a.href = "./?from=link"; a.id = "relative"; a.textContent = "a relative link";
            a.style = "position: fixed; bottom: 8px; right: 8px; z-index: 999999";
            document.body.append(a);
        }""")
        page.click("#relative")
        page.wait_for_url("**/?from=link")
        expect(page.get_by_text(RANK)).to_be_visible(timeout=30_000)
        # log out in the second tab; the first is logged out at its next key press
        second.get_by_role("button", name="Log out", exact=True).click()
        expect(second.get_by_text("Annotation: log in")).to_be_visible(timeout=30_000)
        assert session_cookies(context) == []  # the server cleared it
        page.get_by_text(RANK).click()
        page.keyboard.press("a")
        expect(page.get_by_text(LOGGED_OUT)).to_be_visible(timeout=30_000)
        expect(page.get_by_text(RANK)).to_have_count(0)
        browser.close()
    with sessions() as s:
        assert s.scalars(select(Ranking)).all() == []  # the press after log-out judged nothing
        assert [r.revoked_at is not None for r in s.scalars(select(LoginSession))] == [True]


def test_an_admin_keeps_the_page_they_were_on(pg_url, app_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    annotation_store(sessionmaker_for(pg_url), tmp_path, count=1, temperatures=(0.3, 1.0))
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        log_in(page, app_url, "root")
        expect(page.get_by_text(RANK)).to_be_visible(timeout=30_000)
        page.get_by_role("link", name="Lockouts").click()
        expect(page.get_by_role("heading", name="Log-in lockouts")).to_be_visible(
            timeout=30_000)
        page.reload()
        expect(page.get_by_role("heading", name="Log-in lockouts")).to_be_visible(
            timeout=30_000)
        assert page.url.endswith("/lockouts")
        browser.close()


def test_forged_idle_and_expired_cookies_lead_back_to_login(pg_url, app_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    sessions = sessionmaker_for(pg_url)
    annotation_store(sessions, tmp_path, count=1, temperatures=(0.3, 1.0))
    ended = {"last_seen_at": ("without activity", utcnow() - timedelta(minutes=31)),
             "expires_at": ("reached its limit", utcnow() - timedelta(seconds=1))}
    with sync_playwright() as pw:
        browser = launch(pw)
        context = browser.new_context()
        context.add_cookies([{"name": "factory_session", "value": "forged-" + "x" * 36,
                              "url": app_url, "httpOnly": True, "sameSite": "Strict"}])
        page = context.new_page()
        page.goto(app_url)
        expect(page.get_by_text("Annotation: log in")).to_be_visible(timeout=30_000)
        for column, (message, moment) in ended.items():
            log_in(page, app_url)
            expect(page.get_by_text(RANK)).to_be_visible(timeout=30_000)
            with sessions.begin() as s:
                s.execute(update(LoginSession).where(LoginSession.revoked_at.is_(None))
                          .values({column: moment}))
            page.reload()
            expect(page.get_by_text("Annotation: log in")).to_be_visible(timeout=30_000)
            expect(page.get_by_text(message)).to_be_visible()
        browser.close()


# Streamlit reports no address for a loopback client (st.context.ip_address): without a
# believed X-Forwarded-For, the test browser has no per-client key at all
@pytest.mark.parametrize(("trusted", "seen"), [("", []), ("10.9.9.9", []),
                                               ("127.0.0.1", ["203.0.113.9"])],
                         ids=["off", "another-proxy", "this-proxy"])
def test_the_back_off_keys_on_a_forwarded_address_only_from_a_trusted_proxy(
        pg_url, tmp_path, trusted, seen) -> None:
    from playwright.sync_api import expect, sync_playwright

    annotation_store(sessionmaker_for(pg_url), tmp_path, count=1, temperatures=(0.3, 1.0))
    with serving(pg_url, tmp_path, annotation_trusted_proxies=trusted) as url, \
            sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.9"}
                                   ).new_page()
        log_in(page, url, "ann", "a wrong guess")
        expect(page.get_by_text("Wrong name or password.")).to_be_visible(timeout=30_000)
        browser.close()
    with sessionmaker_for(pg_url)() as s:
        assert s.scalars(select(LoginThrottle.key).where(LoginThrottle.kind == "client")
                         ).all() == seen


def test_log_in_through_an_identity_provider_then_the_factorys_session_alone(
        pg_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests import oidc_provider

    sessions = sessionmaker_for(pg_url)
    annotation_store(sessions, tmp_path, count=1, temperatures=(0.3, 1.0),
                     people=("carol@example.org",))
    port = free_port()
    with oidc_provider.provider("Carol@Example.org") as idp, serving(
            pg_url, tmp_path, port=port, annotation_oidc_label="Example SSO",
            annotation_oidc_client_id=oidc_provider.CLIENT_ID,
            annotation_oidc_client_secret=oidc_provider.CLIENT_SECRET,
            annotation_oidc_metadata_url=f"{idp}/.well-known/openid-configuration",
            annotation_oidc_redirect_uri=f"http://127.0.0.1:{port}/oauth2callback") as url, \
            sync_playwright() as pw:
        browser = launch(pw)
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        expect(page.get_by_role("textbox", name="Password")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Log in with Example SSO").click()
        expect(page.get_by_text(RANK)).to_be_visible(timeout=30_000)
        expect(page.get_by_text("carol@example.org")).to_be_visible()
        names = {c["name"] for c in context.cookies()}
        assert "factory_session" in names
        assert not [n for n in names if n.startswith("_streamlit_user")]  # dropped
        page.reload()
        expect(page.get_by_text(RANK)).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Log out", exact=True).click()
        # logged out: the provider is offered again, not taken silently
        expect(page.get_by_role("button", name="Log in with Example SSO")).to_be_visible(
            timeout=30_000)
        browser.close()
    with sessions() as s:
        [row] = s.scalars(select(LoginSession)).all()
    assert row.method == "oidc" and row.revoked_at is not None
