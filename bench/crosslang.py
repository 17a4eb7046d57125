"""Cross-language benchmark: Spanish UNBIS labels finding English speeches via the thesaurus.

The issue's acceptance criterion: "at least 80% of multi-word Spanish UNBIS labels whose
English label occurs in an English document will be expected to find such a document in
the top 10." Measured here on the UN General Debate speeches, through the product's code:

- the speeches (English) are indexed with kb.search.create / write_records (language "en",
  the text as the one page, the file stem as the title);
- an app with a fresh SQLite database in the workdir imports
  ../shared/corpora/unbis/unbis-labels.tsv with kb.services.thesaurus.import_file;
- candidates: concepts whose Spanish label has 2+ words (split on spaces) and whose English
  label occurs in at least one indexed speech (the phrase rule below); all of them, or an
  evenly spread sample of --labels N in file order;
- each Spanish label, as written in the file, is searched the way kb.services.searching.run
  does it: kb.services.searching.expanded (the concepts' other-language labels as
  ``also``, the matched label's function words as ``quiet``), then kb.search.search(
  per_page=10, snippets=0, every workflow state visible). Success: a hit of the top 10
  holds the English label;
- baseline in the same run: the same queries with expansion off (nothing added).

Phrase rule: the English label's words (runs of letters and digits, case-folded, accents
dropped) appear one after another among the document's words; punctuation between words
is ignored ("north-south relations" matches "North-South relations").

For the failures with expansion, each is put into one cause: no concept recognised, the
concepts recognised did not carry the English label, or they did and the English phrase
is found further down (in the top 100 of the same search) or not at all (then the English
label searched alone as a "phrase" tells whether the engine can find it at all).

    .venv/bin/python bench/crosslang.py [--docs N] [--labels N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import _common as c

if TYPE_CHECKING:
    from kb.search import SearchResult

    # a SearchRequest -> the product's result
    Runner = Callable[[Any], SearchResult]

UNBIS = c.CORPORA / "unbis" / "unbis-labels.tsv"
TOP = 10
DEEP = 100  # how far down a failure's search is looked at, to tell ranking from matching
EXAMPLES = 5
WARMUP = 5
_WORDS = re.compile(r"[^\W_]+")
T = TypeVar("T")


def words(text: str) -> list[str]:
    """The phrase rule's words: letters and digits, case-folded, accents dropped."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORDS.findall(plain)


@dataclass(frozen=True)
class Concept:
    line: int
    es: str
    en: str


def read_concepts(path: Path) -> list[Concept]:
    """Concepts with a Spanish and an English label, whitespace tidied as the import does."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = [h.strip().lower() for h in lines[0].split("\t")]
    es, en = header.index("es"), header.index("en")
    out = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            continue
        spanish, english = " ".join(cells[es].split()), " ".join(cells[en].split())
        if spanish and english:
            out.append(Concept(number, spanish, english))
    return out


class Phrases:
    """Which documents hold a phrase, by the phrase rule (a word index narrows the scan)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.docs: list[str] = []
        self.holding: dict[str, set[int]] = {}
        for i, text in enumerate(texts):
            ws = words(text)
            self.docs.append(" " + " ".join(ws) + " ")
            for w in set(ws):
                self.holding.setdefault(w, set()).add(i)

    def docs_with(self, phrase: str) -> list[int]:
        ws = words(phrase)
        if not ws:
            return []
        sets = sorted((self.holding.get(w, set()) for w in set(ws)), key=len)
        candidates = set.intersection(*sets)
        needle = " " + " ".join(ws) + " "
        return sorted(i for i in candidates if needle in self.docs[i])

    def holds(self, doc: int, phrase: str) -> bool:
        return (" " + " ".join(words(phrase)) + " ") in self.docs[doc]

    def shared_words(self, doc: int, text: str) -> list[str]:
        """The words of ``text`` that the document holds (as written, not stemmed)."""
        return [w for w in dict.fromkeys(words(text)) if doc in self.holding.get(w, ())]


