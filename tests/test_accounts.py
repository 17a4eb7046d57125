"""Accounts as people use them: passwords, profile, sessions, API tokens, disabled accounts,
and the audit trail of each of those actions."""

from __future__ import annotations

import re

from sqlalchemy import select

from kb.extensions import db
from kb.models import AuditEvent
from tests.conftest import csrf_from, login

WEAK = "This password is too common or too easy to guess"
NEW_PASSWORD = "plum orchard lantern 42"


def events(app, action):
    """The audit trail's events of one action, oldest first, as plain tuples."""
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.event_id))
        return [(e.outcome, e.actor_email, e.target_type, e.target_id, e.detail or "")
                for e in rows]


def post_form(client, page_url, action_url, **data):
    """Open the page, then POST the form on it with the page's CSRF token."""
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    return client.post(action_url, data={"csrf_token": token, **data})


def signed_in(client):
    return client.get("/profile").status_code == 200


# Passwords


def test_cli_refuses_common_and_guessable_passwords(runner):
    for weak in ("password123", "qwertyuiop", "1234567890", "P@ssw0rd1234",
                 "someone@example.org"):
        res = runner.invoke(args=["user", "add", "someone@example.org", "--password-stdin"],
                            input=weak + "\n")
        assert res.exit_code == 1, weak
        assert WEAK in res.output, weak
    ok = runner.invoke(args=["user", "add", "someone@example.org", "--password-stdin"],
                       input=NEW_PASSWORD + "\n")
    assert ok.exit_code == 0, ok.output


def test_admin_form_refuses_a_common_password_and_records_creations(app, client, make_user):
    admin = make_user("admin")
    login(client, admin)
    res = post_form(client, "/admin/users", "/admin/users", email="weak@example.org",
                    role="reader", password="iloveyou123")
    assert res.status_code == 400
    assert WEAK in res.get_data(as_text=True)
    assert "weak@example.org" not in client.get("/admin/users").get_data(as_text=True)
    res = post_form(client, "/admin/users", "/admin/users", email="strong@example.org",
                    role="reader", password=NEW_PASSWORD)
    assert res.status_code == 302
    created = events(app, "account-create")
    assert created[-1][:3] == ("success", admin.email, "user")
    assert "strong@example.org" in created[-1][4]
    # Accounts made on the command line are recorded too (no person signed in there).
    assert any("email=" + admin.email in e[4] and "command line" in e[4] for e in created)


# Profile: password change and sessions


