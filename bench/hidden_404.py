"""Hidden-document benchmark: does a document the asker may not see answer 404 in the same
time as an id that does not exist?

A fresh instance (no corpus needed) with --docs documents, each with a file, countries,
themes and a group, so that loading one costs what it costs in use. The hidden one is
`internal` for an anonymous visitor, and `restricted` to a group a reader (asking with an
API token) is not in. For each asker and each way in (the document page, the API's GET,
the download, "similar"), --requests requests for the hidden id and as many for a missing
id, interleaved, through the Flask test client in this process (no network, no server:
what is timed is kb's own work, where the difference would be). Also counted: the SQL
statements of one answer of each kind (an SQLAlchemy event), which must be the same.

    .venv/bin/python bench/hidden_404.py [--requests N] [--docs N] [--workdir DIR]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import _common as c

WARM_UP = 20
ENDPOINTS = (("page", "/documents/{}"), ("API", "/api/v1/documents/{}"),
             ("download", "/documents/{}/download"), ("similar", "/api/v1/documents/{}/similar"))


def build(work: Any, docs: int) -> tuple[Any, dict[str, tuple[dict[str, str], int]], int]:
    """The app, the askers (headers, the id hidden from them) and a missing id."""
    from kb import create_app
    from kb.extensions import db
    from kb.models import (
        Document,
        DocumentCountry,
        DocumentGroup,
        DocumentTheme,
        StoredFile,
    )
    from kb.services import accounts, groups

    app = create_app({"INSTANCE_DIR": str(work / c.INSTANCE_DIR),
                      "UPLOAD_DIR": str(work / c.UPLOAD_DIR), "SECRET_KEY": "bench"})
    result = app.test_cli_runner().invoke(args=["init"])
    if result.exit_code != 0:
        c.fail("kb init failed", result.output)
    with app.app_context():
        reader = accounts.create_user("reader@bench.example", "plum orchard lantern 42",
                                      "reader")
        token = accounts.create_token(reader)
        board = groups.create_group("Board", actor=None)
        groups.create_group("Country team", actor=None)
        groups.add_member(groups.groups()[1].group_id, reader.email, actor=None)
        ids = []
        for n in range(docs):
            access = ("internal", "restricted", "public")[n % 3]
            doc = Document(title=f"Remittance corridors, note {n}", summary="x " * 200,
                           access=access, status="ready", workflow="published",
                           country_rows=[DocumentCountry(code="MDA", position=0)],
                           theme_rows=[DocumentTheme(theme="remittances", position=0)],
                           group_rows=[DocumentGroup(group_id=board.group_id)],
                           files=[StoredFile(version=1, filename=f"note-{n}.pdf", size=1000,
                                             sha256=f"{n:064x}",
                                             content_type="application/pdf", pages=3)])
            db.session.add(doc)
            db.session.flush()
            ids.append((doc.doc_id, access))
        db.session.commit()
    internal = next(i for i, a in ids if a == "internal")
    restricted = next(i for i, a in ids if a == "restricted")
    askers = {"anonymous": ({}, internal),
              "reader (token)": ({"Authorization": f"Bearer {token}"}, restricted)}
    return app, askers, max(i for i, _ in ids) + 1000


def statements(app: Any, call: Callable[..., Any]) -> list[str]:
    from sqlalchemy import event

    from kb.extensions import db

    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def main() -> None:
    parser = c.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, metavar="N",
                        help="requests of each kind, asker and way in (default: 300)")
    parser.add_argument("--docs", type=int, default=500, metavar="N",
                        help="documents in the instance (default: 500)")
    args = parser.parse_args()
    c.clean_environment()
    with c.workdir(args.workdir) as work:
        app, askers, missing = build(work, max(args.docs, 3))
        client = app.test_client()
        rows = [("machine", c.machine_line()), ("code", c.code_line()),
                ("instance", f"{max(args.docs, 3)} documents; the hidden one is internal for "
                             "the anonymous visitor, restricted to another group for the "
                             "reader"),
                ("requests", f"{args.requests} hidden + {args.requests} missing, interleaved, "
                             f"per asker and way in, after {WARM_UP} warm-up; Flask test "
                             "client in-process")]
        for who, (headers, hidden) in askers.items():
            for name, url in ENDPOINTS:
                def get(doc_id: int, url: str = url, headers: dict[str, str] = headers) -> int:
                    res = client.get(url.format(doc_id), headers=headers)
                    res.close()
                    return res.status_code

                for _ in range(WARM_UP):
                    get(hidden), get(missing)
                times: dict[int, list[float]] = {hidden: [], missing: []}
                statuses = set()
                for n in range(2 * args.requests):
                    doc_id = (hidden, missing)[n % 2]
                    start = time.perf_counter()
                    statuses.add(get(doc_id))
                    times[doc_id].append((time.perf_counter() - start) * 1000)
                if statuses != {404}:
                    c.fail(f"{who} {name}: answers {sorted(statuses)}, not only 404")
                same = (statements(app, lambda h=hidden: get(h))
                        == statements(app, lambda: get(missing)))
                ratio_50 = c.percentile(times[hidden], 50) / c.percentile(times[missing], 50)
                ratio_95 = c.percentile(times[hidden], 95) / c.percentile(times[missing], 95)
                rows += [(f"{who}, {name}: missing id", c.latency_line(times[missing])),
                         (f"{who}, {name}: hidden", c.latency_line(times[hidden])),
                         (f"{who}, {name}: hidden/missing",
                          f"p50 {ratio_50:.2f}x, p95 {ratio_95:.2f}x; same SQL statements: "
                          f"{'yes' if same else 'NO'}")]
        c.print_block("kb: a hidden document's 404 against a missing id's", rows)


if __name__ == "__main__":
    main()
