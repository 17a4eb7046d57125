"""The audit trail: each document action is recorded; admins browse, filter and export."""

from __future__ import annotations

import csv
import io

from kb.extensions import db
from kb.models import AuditEvent, User
from kb.services import groups as groups_service
from tests.conftest import csrf_from, login


def events(app, action=None):
    with app.app_context():
        q = db.session.query(AuditEvent).order_by(AuditEvent.event_id)
        if action:
            q = q.filter_by(action=action)
        return [(e.action, e.actor_email, e.target_type, e.target_id, e.outcome, e.detail)
                for e in q]


def test_document_actions_are_recorded_with_actor_target_and_outcome(
        app, client, make_user, upload, process):
    editor, contributor = make_user("editor"), make_user("contributor")
    member = make_user("reader")
    doc_id = upload(b"draft country report", "draft.txt", account=contributor).json["id"]
    assert events(app, "upload") == [("upload", contributor.email, "document", str(doc_id),
                                      "success", "draft.txt (20 bytes, submitted)")]
    for action, data in (("publish", {}), ("withdraw", {}), ("restore", {}),
                         ("return", {"comment": "needs a summary"})):
        res = client.post(f"/api/v1/documents/{doc_id}/{action}", headers=editor.headers,
                          data=data)
        assert res.status_code == 200, res.json
        (recorded,) = events(app, action)
        assert recorded[:5] == (action, editor.email, "document", str(doc_id), "success")
    assert events(app, "return")[0][5] == "published -> returned: needs a summary"

    login(client, contributor)
    page = client.get(f"/documents/{doc_id}/edit").get_data(as_text=True)
    client.post(f"/documents/{doc_id}/edit", data={"csrf_token": csrf_from(page),
                                                   "title": "Final report", "access": "public"})
    assert events(app, "metadata-edit")[0][:4] == ("metadata-edit", contributor.email,
                                                   "document", str(doc_id))

    with app.app_context():
        group = groups_service.create_group("Serbia team", None)
        groups_service.add_member(group.group_id, member.email, None)
        group_id = group.group_id
    assert [e[0] for e in events(app) if e[0].startswith("group")] == [
        "group-create", "group-member-add"]
    secret = upload(b"restricted annex", "annex.txt", access="restricted",
                    groups=["Serbia team"]).json["id"]
    process()
    public = upload(b"public annex", "public.txt").json["id"]
    process()
    for doc in (secret, public):
        with client.get(f"/documents/{doc}/download", headers=member.headers) as res:
            assert res.status_code == 200
    assert events(app, "download-restricted") == [
        ("download-restricted", member.email, "document", str(secret), "success", None)]
    with app.app_context():
        user = db.session.query(User).filter_by(email=member.email).one()
        groups_service.remove_member(group_id, user.user_id, None)
    assert len(events(app, "group-member-remove")) == 1


def test_admins_browse_filter_and_export_the_trail_and_nobody_edits_it(
        app, client, make_user, upload):
    admin, editor = make_user("admin"), make_user("editor")
    for n in range(3):
        upload(f"report {n}".encode(), f"r{n}.txt", account=editor)
    login(client, editor)
    assert client.get("/admin/audit").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, admin)

    page = client.get("/admin/audit", query_string={"action": "upload"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "3 events" in html and editor.email in html
    assert "r2.txt" in html
    narrowed = client.get("/admin/audit", query_string={"actor": "nobody@"})
    assert "0 events" in narrowed.get_data(as_text=True)
    bad = client.get("/admin/audit", query_string={"date_from": "yesterday"})
    assert bad.status_code == 400

    with client.get("/admin/audit/export.csv", query_string={"action": "upload"}) as export:
        assert export.status_code == 200
        assert export.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in export.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["upload"] * 3
    assert {r["actor_email"] for r in rows} == {editor.email}
    assert rows[0]["at"].endswith("Z")

    token = csrf_from(html)
    for method in ("post", "put", "delete"):
        res = getattr(client, method)("/admin/audit", data={"csrf_token": token})
        assert res.status_code == 405


def test_admins_delete_withdrawn_documents_for_good_and_it_is_recorded(
        app, client, runner, make_user, upload, process):
    admin, editor = make_user("admin"), make_user("editor")
    doc_id = upload(b"an outdated tool", "old.txt", title="Outdated tool",
                    account=editor).json["id"]
    process()
    not_withdrawn = client.delete(f"/api/v1/documents/{doc_id}", headers=admin.headers)
    assert not_withdrawn.status_code == 400 and "Withdraw" in not_withdrawn.json["error"]
    client.post(f"/api/v1/documents/{doc_id}/withdraw", headers=editor.headers)
    assert client.delete(f"/api/v1/documents/{doc_id}",
                         headers=editor.headers).status_code == 403
    assert client.delete(f"/api/v1/documents/{doc_id}", headers=admin.headers).status_code == 204
    # In the trash: gone for everyone else, still there for admins (kb.services.trash).
    assert client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers).status_code == 404
    assert client.get(f"/api/v1/documents/{doc_id}", headers=admin.headers).json["trash"]
    assert client.get("/api/v1/search", query_string={"q": "outdated"},
                      headers=admin.headers).json["total"] == 0
    (deleted,) = events(app, "delete")
    assert deleted[:5] == ("delete", admin.email, "document", str(doc_id), "success")
    assert deleted[5].startswith("Outdated tool (")
    # The same bytes can be uploaded again once the document is purged from the trash.
    assert upload(b"an outdated tool", "old.txt", account=editor).status_code == 409
    client.post(f"/api/v1/documents/{doc_id}/restore", headers=admin.headers)
    client.post(f"/api/v1/documents/{doc_id}/withdraw", headers=editor.headers)
    assert client.delete(f"/api/v1/documents/{doc_id}", headers=admin.headers).status_code == 204
    assert runner.invoke(args=["purge", str(doc_id)]).exit_code == 0
    (purged,) = events(app, "purge")
    assert purged[:4] == ("purge", "cli", "document", str(doc_id))
    assert upload(b"an outdated tool", "old.txt", account=editor).status_code == 201