@dataclass
class Outcome:
    concept: Concept
    df: int  # speeches holding the English label
    expansions: int  # concepts the thesaurus recognised in the Spanish label
    also: tuple[str, ...]
    carries_english: bool  # the English label is among ``also`` (or the query itself)
    request: Any = None  # the request as the product expands it
    with_hits: list[int] = field(default_factory=list)
    without_hits: list[int] = field(default_factory=list)
    with_ok: bool = False
    without_ok: bool = False
    with_s: float = 0.0
    without_s: float = 0.0
    expand_s: float = 0.0
    cause: str = ""
    top_shares: tuple[str, ...] = ()  # words of the Spanish label in the top hit (failures)
    note: str = ""


def spread(items: Sequence[T], n: int | None) -> list[T]:
    """``n`` items evenly spaced over ``items``, in order (all of them without ``n``)."""
    if n is None or n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def chance(df: int, n: int, k: int = TOP) -> float:
    """The chance that k documents drawn at random include one of ``df`` holding it."""
    if df <= 0:
        return 0.0
    if n - df < k:
        return 1.0
    return 1.0 - math.comb(n - df, k) / math.comb(n, k)


def index_speeches(index_dir: Path, speeches: Sequence[c.Speech],
                   texts: Sequence[str]) -> float:
    from kb.search import IndexRecord, create, write_records

    start = time.perf_counter()
    create(index_dir, fresh=True)
    write_records(index_dir, [
        IndexRecord(doc_id=i + 1, title=s.path.stem, summary="", doc_type=c.DOC_TYPE,
                    countries=(s.country,), agencies=(), themes=(), language="en",
                    year=s.year, phase=None, access="public", created_ts=0, pages=(text,),
                    workflow="published")
        for i, (s, text) in enumerate(zip(speeches, texts, strict=True))
    ], timeout=60)
    return time.perf_counter() - start


def fmt_ms(values: Sequence[float]) -> str:
    return (f"p50 {c.percentile(values, 50) * 1000:.1f} ms, "
            f"p95 {c.percentile(values, 95) * 1000:.1f} ms, "
            f"max {max(values) * 1000:.1f} ms")


