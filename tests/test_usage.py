"""Usage statistics (kb.services.usage): people's page views and downloads of each document,
a day at a time; robots and scripts are not counted; editors and admins read them over a
period on /usage and as CSV, for the documents they may see."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest

from tests.conftest import Clock, login

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
ROBOTS = ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
          "curl/8.5.0", "python-requests/2.32", "WhatsApp/2.23 link preview", "")
DAY_1 = datetime(2026, 3, 1, 22, 0)


@pytest.fixture
def clock(app):
    app.config["CLOCK"] = Clock(DAY_1)
    return app.config["CLOCK"]


@pytest.fixture
def used(app, client, upload, process, clock):
    """Two published documents, read on two days by a person and by robots."""
    a = upload(b"Remittances and diaspora bonds in Moldova.", "a.txt", title="Diaspora bonds",
               countries=["MDA"], agencies=["IOM"]).json["id"]
    b = upload(b"Labour migration from Kyrgyzstan.", "b.txt", title="Labour migration",
               countries=["KGZ"], agencies=["UNDP"]).json["id"]
    process()
    person = app.test_client()

    def get(path, **headers):
        res = person.get(path, headers={**BROWSER, **headers})
        assert res.status_code in (200, 206), (path, res.status_code)
        res.close()

    get(f"/documents/{a}")
    get(f"/documents/{a}")
    get(f"/documents/{a}/download")
    for agent in ROBOTS:  # none of these count
        for path in (f"/documents/{a}", f"/documents/{b}/download"):
            res = person.get(path, headers={"User-Agent": agent})
            assert res.status_code == 200
            res.close()
    assert person.head(f"/documents/{b}", headers=BROWSER).status_code == 200
    clock.advance(hours=4)  # the next day (UTC)
    get(f"/documents/{b}")
    get(f"/documents/{a}/download", Range="bytes=0-9")
    get(f"/documents/{a}/download", Range="bytes=10-")  # the same download, continued
    return {"a": a, "b": b}


def totals(html: str) -> tuple[int, int]:
    found = re.search(r'data-views="(\d+)" data-downloads="(\d+)"', html)
    assert found is not None, html
    return int(found.group(1)), int(found.group(2))


def rows(html: str, table: str) -> list[str]:
    block = re.search(rf'<table data-usage="{table}">(.*?)</table>', html, re.S)
    assert block is not None, table
    return re.findall(r'<tr data-[a-z-]+="([^"]+)"', block.group(1))


def test_people_are_counted_a_day_at_a_time_robots_are_not(app, client, used, editor):
    login(client, editor)
    both = client.get("/usage?from=2026-03-01&to=2026-03-02").get_data(as_text=True)
    assert totals(both) == (3, 2)
    assert rows(both, "documents") == [str(used["a"]), str(used["b"])]
    assert rows(both, "days") == ["2026-03-01", "2026-03-02"]
    assert rows(both, "country") == ["MDA", "KGZ"] and rows(both, "agency") == ["IOM", "UNDP"]
    assert "Diaspora bonds" in both and "Moldova" in both
    second = client.get("/usage?from=2026-03-02&to=2026-03-02").get_data(as_text=True)
    assert totals(second) == (1, 1)
    # The default period: the last 30 days up to today (the clock's).
    assert totals(client.get("/usage").get_data(as_text=True)) == (3, 2)
    assert totals(client.get("/usage?from=2026-04-01&to=2026-04-30")
                  .get_data(as_text=True)) == (0, 0)
    # The document's own counter counts every download, as before.
    assert client.get(f"/api/v1/documents/{used['a']}").json["downloads"] >= 2


def test_the_period_exports_as_csv(client, used, editor, upload, process):
    hostile = upload(b"Notes.", "c.txt", title="=HYPERLINK(\"http://x\")").json["id"]
    process()
    login(client, editor)
    assert client.get(f"/documents/{hostile}", headers=BROWSER).status_code == 200
    res = client.get("/usage/export.csv?from=2026-03-01&to=2026-03-02")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert "kb-usage-20260301-20260302.csv" in res.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
    by_id = {int(r["doc_id"]): r for r in table}
    assert (by_id[used["a"]]["views"], by_id[used["a"]]["downloads"]) == ("2", "2")
    assert by_id[used["a"]]["countries"] == "MDA" and by_id[used["a"]]["agencies"] == "IOM"
    assert by_id[hostile]["title"].startswith("'=")  # not a live formula
    assert [int(r["doc_id"]) for r in table][0] == used["a"]


def test_only_editors_and_admins_read_usage(app, client, used, make_user):
    assert client.get("/usage").status_code == 302  # visitors sign in first
    for role in ("reader", "contributor"):
        browser = app.test_client()
        login(browser, make_user(role))
        assert browser.get("/usage").status_code == 403, role
        assert browser.get("/usage/export.csv").status_code == 403, role
        assert 'href="/usage"' not in browser.get("/").get_data(as_text=True)
    for role in ("editor", "admin"):
        browser = app.test_client()
        login(browser, make_user(role))
        assert browser.get("/usage").status_code == 200, role
        assert 'href="/usage"' in browser.get("/").get_data(as_text=True)


@pytest.mark.parametrize(("query", "says"), [
    ("from=2026-13-01", "from must be a date like 2026-11-27"),
    ("from=2026-03-05&to=2026-03-01", "The period ends before it starts."),
    ("from=2020-01-01&to=2026-03-01", "A report covers at most 1098 days."),
])
def test_a_wrong_period_is_explained(client, used, editor, query, says):
    login(client, editor)
    page = client.get(f"/usage?{query}")
    assert page.status_code == 400 and says in page.get_data(as_text=True)
    assert client.get(f"/usage/export.csv?{query}").status_code == 400


def test_a_document_in_the_trash_leaves_the_report(client, used, editor, make_user):
    admin = make_user("admin")
    assert client.post(f"/api/v1/documents/{used['a']}/withdraw",
                       headers=editor.headers).status_code == 200
    assert client.delete(f"/api/v1/documents/{used['a']}",
                         headers=admin.headers).status_code == 204
    login(client, admin)
    html = client.get("/usage?from=2026-03-01&to=2026-03-02").get_data(as_text=True)
    assert totals(html) == (1, 0)
    assert rows(html, "documents") == [str(used["b"])] and "Diaspora bonds" not in html


def test_the_page_speaks_french(client, used, editor):
    login(client, editor)
    html = client.get("/usage?from=2026-03-01&to=2026-03-02",
                      headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Documents les plus utilisés" in html and "Téléchargements" in html
