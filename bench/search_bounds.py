"""Search bounds benchmark: the worst query of each bound against ordinary queries, over HTTP.

The UN General Debate speeches (1,555, or --limit N of them) imported with `kb import` as
bench/ingest.py does (or reused from a previous run's --workdir), served by `kb serve` (a
real subprocess on loopback, its default settings, SEARCH_TIME_LIMIT included). Measured
through GET /api/v1/search with facets and the top 10 with snippets, one request at a time
on one keep-alive connection, each query once as warm-up then --repeat times:
  - ordinary: 20 searches of 1-3 words drawn (fixed seed) from the corpus vocabulary, as
    bench/search.py draws them;
  - the worst query the bounds of kb/search/limits.py let through, one per bound (a fuzzy
    word asking for 9 edits, capped to 2; as many plain words as are searched; a query as
    long as allowed; as many clauses and as deep parentheses as allowed; the prefix and the
    wildcard of the corpus standing for the most words still allowed, found by probing;
    a fuzzy word as long as allowed, as many fuzzy words as allowed; the deepest page; the
    widest year range; a sort by date over most documents; misspelt words for "did you
    mean");
  - the queries just past each refused bound (answered 400 without searching), and ten
    of the widest prefixes ORed (refused where they stand for too many words).
Each line gives the HTTP status ("capped" when the answer reports a bound applied), the
latency, and the ratio of its p50 to the ordinary queries' p50.

    .venv/bin/python bench/search_bounds.py [--limit N] [--repeat N] [--workdir DIR]
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import _common as c

SEED = 20240601
REPEAT = 20
ORDINARY = 20
WORD = re.compile(r"[^\W\d_]{4,}")
SKIP_MOST_FREQUENT = 100
PER_PAGE = 10


def vocabulary(speeches: Sequence[c.Speech]) -> Counter[str]:
    """Words of 4+ letters and their corpus frequency, the most frequent left out."""
    counts: Counter[str] = Counter()
    for s in speeches:
        counts.update(WORD.findall(s.text().lower()))
    for word, _ in counts.most_common(SKIP_MOST_FREQUENT):
        del counts[word]
    return counts


def ordinary_queries(vocab: Counter[str], n: int) -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    words, weights = list(vocab), list(vocab.values())
    out = []
    for _ in range(n):
        size = rng.randint(1, 3)
        chosen: list[str] = []
        while len(chosen) < size:
            w = rng.choices(words, weights)[0]
            if w not in chosen:
                chosen.append(w)
        out.append({"q": " ".join(chosen)})
    return out


def misspelt(word: str) -> str:
    """A word with a "q" in its middle: one edit away, and no word of the speeches."""
    return word[:len(word) // 2] + "q" + word[len(word) // 2:]


def status_of(http: c.Http, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, body = http.get("/api/v1/search", {"per_page": PER_PAGE, **params})
    return status, json.loads(body)


def widest(http: c.Http, candidates: Sequence[str]) -> str:
    """The first candidate pattern the server accepts (they come widest first)."""
    for q in candidates:
        if status_of(http, {"q": q})[0] == 200:
            return q
    return candidates[-1]


def worst_queries(http: c.Http, vocab: Counter[str], bounds: Any,
                  speeches: Sequence[c.Speech]) -> list[tuple[str, dict[str, Any]]]:
    """(label, parameters) of the worst query each bound lets through, then of the first
    query past each refused bound."""
    words = [w for w, _ in vocab.most_common()]
    common = words[0]
    # Prefixes and wildcard heads of the corpus by how many of its words they stand for.
    heads: Counter[str] = Counter(w[:bounds.MIN_PATTERN_CHARS + 1] for w in vocab)
    prefixes = [h + "*" for h, _ in heads.most_common(40)]
    wildcards = [h[:bounds.MIN_PATTERN_CHARS] + "*" + h[-1] + "*" for h, _ in
                 heads.most_common(40)]
    long_word = max((w for w in words if len(w) <= bounds.MAX_PATTERN_CHARS), key=len)
    fuzzy = [f"{w}~2" for w in words[:bounds.MAX_FUZZY_WORDS + 1]]
    plain = " ".join(words[:bounds.MAX_WORDS + 50])
    years = sorted({s.year for s in speeches})
    depth = bounds.MAX_DEPTH
    out = [
        ("fuzzy word~9 (capped to 2)", {"q": f"{words[50]}~9"}),
        (f"plain words: {bounds.MAX_WORDS + 50} (capped)", {"q": plain}),
        (f"query of {bounds.MAX_QUERY_CHARS} characters",
         {"q": ((plain + " ") * (bounds.MAX_QUERY_CHARS // len(plain) + 1))[
             :bounds.MAX_QUERY_CHARS].strip()}),
        (f"{bounds.MAX_CLAUSES} clauses ORed", {"q": " OR ".join(words[:bounds.MAX_CLAUSES])}),
        (f"parentheses {depth} deep",
         {"q": f"{common} AND " + "(" * depth + " OR ".join(words[1:5]) + ")" * depth}),
        ("widest prefix allowed", {"q": widest(http, prefixes)}),
        ("widest wildcard allowed", {"q": widest(http, wildcards)}),
        (f"fuzzy word of {len(long_word)} letters ~2", {"q": f"{long_word}~2"}),
        (f"{bounds.MAX_FUZZY_WORDS} fuzzy words ~2",
         {"q": " OR ".join(fuzzy[:bounds.MAX_FUZZY_WORDS])}),
        (f"deepest page ({bounds.MAX_RESULTS} results)",
         {"q": common, "per_page": bounds.MAX_PER_PAGE,
          "page": bounds.MAX_RESULTS // bounds.MAX_PER_PAGE}),
        ("widest year range", {"q": f"{common} year:[{bounds.MIN_YEAR} TO {bounds.MAX_YEAR}]",
                               "year_from": bounds.MIN_YEAR, "year_to": bounds.MAX_YEAR}),
        ("sorted by date, most documents", {"q": f"{common} OR {words[1]}", "sort": "newest"}),
        (f"did you mean: {bounds.MAX_CORRECTED_WORDS} misspelt words",
         {"q": " ".join(misspelt(w) for w in words[200:200 + bounds.MAX_CORRECTED_WORDS])}),
        (f"did you mean: {bounds.MAX_WORDS} misspelt words",
         {"q": " ".join(misspelt(w) for w in words[200:200 + bounds.MAX_WORDS])}),
        (f"all years, {years[0]}-{years[-1]}, browsing", {"q": "", "per_page": 100}),
        ("refused: query too long", {"q": "a" * (bounds.MAX_QUERY_CHARS + 1)}),
        ("refused: too many clauses",
         {"q": " OR ".join(words[:bounds.MAX_CLAUSES + 1])}),
        ("refused: too deep", {"q": f"{common} AND " + "(" * (depth + 1) + words[1]
                               + ")" * (depth + 1)}),
        ("refused: leading wildcard", {"q": f"{common} AND *{words[0][-3:]}"}),
        ("refused: too many fuzzy words", {"q": " OR ".join(fuzzy)}),
        ("refused: one-letter prefix", {"q": f"{common[0]}*"}),
        ("10 widest prefixes ORed", {"q": " OR ".join(prefixes[:10])}),
        ("refused: page too deep", {"q": common, "page": bounds.MAX_RESULTS}),
        ("refused: huge year", {"q": common, "year_to": "9" * 20}),
    ]
    return out


def measure(http: c.Http, params: dict[str, Any], repeat: int) -> tuple[list[float], str]:
    """Latencies (ms) of ``repeat`` runs after one warm-up, and the answer's status."""
    status, answer = status_of(http, params)
    ms = []
    for _ in range(repeat):
        start = time.perf_counter()
        status, answer = status_of(http, params)
        ms.append((time.perf_counter() - start) * 1000)
    shown = str(status)
    if status == 200 and answer.get("did_you_mean"):
        shown += f" ({answer['total']} found, did you mean offered)"
    elif status == 200 and answer.get("capped"):
        shown += " capped " + ",".join(f"{c_['bound']} {c_['asked']}->{c_['applied']}"
                                       for c_ in answer["capped"])
    elif status == 200:
        shown += f" ({answer['total']} found)"
    else:
        shown += " " + answer.get("error", "")[:60]
    return ms, shown


