"""A real browser on the real app: headless Debian Chromium driven by Playwright logs in,
ranks a pair with the keyboard, and the ranking is in PostgreSQL; a response holding a
<script> shows as text and never runs. With a 200 KB response, on a desktop and on a phone
screen, the page stays short, the choice buttons are in the first screen and stay in view,
and they wear the app's theme, not a danger red. Sessions: the HttpOnly, SameSite=Strict
cookie keeps a person logged in across a reload, a second tab and a followed link; log-out
ends it in the other tab too; idle, expired and forged cookies lead back to the login page;
the per-client back-off keys on a forwarded address only from a trusted proxy; a log-in
through an identity provider ends in the factory's own session."""

import colorsys
import contextlib
import os
import re
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from db.base import utcnow
from db.models import Generation, LoginSession, LoginThrottle, Ranking
from db.session import sessionmaker_for
from factory.annotation import task_queue
from tests.annotation_helpers import PASSWORD, annotation_store, responses_job
from tests.conftest import FACTORY, env_for, free_port
from tests.helpers import ROOT

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
    if not streamlit_up(url):
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


def chromium(pw):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is required at {CHROMIUM}: run scripts/setup.sh")
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def submit_login(page, url: str, name: str, password: str = PASSWORD) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def log_in(page, url: str, name: str) -> None:
    from playwright.sync_api import expect

    submit_login(page, url, name)
    expect(page.get_by_text("Rank the responses")).to_be_visible(timeout=30_000)


