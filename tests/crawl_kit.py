"""A crawler for the site-wide checks of issue 14: from a few starting pages it follows the
links a visitor sees (same site, GET only) and looks at every page it reaches, so that
pages added later are checked without being listed anywhere.

    report = crawl(page, site.url, STARTS, check=phone_problems)
    assert not report.problems, report.summary()

What a page must be (issue 14 items 9 and 10, and "Done when"):
- at phone width (390 px): nothing scrolls sideways, exactly one <h1>, touch targets of at
  least 44 x 44 CSS px (`small_targets` says which controls count and which are exempt),
  no axe-core WCAG 2.1 A/AA violation of any impact;
- at desktop width: exactly one <h1> and no axe violation.
"""

from __future__ import annotations

import io
import json
import re
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urldefrag, urlencode, urlsplit

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.browser_kit import (
    ROLES,
    Site,
    axe_violations,
    email_of,
    open_as,
    sideways_overflow,
)
from tests.conftest import wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

STARTS = ("/", "/login", "/help/search")
# Enough for every kind of page with room for several documents; the crawl prefers kinds
# of page it has not seen yet, so the bound cuts repeats (the fifth document's edit page),
# not kinds.
PAGE_LIMIT = 40
# Links never followed: they sign out, send a file instead of a page, or are not pages.
SKIPPED = re.compile(r"logout|sign-out|download|export|thumbnail|/static/|/api/|/metrics"
                     r"|/healthz|\.(csv|json|xml|atom|pdf|png|jpe?g|txt|bib|ris)$", re.I)
TOUCH_MIN = 44.0  # CSS px, WCAG 2.1 success criterion 2.5.5 (Target Size)

Key = tuple[str, tuple[str, ...]]


def page_key(url: str) -> Key:
    """What makes two URLs the same page for the crawl: the path and the *name* of its one
    query parameter, not its value (``/?country=MDA`` and ``/?country=JAM`` are one page,
    ``/?year=2014`` another); every URL of a path with two or more parameters is one more
    page (``/?country=MDA&agency=IOM``, ``/?q=x&page=2``...), so that combinations of
    facets cannot explode the crawl."""
    parts = urlsplit(url)
    names = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return parts.path or "/", tuple(names) if len(names) <= 1 else ("*",)


def page_kind(key: Key) -> Key:
    """The kind of a page: its key with numbers in the path generalised
    (``/documents/{n}/edit``), a document page's slug dropped (``/documents/{n}/a-title``
    is ``/documents/{n}``), and a browse page's value (``/browse/country/{value}``);
    the crawl visits a new kind before a repeat of a known one."""
    path, names = key
    path = re.sub(r"^/browse/([^/]+)/[^/]+$", r"/browse/\1/{value}", path)  # one per facet
    path = re.sub(r"^(/documents/\d+)/(?!edit$)[a-z0-9-]+$", r"\1", path)
    return re.sub(r"/\d+(?=/|$)", "/{n}", path), names


@dataclass
class Report:
    """What a crawl saw: each page visited (final URL after redirects, by key), which page
    linked to it, and the problems found, page by page."""

    visited: dict[Key, str] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    came_from: dict[str, str] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, url: str, found: Iterable[str]) -> None:
        found = list(found)
        if found:
            self.problems.setdefault(url, []).extend(found)

    def summary(self) -> str:
        lines = [f"{len(self.problems)} of {len(self.checked)} pages checked have problems:"]
        for url, found in self.problems.items():
            lines.append(f"{url} (linked from {self.came_from.get(url, 'the start')}):")
            lines.extend(f"    {p}" for p in found)
        return "\n".join(lines)

    def paths(self) -> set[str]:
        """The paths of the pages visited."""
        return {urlsplit(u).path for u in self.visited.values()}

    def checked_paths(self) -> set[str]:
        """The paths of the pages checked."""
        return {urlsplit(u).path for u in self.checked}


