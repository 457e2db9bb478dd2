"""The two HTTP routes that set and clear the session cookie, on Streamlit's own server.

Streamlit's Python runs over a websocket and cannot send a Set-Cookie header, and a cookie
written by JavaScript cannot be HttpOnly. So the app, once it knows who someone is, hands
the page a one-time ticket that the page posts here (factory.annotation.login_sessions):

- ``POST /session/start`` (ticket, next): trades the ticket for a new session (ending the
  one the browser's cookie named before, if any) and sets ``factory_session`` - HttpOnly,
  SameSite=Strict, Path = the app's base path (/ with none), Max-Age = the session lifetime,
  Secure over HTTPS (or when FACTORY_ANNOTATION_SECURE_COOKIE says the TLS is in front) -,
  then sends the browser back to the page it was on. Streamlit's own OIDC cookie is dropped
  here too: from now on the factory's session alone says who is logged in, so its idle
  timeout and revocation hold for OIDC log-ins as well.
- ``POST /session/end``: revokes the session (every tab that shares the cookie) and
  clears the cookie.

Both refuse a request the browser marks cross-site, or whose Origin is not this server (no
log-in or log-out forced from another site); the body is read up to 4 KB.

Behind a proxy that serves the app under a prefix (Streamlit's ``server.baseUrlPath``, say
/annotate), the routes are under it too (/annotate/session/start), the cookies' Path is it,
and the way back defaults to it. Streamlit mounts an st.App's own routes at that path itself,
but the routes an app adds as they are: :func:`routes` puts them there.
"""

from __future__ import annotations

from functools import cache, partial
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from streamlit import config

from db.session import sessionmaker_for
from factory.annotation import login_sessions
from factory.config import Settings

COOKIE = "factory_session"
STREAMLIT_USER_COOKIE = "_streamlit_user"  # st.login's cookies (and their chunks) start so
MAX_BODY = 4096
START, END = "/session/start", "/session/end"


def base_path() -> str:
    """The path the app is served under (``server.baseUrlPath``), as a cookie path: "/annotate",
    or "/" with none, as Streamlit scopes its own cookies."""
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else "/"


def under(base: str, path: str) -> str:
    """``path`` (absolute) under the base path."""
    return base.rstrip("/") + path


def _same_origin(request: Request) -> bool:
    """The browser's own word (Sec-Fetch-Site) where it gives it, else Origin against Host."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    return bool(origin) and urlsplit(origin).netloc == request.headers.get("host")


@cache
def _store(url: str) -> sessionmaker[Session]:
    return sessionmaker_for(url)


async def _fields(request: Request) -> dict[str, str] | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _local(path: str | None, base: str) -> str:
    """A path on this server to go back to: never another host (an open redirect)."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return under(base, "/")
    return path


def _start(settings: Settings, ticket: str, replaced: str | None) -> str | None:
    """The new session's id; the one whose cookie it replaces (this browser's earlier log-in,
    perhaps someone else's) is ended, not left alive where nothing names it any more."""
    with _store(settings.database_url).begin() as s:
        sid = login_sessions.redeem(s, ticket, login_sessions.Policy.of(settings))
        if sid is not None:
            login_sessions.end(s, replaced)
        return sid


def _end(settings: Settings, sid: str | None) -> None:
    with _store(settings.database_url).begin() as s:
        login_sessions.end(s, sid)


async def start(request: Request, base: str) -> Response:
    if not _same_origin(request):
        return PlainTextResponse("cross-site log-in refused", status_code=403)
    fields = await _fields(request)
    if fields is None:
        return PlainTextResponse("request too large", status_code=413)
    settings = Settings()
    sid = await run_in_threadpool(_start, settings, fields.get("ticket", ""),
                                  request.cookies.get(COOKIE))
    if sid is None:
        return RedirectResponse(under(base, "/"), status_code=303)  # stale: log in again
    response = RedirectResponse(_local(fields.get("next"), base), status_code=303)
    response.set_cookie(COOKIE, sid, max_age=int(settings.annotation_session_hours * 3600),
                        path=base, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https" or
                        settings.annotation_secure_cookie)
    for name in request.cookies:
        if name.startswith(STREAMLIT_USER_COOKIE):
            response.delete_cookie(name, path=base, httponly=True, samesite="lax")
    return response


async def end(request: Request, base: str) -> Response:
    if not _same_origin(request):
        return PlainTextResponse("cross-site log-out refused", status_code=403)
    settings = Settings()
    await run_in_threadpool(_end, settings, request.cookies.get(COOKIE))
    response = RedirectResponse(under(base, "/"), status_code=303)
    response.delete_cookie(COOKIE, path=base, httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    """The two routes, under the base path configured when they are made (`streamlit run`
    reads its config before it imports server.py)."""
    base = base_path()
    return [Route(under(base, START), partial(start, base=base), methods=["POST"]),
            Route(under(base, END), partial(end, base=base), methods=["POST"])]
