"""The routes that set and clear the session cookie (Starlette's test client), and which
client address the per-client back-off sees behind a proxy (uvicorn's proxy middleware as
`factory annotate app` configures it)."""

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1.util import patch_config_options
from streamlit.web.server.app_discovery import discover_asgi_app
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from annotation_ui.session_routes import COOKIE, routes
from db.models import LoginSession
from db.session import sessionmaker_for
from factory.annotation import login_sessions
from factory.annotation.accounts import Role, add_annotator
from factory.config import Settings
from tests.conftest import use
from tests.helpers import ROOT

SAME = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}


@pytest.fixture
def store(sqlite_url, monkeypatch):
    use(monkeypatch, database_url=sqlite_url)
    sessions = sessionmaker_for(sqlite_url)
    with sessions.begin() as s:
        add_annotator(s, "ann", Role.annotator, "correct horse")
    return sessions


def ticket(sessions) -> str:
    with sessions.begin() as s:
        return login_sessions.issue_ticket(s, 1, "password", None)


def client(base_url: str = "http://testserver") -> TestClient:
    return client_for(routes(), base_url)


def client_for(made: list, base_url: str = "http://testserver") -> TestClient:
    return TestClient(Starlette(routes=made), base_url=base_url, follow_redirects=False)


def test_a_ticket_becomes_an_httponly_strict_cookie_once(store) -> None:
    t = ticket(store)
    answer = client().post("/session/start", data={"ticket": t, "next": "/progress"},
                           headers=SAME)
    assert answer.status_code == 303 and answer.headers["location"] == "/progress"
    cookie = answer.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert attributes == {"httponly", "max-age", "path", "samesite"}  # not Secure on http
    assert "SameSite=strict" in cookie and "Max-Age=43200" in cookie and "Path=/" in cookie
    sid = answer.cookies[COOKIE]
    with store() as s:
        assert s.scalar(select(LoginSession.token_hash)) == login_sessions.digest(sid)
    again = client().post("/session/start", data={"ticket": t}, headers=SAME)
    assert again.headers["location"] == "/" and "set-cookie" not in again.headers


def test_under_a_base_path_the_routes_and_the_cookies_are_under_it(store, monkeypatch
                                                                   ) -> None:
    """Behind a proxy serving the app under /annotate (server.baseUrlPath): the page posts
    under it, the routes answer there, and the cookies' Path is it, as Streamlit's own."""
    from annotation_ui import state

    posted = []
    monkeypatch.setattr(state.st, "html", lambda html, **kw: posted.append(html))
    monkeypatch.setattr(state.st, "stop", lambda: None)
    with patch_config_options({"server.baseUrlPath": "annotate/"}):
        c = client_for(routes())
        state.hand_off("/session/start", {"ticket": "t"})
    assert '"/annotate/session/start"' in posted[0]
    assert c.post("/session/start", data={"ticket": ticket(store)}, headers=SAME
                  ).status_code == 404
    c.cookies.update({"_streamlit_user": "signed"})
    answer = c.post("/annotate/session/start", headers=SAME,
                    data={"ticket": ticket(store), "next": "/annotate/progress"})
    assert answer.status_code == 303 and answer.headers["location"] == "/annotate/progress"
    cookies = {h.split("=")[0]: h for h in answer.headers.get_list("set-cookie")}
    assert "; Path=/annotate;" in cookies[COOKIE] + ";"
    assert "Max-Age=0" in cookies["_streamlit_user"]  # set under the base path: cleared there
    assert "; Path=/annotate;" in cookies["_streamlit_user"] + ";"
    stale = c.post("/annotate/session/start", data={"ticket": "spent", "next": "//x"},
                   headers=SAME)
    assert stale.headers["location"] == "/annotate/"
    out = c.post("/annotate/session/end", headers=SAME)
    assert out.status_code == 303 and out.headers["location"] == "/annotate/"
    assert "; Path=/annotate;" in out.headers["set-cookie"] + ";"


def test_the_cookie_is_secure_over_https_or_when_told(store, monkeypatch) -> None:
    https = client("https://testserver").post(
        "/session/start", data={"ticket": ticket(store)},
        headers={"origin": "https://testserver"})
    assert "; Secure" in https.headers["set-cookie"]
    use(monkeypatch, annotation_secure_cookie="true")  # TLS ends at a proxy not trusted
    told = client().post("/session/start", data={"ticket": ticket(store)}, headers=SAME)
    assert "; Secure" in told.headers["set-cookie"]


@pytest.mark.parametrize("headers", [
    {"origin": "http://testserver", "sec-fetch-site": "cross-site"},
    {"origin": "https://evil.example"},
    {},
], ids=["cross-site", "foreign-origin", "no-origin"])
def test_a_log_in_or_out_from_another_site_is_refused(store, headers) -> None:
    t = ticket(store)
    assert client().post("/session/start", data={"ticket": t}, headers=headers
                         ).status_code == 403
    assert client().post("/session/end", headers=headers).status_code == 403
    with store.begin() as s:
        assert login_sessions.redeem(s, t, login_sessions.Policy.of(Settings()))  # unspent


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil",
                                    "progress"])
def test_the_way_back_never_leaves_the_server(store, target) -> None:
    answer = client().post("/session/start", data={"ticket": ticket(store), "next": target},
                           headers=SAME)
    assert answer.headers["location"] == "/"


