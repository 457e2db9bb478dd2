"""Sessions in the app (AppTest): log-out here and everywhere, admins ending someone's
sessions, the idle timeout's message, and log-in through an identity provider (st.login's
user as AppTest seeds it; no provider is needed to check what the app does with it)."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from db.base import utcnow
from db.models import LoginSession
from factory.annotation.accounts import Role, add_annotator
from tests.annotation_helpers import PASSWORD, annotation_store, cookies_in_session_state
from tests.conftest import use
from tests.test_annotation_app import APP, logged_in, press, rankings

OIDC = {"annotation_oidc_client_id": "factory", "annotation_oidc_client_secret": "s3cret",
        "annotation_oidc_metadata_url": "https://idp.example/.well-known/openid-configuration",
        "annotation_oidc_redirect_uri": "https://annotate.example/oauth2callback",
        "annotation_oidc_label": "Example SSO"}


@pytest.fixture
def store(sessions, sqlite_url, monkeypatch, tmp_path):
    use(monkeypatch, database_url=sqlite_url)
    cookies_in_session_state(monkeypatch)
    annotation_store(sessions, tmp_path, count=2, temperatures=(0.3, 1.0))
    return sessions


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_log_out_ends_this_session_and_everywhere_ends_every_device(store) -> None:
    laptop, phone = logged_in("ann"), logged_in("ann")
    laptop.button(key="logout").click().run()
    assert titles(laptop) == ["Annotation: log in"]
    assert titles(phone.run()) == ["Rank the responses"]  # another session: still on
    laptop = logged_in("ann")
    laptop.button(key="logout-all").click().run()
    assert titles(laptop) == ["Annotation: log in"]
    # the phone still shows a task; its button's callback runs before the script, and must
    # not judge anything for a session that has ended
    press(phone, "a")
    assert titles(phone) == ["Annotation: log in"]
    assert rankings(store) == []
    assert [i.value for i in phone.info] == [
        "You were logged out (here, in another tab, or by an admin)."]
    with store() as s:
        assert all(r.revoked_at for r in s.scalars(select(LoginSession)))


def test_an_admin_ends_someones_sessions(store) -> None:
    ann, bob = logged_in("ann"), logged_in("bob")
    admin = logged_in("root")
    admin.switch_page("views/sessions.py").run()
    table = admin.dataframe[0].value
    assert sorted(table["annotator"]) == ["ann", "bob", "root"]
    assert set(table["method"]) == {"password"}
    admin.multiselect(key="revoke-ids").select(_annotator_id(store, "ann")).run()
    admin.button(key="revoke").click().run()
    assert sorted(admin.dataframe[0].value["annotator"]) == ["bob", "root"]
    assert titles(ann.run()) == ["Annotation: log in"]
    assert titles(bob.run()) == ["Rank the responses"]


def _annotator_id(store, name: str) -> int:
    from db.models import Annotator

    with store() as s:
        return s.scalar(select(Annotator.id).where(Annotator.name == name))


def test_an_idle_session_goes_back_to_login_and_says_why(store) -> None:
    at = logged_in("ann")
    with store.begin() as s:
        s.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    at.run()
    assert titles(at) == ["Annotation: log in"]
    assert [i.value for i in at.info] == [
        "Your session ended after 30 minutes without activity. Log in again."]


def sso(email: str | None, verified: bool | None = True) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.user = {"is_logged_in": True} | ({"email": email} if email else {}) | (
        {} if verified is None else {"email_verified": verified})
    return at.run()


def test_with_oidc_configured_the_provider_is_offered_and_its_email_names_the_account(
        store, monkeypatch) -> None:
    plain = AppTest.from_file(APP, default_timeout=30).run()
    assert not [b for b in plain.button if b.key == "oidc"]  # not configured: not offered
    use(monkeypatch, **OIDC)
    with store.begin() as s:
        add_annotator(s, "carol@example.org", Role.annotator, PASSWORD)
    offered = AppTest.from_file(APP, default_timeout=30).run()
    assert [b.label for b in offered.button if b.key == "oidc"] == ["Log in with Example SSO"]
    assert [t.label for t in offered.text_input] == ["Name", "Password"]  # accounts stay
    at = sso("Carol@Example.org")
    assert titles(at) == ["Rank the responses"]
    assert any("carol@example.org" in m.value for m in at.markdown)
    with store() as s:
        assert s.scalar(select(LoginSession.method)) == "oidc"


@pytest.mark.parametrize(("email", "verified"), [
    ("dave@example.org", True), ("carol@example.org", False), (None, None),
    ("carol@example.org", None), ("carol@example.org", "false")],
    ids=["no-account", "unverified", "no-email", "verified-missing", "verified-false-string"])
def test_an_identity_without_a_verified_account_is_refused(store, monkeypatch, email,
                                                           verified) -> None:
    use(monkeypatch, **OIDC)
    with store.begin() as s:
        add_annotator(s, "carol@example.org", Role.annotator, PASSWORD)
    at = sso(email, verified)
    assert titles(at) == ["Annotation: log in"]
    [refused] = [e.value for e in at.error]
    assert refused.startswith("No annotator account is named")
    assert [b.label for b in at.button if b.key == "oidc-logout"] == [
        "Log out of single sign-on"]
    with store() as s:
        assert s.scalar(select(LoginSession)) is None


def test_an_unmarked_email_counts_only_when_the_provider_is_trusted_with_it(
        store, monkeypatch) -> None:
    from annotation_ui.oidc import verified_email

    assert verified_email({"email": " a@b.org ", "email_verified": True}) == "a@b.org"
    assert verified_email({"email": "a@b.org", "email_verified": "true"}) == "a@b.org"
    for refused in ({"email": "a@b.org"}, {"email": "a@b.org", "email_verified": "false"},
                    {"email": "a@b.org", "email_verified": False},
                    {"email": "a@b.org", "email_verified": 1}):
        assert verified_email(refused) is None
    assert verified_email({"email": "a@b.org"}, trust_unverified=True) == "a@b.org"
    assert verified_email({"email_verified": True}, trust_unverified=True) is None
    use(monkeypatch, **OIDC, annotation_oidc_trust_unverified_email="true")
    with store.begin() as s:
        add_annotator(s, "carol@example.org", Role.annotator, PASSWORD)
    assert titles(sso("carol@example.org", None)) == ["Rank the responses"]


def timed_redraw(at: AppTest) -> AppTest:
    """What the browser asks for every REFRESH_S seconds on the Operations page: a rerun of
    its fragment alone (AppTest has no public way to ask for one, so its RerunData carries
    the fragments' ids, as the frontend's request would)."""
    import functools

    import streamlit.testing.v1.local_script_runner as runner

    fragments = list(at._fragment_storage._fragments)
    assert fragments
    plain = runner.RerunData
    runner.RerunData = functools.partial(plain, fragment_id_queue=fragments,
                                         is_auto_rerun=True)
    try:
        return at.run()
    finally:
        runner.RerunData = plain


def test_the_operations_page_stops_redrawing_once_the_session_ends(store) -> None:
    admin = logged_in("root")
    admin.switch_page("views/operations.py").run()
    assert titles(admin) == ["Operations"]
    with store.begin() as s:  # long unused but not yet idle: a timed redraw is not use
        s.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(minutes=29)))
        seen = s.scalar(select(LoginSession.last_seen_at))
    timed_redraw(admin)
    assert [i.value for i in admin.info] == ["No broker: tasks run in-process."]
    assert len(admin.dataframe) == 1
    with store() as s:
        assert s.scalar(select(LoginSession.last_seen_at)) == seen
    with store.begin() as s:  # revoked by an admin, or logged out in another tab
        s.execute(update(LoginSession).values(revoked_at=utcnow()))
    timed_redraw(admin)
    assert titles(admin) == ["Annotation: log in"]
    assert [i.value for i in admin.info] == [
        "You were logged out (here, in another tab, or by an admin)."]
    assert not admin.dataframe
