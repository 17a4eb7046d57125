"""OAI-PMH harvest benchmark: a real harvester (Sickle) harvests every record over HTTP.

The UN General Debate speeches (1,555, or --limit N of them), imported with `kb import`
as bench/ingest.py does (public and published), or reused from a previous run's
--workdir, served by `kb serve` (a real subprocess on loopback with its default settings:
KB_OAI_PAGE_SIZE 100 records an answer). Timed, --repeat times each, one harvest at a
time: a full ListRecords in oai_dc and in mods, a full ListIdentifiers, a selective
ListRecords of one country's set (the country with the most speeches), and GET
/sitemap.xml. Each line gives the records, the answers (pages) and the median time. The
baseline: the same documents listed through the JSON API, GET /api/v1/search with an
empty query, 100 a page (facets and all), page after page.

    .venv/bin/python bench/oai_harvest.py [--limit N] [--repeat N] [--workdir DIR]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable

import _common as c

REPEAT = 3


def timed(harvest: Callable[[], tuple[int, int]], repeat: int) -> tuple[int, int, float]:
    """(records, answers, median seconds) of ``repeat`` runs of one harvest."""
    seconds = []
    found = (0, 0)
    for _ in range(repeat):
        start = time.perf_counter()
        found = harvest()
        seconds.append(time.perf_counter() - start)
    return found[0], found[1], statistics.median(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = c.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, metavar="N",
                        help=f"runs of each harvest measured (default {REPEAT})")
    args = parser.parse_args(argv)
    c.require_corpus()
    c.clean_environment()
    try:
        from sickle import Sickle
        from sickle.iterator import OAIResponseIterator
    except ImportError:
        print("skipped: the harvester library is missing (pip install -e '.[test]')")
        return 0

    with c.workdir(args.workdir) as work:
        speeches, origin = c.prepare_instance(work, args.limit)
        country, in_country = Counter(s.country for s in speeches).most_common(1)[0]
        with c.serving(work) as server:
            base = f"http://{server.host}:{server.port}"

            def harvest(verb: str, **params: str) -> Callable[[], tuple[int, int]]:
                def run() -> tuple[int, int]:
                    pages = list(getattr(Sickle(base + "/oai", timeout=60,
                                                iterator=OAIResponseIterator), verb)(**params))
                    element = "record" if verb == "ListRecords" else "header"
                    records = sum(len(p.xml.findall(f".//{{*}}{element}")) for p in pages)
                    return records, len(pages)
                return run

            def sitemap() -> tuple[int, int]:
                status, body = server.client().get("/sitemap.xml")
                assert status == 200
                return body.count(b"<url>"), 1

            def api_listing() -> tuple[int, int]:
                http, found, pages = server.client(), 0, 0
                while True:
                    pages += 1
                    status, body = http.get("/api/v1/search",
                                            {"q": "", "per_page": 100, "page": pages})
                    assert status == 200, body[:200]
                    answer = json.loads(body)
                    found += len(answer["results"])
                    if found >= answer["total"] or not answer["results"]:
                        return found, pages

            runs = [
                ("ListRecords oai_dc", harvest("ListRecords", metadataPrefix="oai_dc"),
                 len(speeches)),
                ("ListRecords mods", harvest("ListRecords", metadataPrefix="mods"),
                 len(speeches)),
                ("ListIdentifiers", harvest("ListIdentifiers", metadataPrefix="oai_dc"),
                 len(speeches)),
                (f"ListRecords oai_dc, set country:{country}",
                 harvest("ListRecords", metadataPrefix="oai_dc", set=f"country:{country}"),
                 in_country),
                ("GET /sitemap.xml", sitemap, len(speeches)),
                ("baseline: /api/v1/search pages", api_listing, len(speeches)),
            ]
            rows = [
                ("machine", c.machine_line()),
                ("code", c.code_line()),
                ("corpus", c.corpus_line(speeches, c.text_bytes(speeches), args.limit)),
                ("collection", f"{len(speeches)} documents, instance {origin}"),
                ("server", server.describe()),
            ]
            for name, run, expected in runs:
                records, pages, seconds = timed(run, args.repeat)
                if records != expected:
                    c.fail(f"{name}: {records} records, expected {expected}")
                answers = f"{pages} answer{'s' if pages != 1 else ''}"
                rows.append((name, f"{records} records in {answers}: {seconds:.2f} s "
                                   f"(median of {args.repeat}), "
                                   f"{1000 * seconds / pages:.0f} ms an answer"))
        c.print_block("OAI-PMH harvest over HTTP (Sickle 0.7, one harvest at a time)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