def same_site_links(page: Page, origin: str) -> list[str]:
    """The page's links to pages of the same site, without fragments, in document order
    (links in closed <details> and visually hidden ones too: a visitor can reach them)."""
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    links = []
    for href in hrefs:
        url, _ = urldefrag(href)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}" != origin:
            continue
        if SKIPPED.search(parts.path):
            continue
        links.append(url)
    return links


def crawl(page: Page, origin: str, starts: Iterable[str], *,
          check: Callable[[Page], list[str]], limit: int = PAGE_LIMIT,
          checks: Callable[[Key], bool] = lambda key: True) -> Report:
    """Visit pages of the site at ``origin`` (e.g. ``http://127.0.0.1:5000``) breadth first
    from ``starts`` (paths), at most ``limit`` of them, new kinds of page first; run
    ``check`` on the pages whose key ``checks`` accepts. A page that answers 4xx or 5xx is
    a problem (of the link that leads to it)."""
    from playwright.sync_api import Error as PlaywrightError

    report = Report()
    queue = [origin + path for path in starts]
    queued = {page_key(u) for u in queue}
    starts_left = len(queue)
    kinds_seen: dict[Key, int] = {}
    while queue and len(report.visited) < limit:
        # The starts first, in order (the bound never leaves them out); then the first queued
        # URL of the least visited kind (breadth first within a kind).
        if starts_left:
            starts_left, best = starts_left - 1, 0
        else:
            best = min(range(len(queue)),
                       key=lambda i: kinds_seen.get(page_kind(page_key(queue[i])), 0))
        url = queue.pop(best)
        try:
            response = page.goto(url)
        except PlaywrightError as e:  # e.g. a link that starts a download
            report.add(url, [f"could not be opened as a page: {e.message.splitlines()[0]}"])
            continue
        final = page.url
        key = page_key(final)
        if key in report.visited:  # redirected to a page already seen
            continue
        report.visited[key] = final
        queued.add(key)
        kinds_seen[page_kind(key)] = kinds_seen.get(page_kind(key), 0) + 1
        if final != url:
            report.came_from.setdefault(final, report.came_from.get(url, "the start"))
        status = response.status if response is not None else 0
        if status >= 400:
            report.add(final, [f"answered {status}"])
        kind = response.headers.get("content-type", "") if response is not None else ""
        if status < 400 and not kind.startswith("text/html"):
            continue  # a feed or a file the browser shows: not one of the site's pages
        if checks(key):
            report.checked.append(final)
            report.add(final, check(page))
        for link in same_site_links(page, origin):
            link_key = page_key(link)
            if link_key not in queued:
                queued.add(link_key)
                queue.append(link)
                report.came_from.setdefault(link, final)
    return report


def revisit(page: Page, urls: Iterable[str], *, check: Callable[[Page], list[str]]) -> Report:
    """Run ``check`` on each of ``urls`` (e.g. a phone crawl's pages, again at desktop)."""
    report = Report()
    for url in urls:
        response = page.goto(url)
        report.visited[page_key(page.url)] = page.url
        report.checked.append(page.url)
        if response is not None and response.status >= 400:
            report.add(page.url, [f"answered {response.status}"])
        report.add(page.url, check(page))
    return report


def one_h1(page: Page) -> list[str]:
    count = page.locator("h1").count()
    return [] if count == 1 else [f"{count} <h1> elements, wanted exactly 1"]


def no_sideways_scroll(page: Page) -> list[str]:
    """document.documentElement.scrollWidth <= innerWidth, or what sticks out."""
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if fits:
        return []
    return ["scrolls sideways: " + "; ".join(sideways_overflow(page) or [
        str(page.evaluate("`scrollWidth ${document.documentElement.scrollWidth}"
                          " > innerWidth ${window.innerWidth}`"))])]


