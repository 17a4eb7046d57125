"""HTML with lxml's HTML parser (libxml2): the text a reader sees, as one page.

Scripts, styles, templates, noscript fallbacks, frames and elements marked ``hidden``
are left out; <title>, <meta name=author>, dates and <html lang> become metadata. The
parser calls back for each tag and text run without building a tree, so a page of 50 MB
on one line costs little memory; it adds the end tags a page leaves out.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from lxml import etree

from kb.extract import Extracted, meta, text

# Elements whose content is never shown as text (or is code).
_HIDDEN = frozenset({"script", "style", "template", "noscript", "iframe", "head"})
_BREAKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "option", "p", "pre", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul",
})
_META_KEYS = {
    "author": "author", "dc.creator": "author", "dcterms.creator": "author",
    "dcterms.created": "created", "dc.date": "created", "date": "created",
    "article:published_time": "created",
    "dcterms.modified": "modified", "article:modified_time": "modified",
    "last-modified": "modified",
    "dc.language": "language", "content-language": "language",
}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")
_FEED = 1024 * 1024


class VisibleText:
    """A parser target collecting the visible text of a page and what its head says."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        # Depth inside a hidden element (0: visible); the parser balances every start.
        self.hidden = 0
        self.pre = 0
        self.in_title = False
        self.title: list[str] = []
        self.found: dict[str, str] = {}
        self.lang: str | None = None

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        attributes = {str(k).lower(): v or "" for k, v in attrib.items()}
        if tag == "html" and attributes.get("lang"):
            self.lang = attributes["lang"]
        elif tag == "meta":
            key = (attributes.get("name") or attributes.get("property")
                   or attributes.get("http-equiv") or "").lower()
            if key in _META_KEYS and attributes.get("content"):
                self.found.setdefault(_META_KEYS[key], attributes["content"])
        elif tag == "title":
            self.in_title = not self.title
        if self.hidden or tag in _HIDDEN or "hidden" in attributes:
            self.hidden += 1
        if tag == "pre":
            self.pre += 1
        if tag in _BREAKS:
            self.parts.append("\n")

    def end(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if self.hidden:
            self.hidden -= 1
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in _BREAKS:
            self.parts.append("\n")

    def data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.hidden:
            self.parts.append(data if self.pre else data.replace("\r", " ").replace("\n", " "))

    def close(self) -> None:
        return None

    def text(self) -> str:
        """The collected text: whitespace collapsed, one line per block, no empty lines."""
        lines = (" ".join(line.split()) for line in "".join(self.parts).split("\n"))
        return "\n".join(line for line in lines if line)

    def metadata(self) -> dict[str, str]:
        return meta.build(title="".join(self.title), author=self.found.get("author"),
                          created=self.found.get("created"),
                          modified=self.found.get("modified"),
                          language=self.lang or self.found.get("language"))


def parse(markup: str) -> VisibleText:
    """Run the parser over a page, fed in slices."""
    target = VisibleText()
    parser = etree.HTMLParser(target=target, no_network=True, remove_comments=True,
                              remove_pis=True)
    try:
        for start in range(0, len(markup), _FEED):
            parser.feed(markup[start:start + _FEED])
        parser.close()
    except etree.LxmlError:
        pass  # libxml2 recovers from nearly everything; what it read so far is kept
    return target


def decode(data: bytes) -> str:
    """A page's bytes as text: its BOM, else the charset it declares, else detection."""
    if text.bom_encoding(data) is None:
        declared = _CHARSET.search(data[:4096]) or _XML_ENCODING.search(data[:200])
        if declared is not None:
            try:
                encoding = codecs.lookup(declared.group(1).decode("ascii")).name
            except LookupError:
                pass
            else:
                return data.decode(encoding, "replace")
    return text.decode(data)


def extract(path: Path) -> Extracted:
    """The visible text of an HTML file as one page."""
    page = parse(decode(path.read_bytes()))
    return Extracted(pages=(page.text(),), metadata=page.metadata())
