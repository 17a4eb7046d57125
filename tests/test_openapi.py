"""The API's OpenAPI description: valid OpenAPI 3.1, covering every route under /api/ and
/healthz, its bounds taken from the code, its examples true to its schemas; and /api/docs,
the page people read it on (tests/test_api_fuzz.py checks the API against it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from kb import openapi
from kb import search as bounds
from tests.browser_kit import Site, check_page, open_as, site_fixture

METHODS = ("get", "post", "put", "patch", "delete")
ROOT = Path(__file__).resolve().parent.parent


def served(client: Any) -> dict[str, Any]:
    res = client.get("/api/v1/openapi.json")
    assert res.status_code == 200
    assert res.mimetype == "application/json"
    return dict(res.json)


def test_the_description_is_valid_openapi_3_1(client):
    doc = served(client)
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises, naming the part that is wrong


def test_the_served_description_is_the_one_the_fuzz_run_reads(client):
    assert served(client) == openapi.description()


def described_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items()
            for method in item if method in METHODS}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every method and path of the app under /api/ and /healthz, in OpenAPI's spelling:
    <int:doc_id> as {doc_id}, and an any(a, b) part as one path per choice."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/healthz"):
            continue
        choice = re.search(r"<any\(([^)]*)\):\w+>", rule.rule)
        paths = ([rule.rule.replace(choice.group(0), c.strip())
                  for c in choice.group(1).split(",")] if choice else [rule.rule])
        for path in paths:
            path = re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", path)
            for method in rule.methods or ():
                if method not in ("HEAD", "OPTIONS"):
                    found.add((method, path))
    return found


def test_every_route_under_api_is_described_and_nothing_else(app, client):
    routes = app_routes(app)
    doc = served(client)
    assert ("POST", "/api/v1/documents/{doc_id}/return") in routes  # the walk expands any()
    assert routes - described_routes(doc) == set(), "routes the description lacks"
    assert described_routes(doc) - routes == set(), "described but not routed"


def test_metrics_are_left_out_of_the_public_description(client):
    # GET /metrics answers 404 to everyone but admins and the scrapers' token, so that
    # scanners do not learn it exists: a public description must not name it.
    assert "/metrics" not in served(client)["paths"]


def parameter(doc: dict[str, Any], path: str, name: str, method: str = "get") -> dict[str, Any]:
    params = doc["paths"][path][method]["parameters"]
    return next(p for p in params if p["name"] == name)


def test_bounds_are_read_from_the_code_not_copied(monkeypatch):
    monkeypatch.setattr(bounds, "MAX_PER_PAGE", 7)
    monkeypatch.setattr(bounds, "MAX_QUERY_CHARS", 123)
    monkeypatch.setattr(bounds, "MAX_YEAR", 3000)
    doc = openapi.description()
    assert parameter(doc, "/api/v1/search", "per_page")["schema"]["maximum"] == 7
    assert parameter(doc, "/api/v1/search", "q")["schema"]["maxLength"] == 123
    assert parameter(doc, "/api/v1/search", "year_to")["schema"]["maximum"] == 3000
    assert "123 characters" in parameter(doc, "/api/v1/search", "q")["description"]


def test_search_parameters_and_answer_cover_every_filter_and_facet():
    from kb import search
    from kb.services import searching

    doc = openapi.description()
    names = {p["name"] for p in doc["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert set(searching.FILTER_PARAMS) <= names
    assert {"q", "sort", "page", "per_page", "year_from", "year_to", "expand"} <= names
    sorts = parameter(doc, "/api/v1/search", "sort")["schema"]["enum"]
    assert sorts == list(search.SORTS)
    facets = doc["components"]["schemas"]["SearchResult"]["properties"]["facets"]
    assert set(facets["properties"]) == set(search.FACET_FIELDS)


def test_uploads_are_described_as_multipart_and_as_a_raw_body():
    from kb.services import metadata

    op = openapi.description()["paths"]["/api/v1/documents"]["post"]
    content = op["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/octet-stream"}
    form = content["multipart/form-data"]["schema"]
    assert set(metadata.FIELDS) | {"file", "csrf_token"} == set(form["properties"])
    assert form["properties"]["title"]["maxLength"] == metadata.MAX_TITLE_CHARS
    assert {p["name"] for p in op["parameters"]} == {"filename", *metadata.FIELDS}
    assert set(op["responses"]) >= {"201", "400", "401", "403", "409", "413", "415", "429",
                                    "507"}


def test_security_schemes_are_a_bearer_token_or_a_session_with_its_csrf_header():
    doc = openapi.description()
    schemes = doc["components"]["securitySchemes"]
    assert schemes[openapi.BEARER] == {**schemes[openapi.BEARER], "type": "http",
                                       "scheme": "bearer"}
    assert (schemes[openapi.SESSION]["in"], schemes[openapi.SESSION]["name"]) == (
        "cookie", "session")
    assert (schemes[openapi.CSRF]["in"], schemes[openapi.CSRF]["name"]) == (
        "header", "X-CSRFToken")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("post", "put", "patch", "delete"):
                assert op["security"] == openapi.WRITE, (method, path)
            else:
                assert op["security"] in (openapi.READ, openapi.OPEN), (method, path)


def test_every_error_answer_is_json_with_its_error_field():
    doc = openapi.description()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            codes = {int(code) for code in op["responses"]}
            assert {401, 429} <= codes, (method, path)
            for code, answer in op["responses"].items():
                if int(code) < 400 or path == "/healthz":
                    continue
                assert answer == {"$ref": answer["$ref"]}, (method, path, code)
    errors = doc["components"]["responses"]
    for name, answer in errors.items():
        schema = answer["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, name
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]


def examples(doc: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(where, schema, example) for each example of the description."""
    for name, schema in doc["components"]["schemas"].items():
        for example in schema.get("examples", ()):
            yield f"schemas/{name}", schema, example
    for name, answer in doc["components"]["responses"].items():
        for media in answer.get("content", {}).values():
            if "example" in media:
                yield f"responses/{name}", media["schema"], media["example"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", ()):
                if "example" in param:
                    yield f"{method} {path} {param['name']}", param["schema"], param["example"]
            for code, answer in op["responses"].items():
                for media in answer.get("content", {}).values():
                    if "example" in media:
                        yield f"{method} {path} {code}", media["schema"], media["example"]


def test_every_example_fits_its_schema():
    doc = openapi.description()
    found = list(examples(doc))
    assert len(found) > 30
    wrong = []
    for where, schema, example in found:
        # The components beside the schema, so that its #/components/... references resolve.
        rooted = {"allOf": [schema], "components": doc["components"]}
        validator = Draft202012Validator(rooted,
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        wrong += [f"{where}: {e.message}" for e in validator.iter_errors(example)]
    assert not wrong


# In a process of its own: Flask-Limiter keeps default limits on its one limiter object,
# so every later app of this process would inherit them.
RATE_LIMITED = """
import json, sys
from pathlib import Path
from tests.conftest import make_app
app = make_app(Path(sys.argv[1]), None, RATELIMIT_DEFAULT="2 per minute")
assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
client = app.test_client()
answers = [client.get("/api/v1/taxonomy") for _ in range(3)]
print(json.dumps([[a.status_code, a.mimetype, a.headers.get("Retry-After"),
                   a.get_json() if a.status_code == 429 else None] for a in answers]))
"""


def test_a_rate_limited_answer_is_the_described_429(tmp_path):
    done = subprocess.run([sys.executable, "-c", RATE_LIMITED, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={k: v for k, v in os.environ.items() if not k.startswith("KB_")})
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [a[0] for a in answers] == [200, 200, 429]
    _, mimetype, retry_after, body = answers[2]
    doc = openapi.description()
    described = doc["components"]["responses"]["TooManyRequests"]
    assert mimetype in described["content"]
    schema = {"allOf": [described["content"][mimetype]["schema"]],
              "components": doc["components"]}
    Draft202012Validator(schema).validate(body)
    Draft202012Validator(described["headers"]["Retry-After"]["schema"]).validate(
        int(retry_after))


def test_the_docs_page_shows_every_operation_parameter_and_answer(client):
    res = client.get("/api/docs")
    assert res.status_code == 200
    assert res.mimetype == "text/html"
    html = res.get_data(as_text=True)
    assert html.count("<h1") == 1
    doc = openapi.description()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert f'id="{op["operationId"]}"' in html, (method, path)
            for param in op.get("parameters", ()):
                assert f"<code>{param['name']}</code>" in html
    assert f"1-{bounds.MAX_PER_PAGE}, default 20" in html  # per_page, with its bounds
    assert "&#34;did_you_mean&#34;" in html or "&quot;did_you_mean&quot;" in html  # an example
    assert 'href="/api/v1/openapi.json"' in html
    # The site's CSP allows neither inline scripts nor inline styles (files of our own it does).
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "style=" not in html


def test_the_footer_links_the_docs_page(client):
    assert 'href="/api/docs"' in client.get("/login").get_data(as_text=True)


site = site_fixture(seed=False)


@pytest.mark.browser
@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_docs_page_in_a_browser(site: Site, browser: Any, width: str) -> None:
    page = open_as(browser, site, None, width)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/api/docs")
    page.get_by_role("link", name="POST /api/v1/documents", exact=True).click()
    upload = page.locator("section.api-op", has=page.locator("#uploadDocument"))
    upload.get_by_text("Example").first.click()
    check_page(page, f"api-docs-{width}")
    assert not errors, errors  # a CSP refusal shows here
    page.context.close()