# Which controls are touch targets and which are exempt, measured in the page:
# - targets: visible links with an href, buttons, <summary>, <select>, <textarea> and
#   inputs other than hidden ones; "visible" means rendered (checkVisibility, opacity and
#   visibility included), larger than 1 x 1 px (the visually-hidden pattern is 1 x 1) and
#   not placed off the page (the skip link waits left of the page until it has focus);
# - a checkbox, radio button or file input counts with its <label> (tapping the label
#   works the control), as WCAG 2.5.5 counts the target's whole activating area;
# - exempt, per WCAG 2.5.5's "Inline" exception: a link laid out inline (computed display
#   "inline") whose nearest block container is a <p> holding at least one word of letters
#   outside any link or button: a link inside a sentence of running text. A link alone in
#   its paragraph, or in a list, a heading, a table cell or a navigation bar, is not exempt.
SMALL_TARGETS_JS = """
(min) => {
  const selector = 'a[href], button, summary, select, textarea, input:not([type=hidden])';
  const docWidth = document.documentElement.scrollWidth;
  const blockOf = el => {
    let b = el.parentElement;
    while (b && ['inline', 'contents'].includes(getComputedStyle(b).display)) b = b.parentElement;
    return b;
  };
  const inRunningText = el => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    const block = blockOf(el);
    if (!block || block.tagName !== 'P') return false;
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    let outside = '';
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (!node.parentElement.closest('a[href], button')) outside += node.data;
    }
    return /\\p{L}{2,}/u.test(outside);
  };
  const describe = el => {
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || el.name || '')
      .replace(/\\s+/g, ' ').trim().slice(0, 40);
    const cls = typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${cls} "${text}"`;
  };
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;
    if (r.right + window.scrollX <= 0 || r.bottom + window.scrollY <= 0
        || r.left + window.scrollX >= docWidth) continue;
    if (inRunningText(el)) continue;
    let width = r.width, height = r.height;
    if (el.tagName === 'INPUT' && ['checkbox', 'radio', 'file'].includes(el.type)) {
      for (const label of el.labels || []) {
        const l = label.getBoundingClientRect();
        width = Math.max(width, l.width); height = Math.max(height, l.height);
      }
    }
    if (width < min - 0.5 || height < min - 0.5) {
      out.push(`${describe(el)} is ${Math.round(width)} x ${Math.round(height)} px`);
    }
  }
  return out;
}
"""


def small_targets(page: Page, minimum: float = TOUCH_MIN) -> list[str]:
    """Touch targets smaller than ``minimum`` CSS px either way (see SMALL_TARGETS_JS)."""
    return list(page.evaluate(SMALL_TARGETS_JS, minimum))


_SHOT: set[str] = set()