def main(argv: list[str] | None = None) -> int:
    parser = c.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, metavar="N",
                        help=f"runs of each query measured (default {REPEAT})")
    c.add_server_options(parser)
    args = parser.parse_args(argv)
    c.require_corpus()
    c.clean_environment()
    from kb.config import DEFAULTS
    from kb.search import limits as bounds

    with c.workdir(args.workdir) as work:
        speeches, origin = c.prepare_instance(work, args.limit)
        vocab = vocabulary(speeches)
        with c.serving(work, **c.server_settings(args)) as server:
            http = server.client()
            ordinary: list[float] = []
            for params in ordinary_queries(vocab, ORDINARY):
                ordinary += measure(http, params, max(1, args.repeat // 4))[0]
            base = c.percentile(ordinary, 50)
            rows = [
                ("machine", c.machine_line()),
                ("code", c.code_line()),
                ("corpus", c.corpus_line(speeches, c.text_bytes(speeches), args.limit)),
                ("collection", f"{len(speeches)} documents, instance {origin}"),
                ("server", server.describe() + f"; SEARCH_TIME_LIMIT "
                           f"{DEFAULTS['SEARCH_TIME_LIMIT']} s"),
                ("ordinary", c.latency_line(ordinary) + f" ({ORDINARY} queries of 1-3 words)"),
            ]
            slowest = max(ordinary)
            for label, params in worst_queries(http, vocab, bounds, speeches):
                ms, shown = measure(http, params, args.repeat)
                slowest = max(slowest, max(ms))
                rows.append((label, f"{c.latency_line(ms)}, p50 {c.percentile(ms, 50) / base:.1f}x "
                                    f"ordinary; {shown}"))
            http.close()
        limit_ms = float(DEFAULTS["SEARCH_TIME_LIMIT"]) * 1000  # type: ignore[arg-type]
        rows.append(("target", c.verdict(slowest < limit_ms + 500,
                                         f"every query answered within the search time "
                                         f"limit (+0.5 s): slowest {slowest:.0f} ms")))
        c.print_block("kb bench/search_bounds.py: the worst query of each bound vs ordinary "
                      "queries, GET /api/v1/search on `kb serve`", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
