"""The real API, sent what its OpenAPI description (kb/openapi.py) allows and more by
schemathesis, anonymously, with an editor's token and (for changes) an admin's, state
changes included, in a throwaway instance with a few real documents: no answer is a
server error, and every answer's status code, content type, headers and body are ones the
description gives.

Derandomised (the same requests each run); API_FUZZ_EXAMPLES=500 for a deeper local run
(default 25 generated examples per operation, besides the description's own examples and
schemathesis's boundary cases)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import strategies as st
from schemathesis.checks import load_all_checks
from schemathesis.specs.openapi import checks as openapi_checks
from werkzeug.datastructures import FileStorage

from kb import openapi
from tests.browser_kit import _database
from tests.conftest import PDF_SAMPLES, make_app, need_corpora, post_multipart

load_all_checks()
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))
# The checks the issue names; schemathesis's others (e.g. that invalid input is refused)
# judge the API's leniency, not whether its answers are the ones it describes.
CHECKS = [
    schemathesis.checks.not_a_server_error,  # type: ignore[attr-defined]
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]
# Real speeches (UN General Debate, 2014) and a PDF, tagged like programme documents.
SPEECHES = {"MDA": "en", "SRB": "en", "TUN": "fr", "ECU": "es", "KGZ": "ru", "MAR": "fr",
            "JAM": "en", "BGD": "en"}
# Documents the instance holds at first (ids 1 to 10) and ids uploads may add.
DOCUMENTS = 14


class Instance:
    """The throwaway instance: the app, its CLI and an editor's token."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.runner = app.test_cli_runner()
        self.client = app.test_client()
        self.editor_token = self.admin_token = ""

    def cli(self, *args: str, stdin: str = "") -> str:
        res = self.runner.invoke(args=list(args), input=stdin)
        assert res.exit_code == 0, res.output
        return str(res.output)

    def account(self, role: str) -> str:
        """A new account of ``role``; returns its API token."""
        email = f"fuzz-{role}@example.org"
        self.cli("user", "add", email, "--role", role, "--password-stdin",
                 stdin="correct horse battery staple\n")
        return self.cli("token", "create", email).strip()

    def upload(self, token: str, data: bytes, filename: str, **meta: Any) -> int:
        form = {**meta, "file": FileStorage(io.BytesIO(data), filename)}
        res = post_multipart(self.client, "/api/v1/documents", form,
                             {"Authorization": f"Bearer {token}"})
        assert res.status_code == 201, res.json
        return int(res.json["id"])

    def post(self, token: str, url: str, **form: str) -> None:
        res = self.client.post(url, data=form, headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 200, res.json


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory, ungdc_dir: Path) -> Iterator[Instance]:
    """Documents 1-10 in every state the workflow has, as real as the corpora make them."""
    root = tmp_path_factory.mktemp("fuzz")
    databases = _database(root)
    app = make_app(root, next(databases))
    site = Instance(app)
    site.cli("init")
    editor = site.account("editor")
    contributor = site.account("contributor")
    for country, lang in SPEECHES.items():
        speech = ungdc_dir / f"{country}_69_2014.txt"
        site.upload(editor, speech.read_bytes(), speech.name, title=f"{country} statement, 2014",
                    countries=[country], agencies=["UNDP"], themes=["migration"],
                    language=lang, year="2014", type="report", phase="phase-2")
    pdf = need_corpora(PDF_SAMPLES) / "021-pdfa" / "crazyones-pdfa.pdf"
    site.upload(contributor, pdf.read_bytes(), pdf.name, title="Submitted by a contributor")
    site.upload(contributor, b"Labour migration and remittances: a returned draft.",
                "draft.txt", title="Returned draft")
    site.post(editor, "/api/v1/documents/10/return", comment="Add a summary.")
    site.post(editor, "/api/v1/documents/8/withdraw")
    site.cli("worker", "--once")
    site.editor_token = editor
    site.admin_token = site.account("admin")
    yield site
    from kb.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    next(databases, None)


@pytest.mark.parametrize(("method", "url"), [
    ("GET", "/api/v1/documents/9223372036854775808"),  # past SQLite's integer: overflowed
    ("GET", "/api/v1/documents/2147483648/similar"),  # past PostgreSQL's integer
    ("GET", "/api/v1/documents/2147483648/cite"),
    ("POST", "/api/v1/documents/2147483648/publish"),
    ("POST", "/api/v1/documents/99999999999999999999/reextract"),
    ("DELETE", "/api/v1/documents/2147483648"),
    ("PATCH", "/api/v1/documents/2147483648"),
    ("POST", "/api/v1/documents/2147483648/submit"),
])
def test_ids_no_document_can_have_are_404_not_500(instance: Instance, method: str,
                                                  url: str) -> None:
    res = instance.client.open(url, method=method,
                               headers={"Authorization": f"Bearer {instance.admin_token}"})
    assert (res.status_code, res.json) == (404, {"error": "No such document."})


def test_a_nul_in_a_review_comment_is_dropped_not_a_500(instance: Instance) -> None:
    token = instance.editor_token
    doc_id = instance.upload(token, b"A note on circular migration.", "note.txt", title="Note")
    res = instance.client.post(f"/api/v1/documents/{doc_id}/return",
                               data={"comment": "Add\x00 a summary."},
                               headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200, res.json
    assert res.json["workflow_comment"] == "Add a summary."


# The description the API serves (tests/test_openapi.py checks that it is this one),
# loaded when the module is collected: each operation is a test of its own. The requests
# go to the fixture's app (``app=`` below).
CONFIG = schemathesis.Config.from_dict({
    "seed": 16,
    "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none",
                   # Credentials are the test's to send (none, or a user's token).
                   "with-security-parameters": False},
    "phases": {"stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_dict(openapi.description(), config=CONFIG)


@schema.hook
def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
    """Half the ids generated are those of the instance's documents, so that requests
    reach the documents themselves (the workflow, similar documents...), not only 404."""
    if "{doc_id}" not in context.operation.path:
        return strategy
    known = {"doc_id": st.integers(1, DOCUMENTS)}
    if "{change_id}" in context.operation.path:  # a change in a document's history
        known["change_id"] = st.integers(1, 4 * DOCUMENTS)
    if "{code}" in context.operation.path:  # a suggested GCM objective or SDG target
        known["code"] = st.sampled_from(("gcm-20", "sdg-10.c", "gcm-1"))
    return st.one_of(strategy, st.fixed_dictionaries(known))


@schema.parametrize()
def test_anonymous_callers_get_only_described_answers(case: Any, instance: Instance) -> None:
    case.call_and_validate(app=instance.app, checks=CHECKS)


@schema.parametrize()
def test_an_editor_gets_only_described_answers(case: Any, instance: Instance) -> None:
    case.call_and_validate(app=instance.app, checks=CHECKS,
                           headers={"Authorization": f"Bearer {instance.editor_token}"})


@schema.include(method=["POST", "PATCH", "DELETE"]).parametrize()
def test_an_admin_changing_documents_gets_only_described_answers(case: Any,
                                                                 instance: Instance) -> None:
    case.call_and_validate(app=instance.app, checks=CHECKS,
                           headers={"Authorization": f"Bearer {instance.admin_token}"})