def test_log_in_and_rank_a_pair_with_the_keyboard(pg_url, app_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    sessions = sessionmaker_for(pg_url)
    annotation_store(sessions, tmp_path, count=1, temperatures=(0.3, 1.0))
    with sync_playwright() as pw:
        browser = chromium(pw)
        page = browser.new_page()
        log_in(page, app_url, "ann")
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


END = "the last line of a very long answer"
LONG = ("A line of model output that goes on, and on, and on, " * 3 + "\n\n") * 1250 + END
SCREENS = {"ann": (1280, 720), "bob": (390, 844), "cat": (390, 844)}  # cat ranks a list
PAIR = ("A is better", "B is better", "Tie", "Both bad", "Skip")
LIST = ("Submit ranking", "All bad", "Skip")
THEME = tomllib.loads((ROOT / "annotation_ui" / ".streamlit" / "config.toml").read_text())


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return r, g, b


def reddish(color: tuple[int, int, int]) -> bool:
    hue, saturation, _ = colorsys.rgb_to_hsv(*(c / 255 for c in color))
    return saturation > 0.25 and (hue < 25 / 360 or hue > 330 / 360)


def in_view(page, name: str) -> bool:
    """The button is inside the window and nothing covers its middle."""
    button = page.get_by_role("button", name=re.compile(f"^{re.escape(name)}"))
    box = button.bounding_box()
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    if not (box and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width
            and box["y"] + box["height"] <= height):
        return False
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    return button.evaluate("(b, [x, y]) => b.contains(document.elementFromPoint(x, y))", [x, y])


MAIN = "document.querySelector('[data-testid=stMain]')"


def test_choices_stay_in_view_beside_a_200kb_response_on_desktop_and_phone(
        pg_url, app_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    sessions = sessionmaker_for(pg_url)
    # a pair for ann and bob, then a list of three: whoever ranks the pair is handed the list
    # next, and cat gets it first thing (its k leaves room for the claims of all three)
    _, ids = annotation_store(sessions, tmp_path, k=2, count=1, temperatures=(0.3, 1.0),
                              people=("ann", "bob", "cat"))
    (tmp_path / "lists").mkdir()
    listed = responses_job(sessions, tmp_path / "lists", count=1)
    with sessions.begin() as s:
        task_queue.create_tasks(s, listed, k=3)
        s.execute(update(Generation).where(Generation.text.startswith("<script>"))
                  .values(text=LONG))
    assert len(LONG.encode()) > 200_000
    hex_color = THEME["theme"]["primaryColor"]
    primary = tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    assert not reddish(primary)
    with sync_playwright() as pw:
        browser = chromium(pw)
        for name, (width, height) in SCREENS.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            log_in(page, app_url, name)
            expect(page.get_by_text(END)).to_be_attached()
            page.wait_for_timeout(500)  # let the layout settle
            # the 200 KB response scrolls in its box (which is tens of thousands of px tall
            # inside): the page is a few screens (three responses on a phone: about three),
            # not the 107,000 px it was
            tall, wide = page.evaluate(f"[{MAIN}.scrollHeight, {MAIN}.scrollWidth]")
            inside = page.get_by_text(END).evaluate(
                "e => e.closest('[class*=st-key-untrusted]').scrollHeight")
            assert inside > 30_000 and tall < 4 * height, (name, inside, tall)
            assert wide <= width, (name, wide)  # nothing to scroll sideways on a phone
            # side by side on a desktop, (nearly) the full width of a phone, in body-size text
            for box in page.locator("[class*='st-key-untrusted-response']").all():
                assert box.bounding_box()["width"] >= (340 if width > 640 else 0.8 * width)
                size = box.locator("p").first.evaluate("p => getComputedStyle(p).fontSize")
                assert float(size.removesuffix("px")) >= 14
            buttons = LIST if name == "cat" else PAIR
            assert all(in_view(page, b) for b in buttons), name
            # scrolled down to the second response, the choices are still there
            page.evaluate(f"{MAIN}.scrollTop = {MAIN}.scrollHeight / 2")
            page.wait_for_timeout(200)
            assert all(in_view(page, b) for b in buttons), name
            if name == "cat":  # rank the list (on a phone), which enables Submit
                for i, rank in enumerate((2, 1, 3), start=1):
                    page.get_by_label(f"Rank of response {i}").click()
                    page.keyboard.type(str(rank))
                    page.keyboard.press("Enter")
                    expect(page.get_by_label(f"Rank of response {i}")).to_have_value(str(rank))
                expect(page.get_by_role("button", name=re.compile("^Submit"))).to_be_enabled()
                assert in_view(page, "Submit ranking")
            # the theme's colour, not red (Streamlit's default primary is)
            first = page.get_by_role("button", name=re.compile(f"^{buttons[0]}"))
            assert rgb(first.evaluate("b => getComputedStyle(b).backgroundColor")) == primary
            first.click() if name == "cat" else page.get_by_role(
                "button", name=re.compile("^B is better")).click()
            expect(page.get_by_text("done 1")).to_be_visible(timeout=30_000)
            page.close()
        browser.close()
    with sessions() as s:
        done = {r.annotator_id: r for r in s.scalars(select(Ranking))}
    assert set(done) == {ids["ann"], ids["bob"], ids["cat"]}
    for who in ("ann", "bob"):
        r = done[ids[who]]
        assert r.tiers == [[r.shown_order[1]], [r.shown_order[0]]]  # B (shown second) won
    order = done[ids["cat"]].shown_order
    assert done[ids["cat"]].tiers == [[order[1]], [order[0]], [order[2]]]


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
        browser = chromium(pw)
        context = browser.new_context()
        page = context.new_page()
        log_in(page, app_url, "ann")
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
        browser = chromium(pw)
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
        browser = chromium(pw)
        context = browser.new_context()
        context.add_cookies([{"name": "factory_session", "value": "forged-" + "x" * 36,
                              "url": app_url, "httpOnly": True, "sameSite": "Strict"}])
        page = context.new_page()
        page.goto(app_url)
        expect(page.get_by_text("Annotation: log in")).to_be_visible(timeout=30_000)
        for column, (message, moment) in ended.items():
            log_in(page, app_url, "ann")
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
        browser = chromium(pw)
        page = browser.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.9"}
                                   ).new_page()
        submit_login(page, url, "ann", "a wrong guess")
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
        browser = chromium(pw)
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