def pct(n: int, d: int) -> str:
    return f"{n}/{d} = {100 * n / d:.1f}%" if d else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", "--limit", dest="docs", type=int, default=None, metavar="N",
                        help="index only N speeches, spread evenly over the corpus "
                             "(default: all 1,555)")
    parser.add_argument("--labels", type=int, default=None, metavar="N",
                        help="test only N candidate labels, spread evenly in file order "
                             "(default: all)")
    parser.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                        help="work in DIR and keep it (default: a fresh temporary folder, "
                             "removed at the end)")
    args = parser.parse_args(argv)
    if args.docs is not None and args.docs < 1:
        raise SystemExit("--docs must be at least 1")
    if args.labels is not None and args.labels < 1:
        raise SystemExit("--labels must be at least 1")
    c.require_corpus()
    if not UNBIS.is_file():
        print(f"skipped: {UNBIS} is absent (the shared corpora live in ../shared/corpora "
              "beside the repository, only on the team's machines); nothing was measured.")
        return 0
    c.clean_environment()

    from kb import create_app, search
    from kb.extensions import db
    from kb.search import STOP_WORDS
    from kb.services import searching, thesaurus

    with c.workdir(args.workdir) as work:
        speeches = c.unpack(work / c.CORPUS_DIR, args.docs)
        texts = [s.text() for s in speeches]
        nbytes = sum(len(t.encode("utf-8")) for t in texts)
        index_dir = work / "index"
        index_s = index_speeches(index_dir, speeches, texts)
        phrases = Phrases(texts)

        concepts = read_concepts(UNBIS)
        multi = [k for k in concepts if len(k.es.split()) >= 2]
        dfs = {k.line: len(phrases.docs_with(k.en)) for k in multi}
        candidates = [k for k in multi if dfs[k.line] > 0]
        tested = spread(candidates, args.labels)
        if not tested:
            c.fail("no candidate label: no English label of a multi-word Spanish one occurs "
                   "in the speeches indexed")

        config = {**c.app_config(work), "INDEX_DIR": str(index_dir),
                  "SECRET_KEY": "crosslang-bench"}
        (work / c.INSTANCE_DIR).mkdir(parents=True, exist_ok=True)
        app = create_app(config)
        visibility = search.Visibility(all_states=True)

        def run(req: search.SearchRequest) -> search.SearchResult:
            return search.search(index_dir, req, visibility, snippets=0)

        try:
            with app.app_context():
                db.create_all()
                start = time.perf_counter()
                report = thesaurus.import_file(UNBIS)
                import_s = time.perf_counter() - start
                thesaurus.expansions("warm-up")  # loads the labels into memory
                for k in tested[:WARMUP]:
                    run(search.SearchRequest(q=k.es, per_page=TOP))
                outcomes = []
                for n, k in enumerate(tested):
                    t0 = time.perf_counter()
                    plain = search.SearchRequest(q=k.es, per_page=TOP)
                    # Exactly what the product does with a plain-word query.
                    expanded, found = searching.expanded(plain)
                    also = expanded.also
                    expand_s = time.perf_counter() - t0
                    english = words(k.en)
                    o = Outcome(k, dfs[k.line], len(found), also,
                                carries_english=any(words(a) == english for a in also)
                                or words(k.es) == english, expand_s=expand_s,
                                request=expanded)

                    def with_expansion(o: Outcome = o,
                                       req: search.SearchRequest = expanded) -> None:
                        t1 = time.perf_counter()
                        res = run(req)
                        o.with_s = time.perf_counter() - t1 + o.expand_s
                        o.with_hits = [h.doc_id - 1 for h in res.hits]

                    def without(o: Outcome = o, req: search.SearchRequest = plain) -> None:
                        t1 = time.perf_counter()
                        res = run(req)
                        o.without_s = time.perf_counter() - t1
                        o.without_hits = [h.doc_id - 1 for h in res.hits]

                    # Alternate the order, so that neither variant always runs on a warm cache.
                    for step in ((with_expansion, without) if n % 2 else (without, with_expansion)):
                        step()
                    o.with_ok = any(phrases.holds(d, k.en) for d in o.with_hits)
                    o.without_ok = any(phrases.holds(d, k.en) for d in o.without_hits)
                    if not o.with_ok:
                        diagnose(o, phrases, run)
                        if o.with_hits:
                            o.top_shares = tuple(phrases.shared_words(o.with_hits[0], k.es))
                    outcomes.append(o)
        finally:
            with app.app_context():
                db.engine.dispose()

    n = len(outcomes)
    ok_with = sum(o.with_ok for o in outcomes)
    ok_without = sum(o.without_ok for o in outcomes)
    no_expansion = sum(o.expansions == 0 for o in outcomes)
    empty_with = sum(not o.with_hits for o in outcomes)
    empty_without = sum(not o.without_hits for o in outcomes)
    carried = sum(o.carries_english for o in outcomes)
    expected_chance = sum(chance(o.df, len(speeches)) for o in outcomes)
    causes = Counter(o.cause for o in outcomes if not o.with_ok)
    scope = "all" if args.labels is None or args.labels >= len(candidates) \
        else f"--labels {args.labels}"

    def bucket(lo: int, hi: int | None) -> str:
        chosen = [o for o in outcomes if o.df >= lo and (hi is None or o.df <= hi)]
        name = f"df {lo}" if hi == lo else (f"df {lo}-{hi}" if hi else f"df {lo}+")
        with_ok = sum(o.with_ok for o in chosen)
        without_ok = sum(o.without_ok for o in chosen)
        return (f"{name}: {len(chosen)} labels, with {pct(with_ok, len(chosen))}, "
                f"without {pct(without_ok, len(chosen))}")

    rows = [
        ("machine", c.machine_line()),
        ("corpus", c.corpus_line(speeches, nbytes, args.docs).replace("--limit", "--docs")),
        ("index", f"{index_s:.1f} s (kb.search.create + write_records, language en)"),
        ("thesaurus", f"{report.summary()} in {import_s:.1f} s"),
        ("phrase rule", "English label's words (letters/digits, case-folded, accents dropped) "
                        "consecutive among the document's words; punctuation ignored"),
        ("candidates", f"{len(multi)} concepts with a Spanish label of 2+ words; "
                       f"{len(candidates)} of them have their English label in >= 1 speech"),
        ("labels tested", f"{n} ({scope}); query = the Spanish label as written, top {TOP}, "
                          "snippets 0, spelling on (product default)"),
        ("with expansion", f"{pct(ok_with, n)} find a speech holding the English label in the "
                           f"top {TOP} (target >= 80%)"),
        ("without expansion", pct(ok_without, n)),
        ("random top 10 would", f"{100 * expected_chance / n:.1f}% (mean chance that "
                                f"{TOP} random speeches include one holding the label)"),
        ("by document freq.", bucket(1, 1)),
        ("", bucket(2, 10)),
        ("", bucket(11, 100)),
        ("", bucket(101, None)),
        ("no expansion", f"{no_expansion} of {n} Spanish labels: thesaurus.expansions "
                         "recognised no concept"),
        ("English label in also", f"{carried} of {n}"),
        ("found nothing", f"{empty_with} with expansion, {empty_without} without"),
        ("latency with", f"{fmt_ms([o.with_s for o in outcomes])} "
                         f"(thesaurus.expansions + search; expansions alone "
                         f"p50 {c.percentile([o.expand_s for o in outcomes], 50) * 1000:.1f} ms)"),
        ("latency without", fmt_ms([o.without_s for o in outcomes])),
        ("failure causes", "; ".join(f"{k}: {v}" for k, v in causes.most_common()) or "none"),
    ]
    failures = [o for o in outcomes if not o.with_ok]
    stop_es = {w.casefold() for w in STOP_WORDS["es"]}
    shared = Counter(w for o in failures for w in o.top_shares)
    by_stop = sum(any(w in stop_es for w in o.top_shares) for o in failures)
    tops = Counter(speeches[o.with_hits[0]].path.stem for o in failures if o.with_hits)
    if failures:
        rows.append(("failures' top hits", (
            f"{by_stop} of {len(failures)} hold a Spanish stop word of the query; query words "
            "they hold: " + ", ".join(f"{w} {n}" for w, n in shared.most_common(8))
            + "; most frequent: " + ", ".join(f"{d} {n}" for d, n in tops.most_common(3)))))
    for i, o in enumerate(spread(failures, EXAMPLES), start=1):
        top = speeches[o.with_hits[0]].path.stem if o.with_hits else "no hit"
        rows.append((f"failure {i}",
                     f"{o.concept.es!r} -> {o.concept.en!r} (in {o.df} speeches); "
                     f"{o.expansions} concept(s), {len(o.also)} labels in also; "
                     f"top hit {top} (holds {', '.join(o.top_shares) or 'none'} of the query's "
                     f"words); {o.cause}{': ' + o.note if o.note else ''}"))
    c.print_block("Cross-language search: Spanish UNBIS labels -> English UNGDC speeches", rows)
    return 0