def test_streamlits_own_oidc_cookie_is_dropped_once_the_session_starts(store) -> None:
    c = client()
    c.cookies.update({"_streamlit_user": "signed", "_streamlit_user_tokens": "t",
                      "_ga": "other"})
    answer = c.post("/session/start", data={"ticket": ticket(store)}, headers=SAME)
    cleared = {h.split("=")[0] for h in answer.headers.get_list("set-cookie")
               if "Max-Age=0" in h or "expires=Thu, 01 Jan 1970" in h}
    assert cleared == {"_streamlit_user", "_streamlit_user_tokens"}


def test_log_out_revokes_the_session_and_clears_the_cookie(store) -> None:
    c = client()
    c.post("/session/start", data={"ticket": ticket(store)}, headers=SAME)
    sid = c.cookies[COOKIE]
    answer = c.post("/session/end", headers=SAME)
    assert answer.status_code == 303
    assert any(h.startswith(f'{COOKIE}="";') or h.startswith(f"{COOKIE}=;")
               for h in answer.headers.get_list("set-cookie"))
    with store.begin() as s:
        assert login_sessions.find(s, sid, login_sessions.Policy.of(Settings()))[1] == \
            login_sessions.Ended.revoked


def forwarded_client(trusted: str, peer: str, forwarded: str) -> str:
    """The client address the app sees through uvicorn's proxy middleware, configured as
    `factory annotate app` configures it (FORWARDED_ALLOW_IPS from the setting)."""
    seen = {}

    async def app(scope, receive, send):
        seen["client"] = scope["client"][0]

    middleware = ProxyHeadersMiddleware(app, trusted_hosts=trusted)
    scope = {"type": "http", "client": (peer, 5000), "scheme": "http",
             "headers": [(b"x-forwarded-for", forwarded.encode())]}
    asyncio.run(middleware(scope, None, None))
    return seen["client"]


def test_the_forwarded_client_is_believed_only_from_a_trusted_proxy(monkeypatch) -> None:
    default = Settings().annotation_trusted_proxies
    assert default == ""
    # off: everyone behind the proxy is the proxy, and a local client cannot pose as others
    assert forwarded_client(default, "127.0.0.1", "203.0.113.7") == "127.0.0.1"
    trusted = use(monkeypatch, annotation_trusted_proxies="127.0.0.1, 10.1.0.0/16"
                  ).annotation_trusted_proxies
    assert forwarded_client(trusted, "10.1.2.3", "203.0.113.7") == "203.0.113.7"
    # a client's own X-Forwarded-For entry before the proxy's is not believed
    assert forwarded_client(trusted, "127.0.0.1", "198.51.100.1, 203.0.113.7") == \
        "203.0.113.7"
    assert forwarded_client(trusted, "192.0.2.50", "203.0.113.7") == "192.0.2.50"
    with pytest.raises(ValidationError, match="annotation_trusted_proxies"):
        use(monkeypatch, annotation_trusted_proxies="127.0.0.1, proxy.local")


def test_factory_annotate_app_serves_the_routes_and_tells_uvicorn_whom_to_trust(
        monkeypatch) -> None:
    from factory.cli import annotate_cmd

    found = discover_asgi_app(Path(ROOT / "annotation_ui" / "server.py"))
    assert found.is_asgi_app and found.app_name == "app"
    calls = []
    monkeypatch.setattr(annotate_cmd.os, "execve", lambda *a: calls.append(a))
    use(monkeypatch, annotation_trusted_proxies="10.0.0.2")
    annotate_cmd.run_app(port=8600, address="127.0.0.1")
    [(_, args, env)] = calls
    assert args[args.index("run") + 1].endswith("annotation_ui/server.py")
    assert env["FORWARDED_ALLOW_IPS"] == "10.0.0.2"


def test_a_new_log_in_in_the_same_browser_ends_the_session_it_replaces(store) -> None:
    c = client()
    c.post("/session/start", data={"ticket": ticket(store)}, headers=SAME)
    first = c.cookies[COOKIE]
    stale = c.post("/session/start", data={"ticket": "spent"}, headers=SAME)
    assert "set-cookie" not in stale.headers  # no new session: the old one stays
    c.post("/session/start", data={"ticket": ticket(store)}, headers=SAME)
    second = c.cookies[COOKIE]
    assert second != first
    policy = login_sessions.Policy.of(Settings())
    with store.begin() as s:
        assert login_sessions.find(s, first, policy)[1] == login_sessions.Ended.revoked
        assert login_sessions.find(s, second, policy)[1] is None


def test_a_server_not_started_by_factory_annotate_app_warns_whom_uvicorn_trusts(
        monkeypatch, caplog) -> None:
    """`streamlit run annotation_ui/server.py` builds uvicorn's config before importing the
    file, so it cannot set FORWARDED_ALLOW_IPS itself: it says the setting is not in force."""
    from annotation_ui.server import warn_if_proxies_unset

    settings = use(monkeypatch, annotation_trusted_proxies="10.0.0.2")
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert warn_if_proxies_unset(settings)
    assert "127.0.0.1,::1" in caplog.text and "10.0.0.2" in caplog.text
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.2")  # as `factory annotate app` sets it
    assert not warn_if_proxies_unset(settings)
