"""Pages as a person uses them: sign-in, forms with CSRF, upload, admin area."""

from __future__ import annotations

import io

import pytest

from tests.conftest import csrf_from, login


def test_login_wrong_password_and_unknown_email_look_the_same(client, make_user):
    account = make_user("reader")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    wrong = client.post("/login", data={"email": account.email, "password": "nope-nope-nope",
                                        "csrf_token": token})
    unknown = client.post("/login", data={"email": "ghost@example.org",
                                          "password": "nope-nope-nope", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert "Wrong email or password." in unknown.get_data(as_text=True)


def test_forms_without_csrf_token_are_refused(client, make_user):
    account = make_user("editor")
    res = client.post("/login", data={"email": account.email, "password": account.password})
    assert res.status_code == 400
    login(client, account)
    upload = client.post("/upload", data={"title": "x", "file": (io.BytesIO(b"t"), "t.txt")})
    assert upload.status_code == 400
    assert "form expired" in upload.get_data(as_text=True)
    # A session without its CSRF token cannot use the API either.
    api = client.post("/api/v1/documents", data={"title": "x",
                                                 "file": (io.BytesIO(b"t"), "t.txt")})
    assert api.status_code == 400
    assert "form expired" in api.json["error"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_login_never_redirects_off_site(client, make_user, target):
    account = make_user("reader")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    res = client.post("/login", query_string={"next": target},
                      data={"email": account.email, "password": account.password,
                            "csrf_token": token})
    assert res.status_code == 302
    assert res.headers["Location"] == "/"


def test_login_follows_a_local_next(client, make_user):
    account = make_user("reader")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    res = client.post("/login?next=/%3Fq%3Dremittances",
                      data={"email": account.email, "password": account.password,
                            "csrf_token": token})
    assert res.headers["Location"] == "/?q=remittances"


def test_upload_form_stores_and_shows_processing_then_ready(client, make_user, process):
    account = make_user("contributor")
    login(client, account)
    assert client.get("/upload").status_code == 200
    token = csrf_from(client.get("/upload").get_data(as_text=True))
    res = client.post("/upload", data={
        "csrf_token": token, "title": "Workshop notes", "countries": ["KGZ", "BGD"],
        "agencies": ["IOM"], "themes": "Return; Reintegration", "type": "training",
        "access": "public", "year": "2013", "phase": "pilot", "language": "ru",
        "file": (io.BytesIO("Заметки семинара о возвращении мигрантов".encode()), "notes.txt"),
    })
    assert res.status_code == 302
    detail = client.get(res.headers["Location"]).get_data(as_text=True)
    assert 'data-status="processing"' in detail
    assert 'data-status-url="/api/v1/documents/' in detail  # status.js reloads when done
    process()
    detail = client.get(res.headers["Location"]).get_data(as_text=True)
    assert 'data-status="ready"' in detail
    assert "Kyrgyzstan" in detail and "Bangladesh" in detail
    assert "Training material" in detail and "Pilot phase (2011-2013)" in detail
    assert "reintegration" in detail


def test_upload_form_errors_keep_the_user_on_the_form(client, make_user):
    login(client, make_user("contributor"))
    token = csrf_from(client.get("/upload").get_data(as_text=True))
    res = client.post("/upload", data={"csrf_token": token, "title": "No file"})
    assert res.status_code == 400
    assert "This field is required." in res.get_data(as_text=True)
    token = csrf_from(res.get_data(as_text=True))
    res = client.post("/upload", data={"csrf_token": token, "title": "Bad year", "year": "19",
                                       "access": "public",
                                       "file": (io.BytesIO(b"text"), "t.txt")})
    assert res.status_code == 400
    assert "year must be between 1900 and 2100" in res.get_data(as_text=True)


def test_readers_cannot_upload_and_visitors_are_sent_to_sign_in(client, make_user):
    assert client.get("/upload").status_code == 302
    login(client, make_user("reader"))
    assert client.get("/upload").status_code == 403


def test_duplicate_upload_through_the_form_leads_to_the_existing_document(
        client, make_user, upload):
    first = upload(b"same bytes", "a.txt").json["id"]
    login(client, make_user("contributor"))
    token = csrf_from(client.get("/upload").get_data(as_text=True))
    res = client.post("/upload", data={"csrf_token": token, "title": "Again", "access": "public",
                                       "file": (io.BytesIO(b"same bytes"), "b.txt")})
    assert res.status_code == 302
    assert res.headers["Location"] == f"/documents/{first}"


def test_admin_area_is_for_admins(client, make_user):
    assert client.get("/admin/users").status_code == 302
    login(client, make_user("editor"))
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/agencies").status_code == 403


def test_admins_add_users_change_roles_and_edit_agencies(client, make_user):
    login(client, make_user("admin"))
    page = client.get("/admin/users").get_data(as_text=True)
    res = client.post("/admin/users", data={"csrf_token": csrf_from(page),
                                            "email": "new@example.org", "role": "contributor",
                                            "password": "a long password"})
    assert res.status_code == 302
    page = client.get("/admin/users").get_data(as_text=True)
    assert "new@example.org" in page

    page = client.get("/admin/agencies").get_data(as_text=True)
    res = client.post("/admin/agencies", data={
        "csrf_token": csrf_from(page), "code": "MPI", "label": "Migration Policy Institute"})
    assert res.status_code == 302
    codes = {a["code"] for a in client.get("/api/v1/taxonomy").json["agencies"]}
    assert "MPI" in codes
    page = client.get("/admin/agencies").get_data(as_text=True)
    bad = client.post("/admin/agencies", data={"csrf_token": csrf_from(page),
                                               "code": "no spaces!", "label": "x"})
    assert bad.status_code == 400


def test_sign_out_needs_a_post_with_csrf(client, make_user):
    login(client, make_user("reader"))
    assert client.get("/logout").status_code == 405
    page = client.get("/").get_data(as_text=True)
    res = client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert res.status_code == 302
    assert "Sign in" in client.get("/").get_data(as_text=True)


def test_internal_documents_need_a_signed_in_user(client, upload, process, make_user):
    doc_id = upload(b"internal planning notes", "n.txt", title="Plan", access="internal").json["id"]
    process()
    assert client.get(f"/documents/{doc_id}").status_code == 404
    assert client.get(f"/api/v1/documents/{doc_id}").status_code == 404
    assert client.get(f"/documents/{doc_id}/download").status_code == 404
    assert client.get("/api/v1/search?q=planning").json["total"] == 0
    reader = make_user("reader")
    assert client.get(f"/api/v1/documents/{doc_id}", headers=reader.headers).status_code == 200
    with client.get(f"/documents/{doc_id}/download", headers=reader.headers) as res:
        assert res.data == b"internal planning notes"


def test_review_queue_lists_submissions_for_editors(client, make_user, upload, process):
    contributor = make_user("contributor")
    doc_id = upload(b"a draft to review", "draft.txt", title="Draft for review",
                    account=contributor).json["id"]
    process()
    login(client, contributor)
    assert client.get("/review").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, make_user("editor"))
    html = client.get("/review").get_data(as_text=True)
    assert "Draft for review" in html
    assert "<title>Review · " in html  # the page's title is just that
    detail = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert 'data-workflow="submitted"' in detail
    res = client.post(f"/documents/{doc_id}/workflow", data={
        "csrf_token": csrf_from(detail), "action": "publish"})
    assert res.status_code == 302
    assert "Draft for review" not in client.get("/review").get_data(as_text=True)
    assert 'data-workflow' not in client.get(f"/documents/{doc_id}").get_data(as_text=True)