def keep_screenshot(page: Page) -> None:
    """A screenshot of each kind of page, once per width and test run, as
    build/screenshots/crawl-KIND-WIDTHpx.png (the first role to reach it)."""
    from tests.browser_kit import screenshot

    path, _ = page_kind(page_key(page.url))
    name = "crawl-" + (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home")
    width = page.viewport_size["width"] if page.viewport_size else 0
    if f"{name}-{width}" not in _SHOT:
        _SHOT.add(f"{name}-{width}")
        screenshot(page, name)


def phone_problems(page: Page) -> list[str]:
    """Everything a page must be at phone width."""
    keep_screenshot(page)
    small = small_targets(page)
    return [*one_h1(page), *no_sideways_scroll(page),
            *(["touch targets under 44 x 44 px: " + "; ".join(small[:12])
               + (f" (and {len(small) - 12} more)" if len(small) > 12 else "")]
              if small else []),
            *(f"axe: {v}" for v in axe_violations(page))]


def desktop_problems(page: Page) -> list[str]:
    """Everything a page must be at desktop width."""
    keep_screenshot(page)
    return [*one_h1(page), *(f"axe: {v}" for v in axe_violations(page))]


# --- What the crawl's site holds besides browser_kit's seed documents -------------------

# One unbroken word of 300 letters: before issue 14 it made pages 10,000 px wide.
LONG_TITLE = ("Mainstreaming" + "MigrationIntoNationalDevelopmentStrategies" * 8)[:300]
BROKEN_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"


@dataclass
class Extras:
    """Documents in every state a page shows differently, by name -> id."""

    ids: dict[str, int]
    tokens: dict[str, str]


def api_call(site: Site, method: str, path: str, token: str, body: bytes = b"",
             content_type: str = "application/octet-stream", **params: str) -> Any:
    """One API request with a bearer token; the JSON answer."""
    query = ("?" + urlencode(params)) if params else ""
    request = urllib.request.Request(site.url + path + query, data=body, method=method,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


def seed_extras(site: Site, browser: Browser) -> Extras:
    """A long-titled document, one whose text cannot be read, a contributor's submitted
    one, an internal one, a withdrawn one, an original and its Arabic translation; an API
    token per role and a group with a member, so that every list and table of the site has
    rows."""
    tokens = {role: site.kb("token", "create", email_of(role), "--name", f"{role} laptop")
              .stdout.strip() for role in ROLES}

    def upload(role: str, name: str, data: bytes, **meta: str) -> int:
        answer = api_call(site, "POST", "/api/v1/documents", tokens[role], data,
                          filename=name, **meta)
        return int(answer["id"])

    ids = {
        "long": upload("editor", "long.txt", b"A document whose title is one long word.",
                       title=LONG_TITLE, countries="MDA", type="report", year="2020"),
        "unreadable": upload("editor", "broken.pdf", BROKEN_PDF,
                             title="A damaged PDF whose text cannot be read", year="2012"),
        "submitted": upload("contributor", "notes.txt",
                            b"Field notes on return and reintegration in Kyrgyzstan.",
                            title="Field notes on return (submitted)", countries="KGZ"),
        "internal": upload("editor", "internal.txt", b"An internal note on diaspora bonds.",
                           title="Internal note on diaspora bonds", access="internal"),
        "withdrawn": upload("editor", "old.txt", b"An outdated brief on remittance costs.",
                            title="Outdated brief on remittance costs"),
        "original": upload("editor", "guide.txt", b"A guide to safe labour migration.",
                           title="Guide to safe labour migration", language="en"),
        "arabic": upload("editor", "guide-ar.txt", "دليل الهجرة الآمنة".encode(),
                         title="دليل الهجرة الآمنة للعمل", language="ar"),
    }
    # A second version, with a long note: the page's Versions table has rows to lay out.
    boundary, body = encode_multipart(MultiDict([
        ("file", FileStorage(io.BytesIO(b"The long-titled document, revised."),
                             "long-title-revised-after-review.txt")),
        ("note", "revised after a long review by the programme's steering committee " * 2)]))
    api_call(site, "POST", f"/api/v1/documents/{ids['long']}/files", tokens["editor"], body,
             content_type=f"multipart/form-data; boundary={boundary}")
    for doc_id in ids.values():
        wait_for(f"document {doc_id} processed", lambda d=doc_id: api_call(
            site, "GET", f"/api/v1/documents/{d}", tokens["admin"])["status"] != "processing")
    api_call(site, "POST", f"/api/v1/documents/{ids['withdrawn']}/withdraw", tokens["editor"],
             content_type="application/x-www-form-urlencoded")
    # Two language versions of one work: their pages say "Also in" (one right to left).
    api_call(site, "PUT", f"/api/v1/documents/{ids['arabic']}/translation_of",
             tokens["editor"], json.dumps({"original": ids["original"]}).encode(),
             content_type="application/json")

    page = open_as(browser, site, "admin")
    try:
        page.goto("/admin/groups")
        page.get_by_label("Group name").fill("Moldova country team")
        page.get_by_role("button", name="Create").click()
        page.get_by_label("Add a member to Moldova country team").fill(email_of("reader"))
        page.get_by_role("button", name="Add", exact=True).click()
        page.get_by_text(email_of("reader")).first.wait_for()
    finally:
        page.context.close()
    return Extras(ids, tokens)