def test_password_change_ends_other_sessions_and_keeps_this_one(app, client, make_user):
    account = make_user("reader")
    other = app.test_client()
    login(client, account)
    login(other, account)

    wrong = post_form(client, "/profile", "/profile/password", current_password="not it at all",
                      new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert wrong.status_code == 400
    assert "The current password is not right." in wrong.get_data(as_text=True)
    weak = post_form(client, "/profile", "/profile/password", current_password=account.password,
                     new_password="password1234", confirm_password="password1234")
    assert weak.status_code == 400
    assert WEAK in weak.get_data(as_text=True)
    differ = post_form(client, "/profile", "/profile/password",
                       current_password=account.password, new_password=NEW_PASSWORD,
                       confirm_password=NEW_PASSWORD + "x")
    assert differ.status_code == 400
    assert "The two new passwords differ." in differ.get_data(as_text=True)
    assert signed_in(other)

    res = post_form(client, "/profile", "/profile/password", current_password=account.password,
                    new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert res.status_code == 302
    assert signed_in(client)
    assert not signed_in(other)
    assert other.get("/profile").headers["Location"].startswith("/login")

    fresh = app.test_client()
    token = csrf_from(fresh.get("/login").get_data(as_text=True))
    old = fresh.post("/login", data={"email": account.email, "password": account.password,
                                     "csrf_token": token})
    assert old.status_code == 401
    new = fresh.post("/login", data={"email": account.email, "password": NEW_PASSWORD,
                                     "csrf_token": token})
    assert new.status_code == 302

    changes = events(app, "password-change")
    assert [c[0] for c in changes] == ["failure", "success"]
    assert all(c[1] == account.email for c in changes)
    assert "not it at all" not in changes[0][4] and NEW_PASSWORD not in changes[1][4]


def test_sign_out_everywhere_ends_every_session_but_not_tokens(app, client, make_user):
    account = make_user("reader")
    other = app.test_client()
    login(client, account)
    login(other, account)
    res = post_form(client, "/profile", "/profile/sign-out-everywhere")
    assert res.status_code == 302 and res.headers["Location"] == "/login"
    assert not signed_in(client)
    assert not signed_in(other)
    assert client.get("/api/v1/search", headers=account.headers).status_code == 200
    login(client, account)
    assert signed_in(client)
    assert events(app, "sign-out-everywhere") == [
        ("success", account.email, "user", events(app, "sign-out-everywhere")[0][3], "")]


def test_profile_needs_a_signed_in_user_and_csrf(client, make_user):
    assert client.get("/profile").status_code == 302
    login(client, make_user("reader"))
    assert client.post("/profile/sign-out-everywhere").status_code == 400
    assert client.post("/profile/tokens", data={"name": "x"}).status_code == 400
    assert signed_in(client)


# API tokens


def test_tokens_are_created_listed_and_revoked_in_the_profile(app, client, make_user):
    account = make_user("reader")
    login(client, account)
    res = post_form(client, "/profile", "/profile/tokens", name="laptop")
    assert res.status_code == 200
    assert res.headers["Cache-Control"] == "no-store"
    page = res.get_data(as_text=True)
    token = re.search(r'id="new-token"[^>]*value="(kb_[^"]+)"', page).group(1)
    assert re.search(r'id="name"[^>]*value=""', page)  # the form is ready for another
    assert client.get("/api/v1/search", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200

    listing = client.get("/profile").get_data(as_text=True)
    assert token not in listing  # shown once only
    assert account.token not in listing
    row = re.search(r'<tr data-token-id="(\d+)">\s*<td[^>]*>laptop.*?</td>.*?<td[^>]*>(\w+)</td>',
                    listing, re.S)
    assert row, listing
    token_id = row.group(1)
    assert row.group(2) == "active"

    res = post_form(client, "/profile", f"/profile/tokens/{token_id}/revoke")
    assert res.status_code == 302
    listing = client.get("/profile").get_data(as_text=True)
    assert re.search(rf'data-token-id="{token_id}">.*?revoked \d{{4}}-', listing, re.S)
    # Refused at once, with the other token untouched.
    refused = client.get("/api/v1/search", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert "revoked" in refused.json["error"]
    assert client.get("/api/v1/search", headers=account.headers).status_code == 200

    created = events(app, "token-create")[-1]
    assert created[:4] == ("success", account.email, "token", token_id)
    assert "name=laptop" in created[4] and token not in created[4]
    assert events(app, "token-revoke") == [
        ("success", account.email, "token", token_id, f"owner={account.email}; name=laptop")]


def test_nobody_revokes_someone_elses_token_from_the_profile(app, client, runner, make_user):
    owner = make_user("reader")
    listing = runner.invoke(args=["token", "list", owner.email]).output
    token_id = re.search(r"^\s*(\d+)\s", listing.splitlines()[1]).group(1)
    login(client, make_user("reader"))
    res = post_form(client, "/profile", f"/profile/tokens/{token_id}/revoke")
    assert res.status_code == 404
    assert client.get("/api/v1/search", headers=owner.headers).status_code == 200


def test_token_commands_create_list_and_revoke(app, client, runner, make_user):
    account = make_user("reader")
    res = runner.invoke(args=["token", "create", account.email, "--name", "backup script"])
    token = res.output.strip()
    listing = runner.invoke(args=["token", "list", account.email])
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0].split() == ["ID", "NAME", "CREATED", "(UTC)", "STATE"]
    assert len(lines) == 3
    assert token not in listing.output and account.token not in listing.output
    named = next(line for line in lines if "backup script" in line)
    token_id = named.split()[0]
    assert named.endswith("active")

    revoked = runner.invoke(args=["token", "revoke", token_id])
    assert revoked.exit_code == 0
    assert revoked.output.strip() == f"Revoked token {token_id} of {account.email}."
    assert client.get("/api/v1/search", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 401
    named = next(line for line in runner.invoke(args=["token", "list", account.email])
                 .output.splitlines() if "backup script" in line)
    assert " revoked 20" in named

    assert runner.invoke(args=["token", "revoke", "99999"]).exit_code == 1
    assert runner.invoke(args=["token", "list", "nobody@example.org"]).exit_code == 1
    created = [e for e in events(app, "token-create") if e[3] == token_id]
    assert created == [("success", None, "token", token_id,
                        f"owner={account.email}; name=backup script; via=command line")]
    assert events(app, "token-revoke") == [
        ("success", None, "token", token_id,
         f"owner={account.email}; name=backup script; via=command line")]


# Disabled accounts


def test_disabled_accounts_lose_sign_in_sessions_and_tokens_at_once(app, client, make_user):
    admin = make_user("admin")
    user = make_user("reader")
    theirs = app.test_client()
    login(theirs, user)
    login(client, admin)
    page = client.get("/admin/users").get_data(as_text=True)
    user_id = re.search(rf'data-user-id="(\d+)"><td[^>]*>{re.escape(user.email)}', page).group(1)
    admin_id = re.search(rf'data-user-id="(\d+)"><td[^>]*>{re.escape(admin.email)}', page).group(1)

    assert client.post(f"/admin/users/{user_id}/disable").status_code == 400  # no CSRF
    res = post_form(client, "/admin/users", f"/admin/users/{user_id}/disable")
    assert res.status_code == 302
    page = client.get("/admin/users").get_data(as_text=True)
    assert re.search(rf"{re.escape(user.email)}</td><td[^>]*>Reader</td><td[^>]*>disabled<", page)

    assert not signed_in(theirs)
    assert client.get("/api/v1/search", headers=user.headers).status_code == 401
    fresh = app.test_client()
    token = csrf_from(fresh.get("/login").get_data(as_text=True))
    refused = fresh.post("/login", data={"email": user.email, "password": user.password,
                                         "csrf_token": token})
    assert refused.status_code == 401
    assert "Wrong email or password." in refused.get_data(as_text=True)

    myself = post_form(client, "/admin/users", f"/admin/users/{admin_id}/disable")
    assert myself.status_code == 403
    assert "You cannot disable your own account." in myself.get_data(as_text=True)
    assert signed_in(client)

    res = post_form(client, "/admin/users", f"/admin/users/{user_id}/enable")
    assert res.status_code == 302
    assert not signed_in(theirs)  # an old session stays ended
    # Its tokens were revoked for good: re-enabling does not bring them back.
    assert client.get("/api/v1/search", headers=user.headers).status_code == 401
    login(fresh, user)
    assert signed_in(fresh)

    assert events(app, "account-disable") == [
        ("success", admin.email, "user", user_id,
         f"email={user.email}; sessions_ended=1; tokens_revoked=1")]
    assert events(app, "account-enable") == [
        ("success", admin.email, "user", user_id, f"email={user.email}")]
    failure = [e for e in events(app, "sign-in") if e[0] == "failure"]
    assert failure == [("failure", user.email, None, None, "account disabled")]


def test_role_changes_are_recorded(app, client, make_user):
    admin = make_user("admin")
    user = make_user("reader")
    login(client, admin)
    page = client.get("/admin/users").get_data(as_text=True)
    user_id = re.search(rf'data-user-id="(\d+)"><td[^>]*>{re.escape(user.email)}', page).group(1)
    res = post_form(client, "/admin/users", f"/admin/users/{user_id}/role", role="editor")
    assert res.status_code == 302
    assert events(app, "role-change") == [
        ("success", admin.email, "user", user_id,
         f"email={user.email}; before=reader; after=editor")]


# Sign-in and sign-out in the trail


def test_sign_in_success_failure_and_sign_out_are_recorded(app, client, make_user):
    account = make_user("reader")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": "Ghost@Example.org", "password": "secret guess 1",
                                "csrf_token": token})
    client.post("/login", data={"email": account.email, "password": "secret guess 2",
                                "csrf_token": token})
    login(client, account)
    post_form(client, "/", "/logout")
    signs = events(app, "sign-in")
    assert [(e[0], e[1], e[4]) for e in signs] == [
        ("failure", "ghost@example.org", "no such account"),
        ("failure", account.email, "wrong password"),
        ("success", account.email, ""),
    ]
    assert signs[2][2] == "user"
    assert not any("secret guess" in (e[4] or "") for e in signs)
    assert events(app, "sign-out") == [("success", account.email, "user", signs[2][3], "")]
    with app.app_context():
        ips = set(db.session.scalars(select(AuditEvent.ip).where(AuditEvent.action == "sign-in")))
    assert ips == {"127.0.0.1"}