def diagnose(o: Outcome, phrases: Phrases, run: Runner) -> None:
    """Why a label failed with expansion: one cause, and a note."""
    k = o.concept
    if o.expansions == 0:
        o.cause = "no concept recognised"
        return
    if not o.carries_english:
        o.cause = "concepts recognised lack the English label"
        return
    deep = run(dataclasses.replace(o.request, per_page=DEEP))
    ranks = [r for r, h in enumerate(deep.hits, start=1) if phrases.holds(h.doc_id - 1, k.en)]
    if ranks:
        # A deeper page is ranked with feedback over more hits: its order may differ a little.
        o.cause = f"English phrase in the top {DEEP}, not the top {TOP}"
        o.note = f"first at rank {ranks[0]} of a {DEEP}-hit search ({deep.total} found)"
        return
    alone = run(type(o.request)(q='"' + k.en.replace('"', " ") + '"', per_page=DEEP))
    holding = sum(phrases.holds(h.doc_id - 1, k.en) for h in alone.hits)
    if holding:
        o.cause = f"English phrase below rank {DEEP}"
        o.note = f'"{k.en}" alone finds {alone.total}, {holding} holding it in its top {DEEP}'
    else:
        o.cause = "English phrase not found by the engine"
        o.note = f'"{k.en}" alone finds {alone.total}'


if __name__ == "__main__":
    sys.exit(main())
