"""The portal around search, as a visitor meets it: the home page and what it counts,
featured documents, browse pages and A-Z lists, filter chips, facets that keep a chosen
value, the year range, the no-results page and the snippets of a result."""

from __future__ import annotations

import html
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from kb.extensions import db
from kb.models import AuditEvent, Document
from kb.services import groups as groups_service
from tests.conftest import csrf_from, login

PUBLIC = [
    ("Remittances in Moldova", "Lessons learned on remittances and diaspora investment.",
     {"countries": ["MDA"], "agencies": ["IOM", "UNDP"], "type": "lessons-learned",
      "themes": ["remittances; diaspora"], "year": "2014", "language": "en"}),
    ("Labour migration in Serbia", "Evaluation of labour migration policy and remittances.",
     {"countries": ["SRB"], "agencies": ["UNDP"], "type": "evaluation",
      "themes": ["labour migration"], "year": "2016", "language": "en"}),
    ("Diaspora mapping tool", "A methodology to map the diaspora of Moldova and Ecuador.",
     {"countries": ["MDA", "ECU"], "agencies": ["SDC"], "type": "tool",
      "themes": ["diaspora"], "year": "2012", "language": "en"}),
]
SECRET_TITLE = "Kyrgyz border planning notes"


class Tree(HTMLParser):
    """The links, headings and checked facet values of a page, with their accessible names
    (text that assistive technology reads: aria-hidden parts left out)."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "wbr"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str], list[str]]] = []
        self.hidden = 0
        self.found: list[tuple[str, dict[str, str], str]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            self.found.append((tag, {k: v or "" for k, v in attrs}, ""))
            return
        attributes = {k: v or "" for k, v in attrs}
        if attributes.get("aria-hidden") == "true":
            self.hidden += 1
        self.stack.append((tag, attributes, []))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            name, attributes, parts = self.stack.pop()
            if attributes.get("aria-hidden") == "true":
                self.hidden -= 1
            text = " ".join("".join(parts).split())
            self.found.append((name, attributes, text))
            if self.stack:
                self.stack[-1][2].append("".join(parts))
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if self.stack and not self.hidden:
            self.stack[-1][2].append(data)

    def all(self, tag: str, **attrs: str) -> list[tuple[dict[str, str], str]]:
        return [(a, text) for name, a, text in self.found if name == tag
                and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def link(self, name: str) -> str:
        """The address of the one link whose accessible name is ``name``."""
        hrefs = [a["href"] for a, text in self.all("a") if text == name]
        assert len(hrefs) == 1, f"{len(hrefs)} links named {name!r}"
        return hrefs[0]


def page(client, url: str, status: int = 200, **kw) -> str:
    res = client.get(url, **kw)
    assert res.status_code == status, (url, res.status_code)
    return res.get_data(as_text=True)


def counts(text: str, kind: str) -> dict[str, int]:
    """A home page or A-Z list's counts of one kind, in the page's order."""
    block = re.search(rf'<ul class="counted[^"]*" data-kind="{kind}">(.*?)</ul>', text, re.S)
    assert block, f"no {kind} counts"
    return {v: int(n) for v, n in re.findall(
        r'<li data-value="([^"]+)">.*?data-count="(\d+)"', block.group(1), re.S)}


def section(text: str, marker: str) -> str:
    start = text.index(marker)
    return text[start:text.index("</section>", start)]


def one_h1(text: str) -> str:
    headings = re.findall(r"<h1[^>]*>(.*?)</h1>", text, re.S)
    assert len(headings) == 1, headings
    return " ".join(re.sub(r"<[^>]+>", "", headings[0]).split())


@pytest.fixture
def team(app, make_user):
    """A reader who belongs to the group that may see the restricted document."""
    member = make_user("reader")
    with app.app_context():
        group = groups_service.create_group("Kyrgyzstan team", None)
        groups_service.add_member(group.group_id, member.email, None)
    return member


@pytest.fixture
def corpus(upload, process, team):
    ids = {}
    for title, text, meta in PUBLIC:
        res = upload(text.encode(), f"{title}.txt", title=title, **meta)
        assert res.status_code == 201, res.json
        ids[title] = res.json["id"]
    res = upload(b"Confidential notes on border planning and return.", "secret.txt",
                 title=SECRET_TITLE, countries=["KGZ", "NPL"], agencies=["UNICEF"],
                 type="methodology", themes=["secretive planning"], year="2019",
                 access="restricted", groups=["Kyrgyzstan team"])
    assert res.status_code == 201, res.json
    ids["secret"] = res.json["id"]
    process()
    return ids


def logout(client) -> None:
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})


def feature(client, doc_id: int, action: str = "feature"):
    token = csrf_from(client.get(f"/documents/{doc_id}").get_data(as_text=True))
    return client.post(f"/documents/{doc_id}/feature",
                       data={"csrf_token": token, "action": action})


def test_home_counts_what_the_repository_holds_each_a_link(client, corpus):
    text = page(client, "/")
    assert one_h1(text) == "Knowledge on migration and development"
    assert 'data-total="3"' in text
    countries = counts(text, "country")
    # The programme's eight first, in the programme's order, even where none is public.
    assert list(countries)[:8] == ["BGD", "JAM", "MDA", "TUN", "ECU", "KGZ", "MAR", "SRB"]
    assert countries["MDA"] == 2 and countries["ECU"] == 1 and countries["SRB"] == 1
    assert countries["BGD"] == 0
    assert counts(text, "agency") == {"UNDP": 2, "IOM": 1, "SDC": 1}
    assert counts(text, "type") == {"evaluation": 1, "lessons-learned": 1, "tool": 1}
    assert counts(text, "theme") == {"diaspora": 2, "labour migration": 1, "remittances": 1}
    tree = Tree(text)
    assert tree.link("Moldova 2 documents") == "/browse/country/MDA"
    assert tree.link("Tool 1 document") == "/browse/type/tool"
    assert tree.link("labour migration 1 document") == "/browse/theme/labour%20migration"
    assert tree.link("All themes A–Z") == "/browse/theme"
    # A search box with examples, and the way to the search help.
    assert 'role="search"' in text and 'action="/search"' in text
    assert tree.link("remittances") == "/search?q=remittances"
    assert tree.link("How to search") == "/help/search"
    recent = section(text, 'aria-labelledby="recent-title"')
    assert all(title in recent for title, _, _ in PUBLIC)
    # Every count leads to the same number of documents.
    found = client.get("/api/v1/search", query_string={"country": "MDA"}).json
    assert found["total"] == countries["MDA"]


def test_home_and_lists_show_nothing_of_a_document_the_visitor_may_not_see(
        client, corpus, team, editor):
    login(client, editor)
    assert feature(client, corpus["secret"]).status_code == 302
    logout(client)

    anonymous = page(client, "/")
    assert SECRET_TITLE not in anonymous
    assert counts(anonymous, "country")["KGZ"] == 0
    assert "NPL" not in counts(anonymous, "country")
    assert "UNICEF" not in counts(anonymous, "agency")
    assert "methodology" not in counts(anonymous, "type")
    assert "secretive" not in anonymous
    for kind in ("country", "agency", "type", "theme"):
        listing = page(client, f"/browse/{kind}")
        assert SECRET_TITLE not in listing and "secretive" not in listing
        assert 'data-value="NPL"' not in listing and 'data-value="UNICEF"' not in listing
    assert counts(page(client, "/browse/country"), "country")["KGZ"] == 0
    assert SECRET_TITLE not in page(client, "/browse/country/KGZ")

    login(client, team)
    member = page(client, "/")
    assert counts(member, "country")["KGZ"] == 1 and counts(member, "country")["NPL"] == 1
    assert counts(member, "agency")["UNICEF"] == 1
    assert SECRET_TITLE in section(member, 'aria-labelledby="featured-title"')
    assert SECRET_TITLE in section(member, 'aria-labelledby="recent-title"')
    assert 'data-value="secretive planning"' in page(client, "/browse/theme")


def test_editors_feature_and_unfeature_documents_recorded_in_the_audit_trail(
        app, client, corpus, make_user, editor):
    doc_id = corpus["Diaspora mapping tool"]
    assert "Featured tools and methodologies" not in page(client, "/")
    # Visitors are sent to sign in; readers and contributors may not.
    token = csrf_from(page(client, "/login"))
    res = client.post(f"/documents/{doc_id}/feature",
                      data={"action": "feature", "csrf_token": token})
    assert res.status_code == 302 and res.headers["Location"].startswith("/login")
    for role in ("reader", "contributor"):
        login(client, make_user(role))
        assert "Feature on the home page" not in page(client, f"/documents/{doc_id}")
        assert feature(client, doc_id).status_code == 403
        # A document they may not see does not exist for them.
        assert feature(client, corpus["secret"]).status_code == 404
        logout(client)
    login(client, editor)
    assert client.post(f"/documents/{doc_id}/feature", data={"action": "feature"}
                       ).status_code == 400  # no CSRF token
    assert "Feature on the home page" in page(client, f"/documents/{doc_id}")
    res = feature(client, doc_id)
    assert res.status_code == 302 and res.headers["Location"] == f"/documents/{doc_id}"
    assert "Stop featuring on the home page" in page(client, f"/documents/{doc_id}")
    logout(client)

    featured = section(page(client, "/"), 'aria-labelledby="featured-title"')
    assert "Diaspora mapping tool" in featured and "Remittances in Moldova" not in featured

    login(client, editor)
    assert feature(client, doc_id, "unfeature").status_code == 302
    assert "Diaspora mapping tool" not in section(page(client, "/"),
                                                  'aria-labelledby="featured-title"')
    with app.app_context():
        assert db.session.get(Document, doc_id).featured_at is None
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(("feature", "unfeature"))).order_by(AuditEvent.event_id)).all()
        assert [(e.action, e.target_id, e.actor_email) for e in events] == [
            ("feature", str(doc_id), editor.email), ("unfeature", str(doc_id), editor.email)]


def test_browse_pages_at_stable_addresses(client, corpus):
    text = page(client, "/browse/country/MDA")
    assert one_h1(text) == "Moldova"
    assert 'data-browse="country"' in text and "Documents about Moldova" in text
    assert "Remittances in Moldova" in text and "Diaspora mapping tool" in text
    assert "Labour migration in Serbia" not in text
    assert 'data-facet="agency"' in text and 'data-facet="theme"' in text
    tree = Tree(text)
    assert tree.link("Remove filter: Moldova") == "/search"
    # Narrowing stays on the browse page; its own filter is in the address, not hidden.
    assert tree.all("a", data_value="UNDP")[0][0]["href"] == "/browse/country/MDA?agency=UNDP"
    assert ('name="country"', 'value="MDA"') not in re.findall(
        r'<input type="hidden" (name="[^"]+") (value="[^"]+")>', text)

    assert one_h1(page(client, "/browse/agency/SDC")) == \
        "Swiss Agency for Development and Cooperation"
    assert "Diaspora mapping tool" in page(client, "/browse/agency/SDC")
    assert one_h1(page(client, "/browse/type/tool")) == "Tool"
    assert one_h1(page(client, "/browse/theme/labour%20migration")) == "Labour migration"
    assert "Labour migration in Serbia" in page(client, "/browse/theme/labour%20migration")
    # Other spellings lead to the one address; unknown codes are not found.
    for url, canonical in [("/browse/country/mda", "/browse/country/MDA"),
                           ("/browse/country/md", "/browse/country/MDA"),
                           ("/browse/agency/sdc", "/browse/agency/SDC"),
                           ("/browse/theme/Labour%20Migration",
                            "/browse/theme/labour%20migration")]:
        res = client.get(url)
        assert res.status_code == 308 and res.headers["Location"] == canonical, url
    for url in ("/browse/country/XYZ", "/browse/agency/NOPE", "/browse/type/novel",
                "/browse/planet/mars", "/browse/planet"):
        assert client.get(url).status_code == 404, url


def test_a_to_z_lists_with_counts(client, corpus):
    themes = page(client, "/browse/theme")
    assert one_h1(themes) == "Themes A–Z"
    letters = re.findall(r'<h2 id="letter-\d+">(.*?)</h2>', themes)
    assert letters == ["D", "L", "R"]
    tree = Tree(themes)
    assert tree.link("diaspora 2 documents") == "/browse/theme/diaspora"
    assert tree.link("R") == "#letter-3"
    countries = page(client, "/browse/country")
    assert one_h1(countries) == "Countries A–Z"
    programme = section(countries, 'aria-labelledby="programme-title"')
    assert programme.index("Bangladesh") < programme.index("Moldova") < programme.index("Serbia")
    agencies = page(client, "/browse/agency")
    assert Tree(agencies).link("SDC Swiss Agency for Development and Cooperation 1 document"
                               ) == "/browse/agency/SDC"
    types = page(client, "/browse/type")
    assert one_h1(types) == "Document types"
    assert Tree(types).link("Lessons learned 1 document") == "/browse/type/lessons-learned"


def test_every_filter_is_a_removable_chip_and_the_query_box_keeps_them(client, corpus):
    text = page(client, "/search?q=remittances&country=MDA&theme=Diaspora&year_from=2010")
    tree = Tree(text)
    assert tree.link("Remove filter: Moldova") == \
        "/search?q=remittances&theme=Diaspora&year_from=2010"
    assert tree.link("Remove filter: diaspora") == \
        "/search?q=remittances&country=MDA&year_from=2010"
    assert tree.link("Remove filter: from 2010") == \
        "/search?q=remittances&country=MDA&theme=Diaspora"
    assert tree.link("Clear all filters") == "/search?q=remittances"
    assert "Filters <span class=\"filters-on\">(3 on)</span>" in text
    start = text.index('role="search"')
    form = text[start:text.index("</form>", start)]
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', form)
    assert hidden == [("country", "MDA"), ("theme", "Diaspora"), ("year_from", "2010")]
    # No filter, no chips.
    assert 'class="chip"' not in page(client, "/search?q=remittances")


def test_a_chosen_value_stays_checked_at_zero_in_the_page_and_the_api(client, corpus):
    params = {"country": "ECU", "agency": "UNDP"}
    found = client.get("/api/v1/search", query_string=params).json
    assert found["total"] == 0
    assert {"value": "ECU", "label": "Ecuador", "count": 0} in found["facets"]["country"]
    assert {"value": "UNDP", "label": "United Nations Development Programme",
            "count": 0} in found["facets"]["agency"]
    text = page(client, "/search", query_string=params)
    tree = Tree(text)
    [(ecuador, name)] = tree.all("a", data_value="ECU")
    assert ecuador.get("aria-current") == "true" and name == "Ecuador 0"
    [(undp, name)] = tree.all("a", data_value="UNDP")
    assert undp.get("aria-current") == "true" and name.endswith(" 0")
    # Its other values stay on offer, counted under the other filters.
    assert [name for _, name in tree.all("a", data_value="SRB")] == ["Serbia 1"]


def test_year_range_lists_the_years_in_order_and_keeps_them_all(client, corpus):
    text = page(client, "/search?year_from=2013&year_to=2016")
    assert "Diaspora mapping tool" not in text  # 2012
    assert "Remittances in Moldova" in text and "Labour migration in Serbia" in text
    for end, chosen in (("from", "2013"), ("to", "2016")):
        select_ = re.search(rf'<select id="year-{end}"[^>]*>(.*?)</select>', text, re.S).group(1)
        options = re.findall(r'<option value="(\d*)"( selected)?>', select_)
        # Every year is offered (counted without the range), in order, and 2013 (which
        # no document has) because it was chosen.
        assert [v for v, _ in options] == ["", "2012", "2013", "2014", "2016"]
        assert [v for v, s in options if s] == [chosen]
    assert Tree(text).link("Remove filter: 2013–2016") == "/search"
    years = client.get("/api/v1/search?year_from=2013&year_to=2016").json["facets"]["year"]
    assert {f["value"]: f["count"] for f in years} == {"2012": 1, "2014": 1, "2016": 1}


def test_no_results_page_helps(client, corpus):
    text = page(client, "/search?q=remitances&country=MDA")
    assert one_h1(text) == "No documents found"
    assert "data-no-results" in text
    tree = Tree(text)
    assert tree.link("Remove filter: Moldova") == "/search?q=remitances"
    assert tree.link("Search all documents for “remitances” instead") == "/search?q=remitances"
    assert "Did you mean" in text and "data-suggestion" in text
    assert tree.link("How to search: phrases, AND, OR, NOT, fields and years") == "/help/search"
    assert "Tips" in text and "migra*" in text
    # Without filters there is nothing to search instead.
    plain = page(client, "/search?q=zyxwvutsrq")
    assert one_h1(plain) == "No documents found" and "instead" not in plain
    assert "/help/search" in plain


def test_a_result_shows_at_most_two_snippets_and_never_two_alike(client, upload, process):
    # A running header between identical paragraphs: its snippets would read the same.
    filler = "Filler about committees, workshops and meetings held in the capital. " * 4
    header = "Quarterly bulletin of the joint programme: remittances and development. "
    text = ((filler + header) * 4 + filler + "Unlike the bulletin header, this paragraph "
            "weighs remittances sent by seasonal workers against their travel costs. "
            + filler)
    doc_id = upload(text.encode(), "bulletin.txt", title="Bulletin").json["id"]
    process()
    found = client.get("/api/v1/search?q=remittances").json
    [hit] = [r for r in found["results"] if r["id"] == doc_id]
    texts = [" ".join(re.sub(r"\W+", " ", html.unescape(re.sub("<[^>]+>", "", s["html"])))
                      .casefold().split()) for s in hit["snippets"]]
    assert len(texts) == 2 and len(set(texts)) == 2, texts
    assert any("seasonal workers" in t for t in texts)
    page_html = page(client, "/search?q=remittances")
    assert page_html.count("seasonal workers") == 1


def test_an_empty_instance_says_how_to_begin(client, make_user):
    text = page(client, "/")
    assert one_h1(text)
    assert "This repository is empty" in text and "kb import" in text
    assert Tree(text).link("Sign in to upload documents") == "/login?next=/upload"
    login(client, make_user("editor"))
    text = page(client, "/")
    assert Tree(text).link("Upload a document") == "/upload"
    assert "Featured tools and methodologies" not in text


def test_search_moved_to_its_own_address_and_old_links_still_work(client, corpus):
    home = page(client, "/")
    tree = Tree(home)
    assert tree.all("a", **{"class": "brand"})[0][0]["href"] == "/"
    nav = home[home.index('<nav aria-label="Main">'):]
    assert '<a href="/search">Search</a>' in nav
    assert one_h1(page(client, "/search")) == "All documents"
    assert one_h1(page(client, "/search?q=diaspora")) == "Search results"
    old = page(client, "/?q=diaspora")
    assert one_h1(old) == "Search results" and "Diaspora mapping tool" in old
    assert one_h1(page(client, "/?country=SRB")) == "Search results"
    for url in ("/browse/theme", "/browse/country/SRB", "/search?q=zzzzqqq", "/help/search"):
        one_h1(page(client, url))


def test_long_facets_show_the_first_values_then_all_with_a_box_to_find_one(
        client, upload, process):
    themes = [f"theme {chr(ord('a') + i)}" for i in range(14)]
    for i in range(1, 15):
        upload(f"Planning note {i} on diaspora engagement.".encode(), f"n{i}.txt",
               title=f"Note {i}", themes=["; ".join(themes[:i])])
    process()
    text = page(client, "/search")
    facet = text[text.index('data-facet="theme"'):text.index("</section>",
                                                             text.index('data-facet="theme"'))]
    top = facet[:facet.index("data-facet-more")]
    more = facet[facet.index("data-facet-more"):]
    assert top.count("data-value=") == 8 and more.count("data-value=") == 6
    assert "Show all 14" in more
    assert 'data-facet-find' in facet and '<label for="find-theme">Find a theme</label>' in facet
    # A chosen value from the end of the list is among the first ones.
    chosen = page(client, "/search?theme=theme+n")
    facet = chosen[chosen.index('data-facet="theme"'):]
    top = facet[:facet.index("data-facet-more")]
    assert 'aria-current="true" class="on" data-value="theme n"' in top
    assert facet.count('data-value="theme n"') == 1


def test_the_home_page_shows_without_the_index_and_says_what_to_run(
        app, client, upload, process):
    upload(b"Seasonal labour migration in Moldova.", "m.txt", title="Seasonal labour")
    process()
    shutil.rmtree(Path(app.config["INDEX_DIR"]))
    text = page(client, "/")
    assert "kb reindex" in text and "Seasonal labour" in text
    assert page(client, "/browse/theme", 503)
    assert "kb reindex" in page(client, "/browse/country/MDA", 503)
