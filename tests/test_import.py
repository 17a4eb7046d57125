"""Bulk import with `kb import`, with and without a manifest."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from kb.taxonomy import PROGRAMME_COUNTRIES

# The European Union speaks in the General Debate as "EU": no ISO country, but users tag
# and filter by it like one, so kb accepts it as a region and counts it under its own name.
SUBSET = (*PROGRAMME_COUNTRIES, "EU")


@pytest.fixture
def speeches(ungdc_dir: Path, tmp_path: Path) -> Path:
    """The speeches of the programme countries and of the EU, with a manifest."""
    folder = tmp_path / "speeches"
    folder.mkdir()
    rows = []
    for path in sorted(ungdc_dir.glob("*.txt")):
        country, _session, year = path.stem.split("_")
        if country in SUBSET:
            shutil.copy(path, folder / path.name)
            rows.append({"file": path.name, "title": f"General Debate {year}: {country}",
                         "countries": country, "year": year, "type": "report"})
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "title", "countries", "year", "type"])
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_import_counts_countries_and_the_eu_right(runner, client, speeches):
    expected: dict[str, int] = {}
    for path in speeches.glob("*.txt"):
        code = path.stem.split("_")[0]
        expected[code] = expected.get(code, 0) + 1
    assert expected["EU"] == 8

    res = runner.invoke(args=["import", str(speeches), "--manifest",
                              str(speeches / "manifest.csv"), "--workers", "2"])
    assert res.exit_code == 0, res.output
    total = sum(expected.values())
    assert res.output.strip().splitlines()[-1] == (
        f"imported {total}, skipped 0 as duplicates, failed 0")

    found = client.get("/api/v1/search", query_string={"per_page": 1}).json
    assert found["total"] == total
    countries = {f["value"]: (f["count"], f["label"]) for f in found["facets"]["country"]}
    assert countries["EU"] == (8, "European Union")
    assert countries["MDA"] == (expected["MDA"], "Moldova")
    assert {code: n for code, (n, _label) in countries.items()} == expected
    years = {f["value"]: f["count"] for f in found["facets"]["year"]}
    assert sum(years.values()) == total and set(years) <= {str(y) for y in range(2011, 2019)}
    assert {f["value"] for f in found["facets"]["type"]} == {"report"}

    eu = client.get("/api/v1/search", query_string={"country": "EU", "q": "Europe"}).json
    assert 0 < eu["total"] <= 8
    assert all(r["countries"] == ["EU"] for r in eu["results"])
    assert all(r["snippets"] for r in eu["results"])

    again = runner.invoke(args=["import", str(speeches), "--manifest",
                                str(speeches / "manifest.csv")])
    assert again.output.strip().splitlines()[-1] == (
        f"imported 0, skipped {total} as duplicates, failed 0")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A folder to import (not tmp_path itself: that holds kb's instance folder)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


def write_manifest(folder: Path, header: str, *rows: str) -> Path:
    path = folder / "manifest.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_unknown_column_is_named_and_nothing_is_imported(runner, client, docs):
    (docs / "a.txt").write_text("alpha text")
    manifest = write_manifest(docs, "file,title,colour", "a.txt,A,blue")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.exit_code == 1
    assert "'colour'" in res.output
    assert client.get("/api/v1/search").json["total"] == 0


def test_unknown_values_are_named_with_their_line_before_anything_is_imported(
        runner, client, docs):
    for name in ("a.txt", "b.txt", "c.txt"):
        (docs / name).write_text(f"text of {name}")
    manifest = write_manifest(docs, "file,title,countries,agencies,year",
                              "a.txt,A,MDA;SRB,IOM,2014",
                              "b.txt,B,ATLANTIS,IOM,2014",
                              "c.txt,C,MDA,ACME,twenty")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.exit_code == 1
    assert "line 3, column 'countries'" in res.output and "ATLANTIS" in res.output
    assert "line 4, column 'agencies'" in res.output and "ACME" in res.output
    assert "line 4, column 'year'" in res.output
    assert client.get("/api/v1/search").json["total"] == 0


def test_manifest_imports_only_what_it_lists_and_reports_the_rest(runner, client, docs):
    (docs / "listed.txt").write_text("listed migration report")
    (docs / "extra.txt").write_text("not listed")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 broken beyond repair")
    (docs / "binary.bin").write_bytes(bytes(range(256)) * 10)
    manifest = write_manifest(docs, "file,title,themes,access",
                              "listed.txt,Listed,Remittances; Diaspora ,public",
                              "broken.pdf,Broken,,internal",
                              "binary.bin,Binary,,",
                              "missing.txt,Missing,,")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.exit_code == 1, res.output  # some files failed
    lines = res.output.strip().splitlines()
    assert lines[-1] == "imported 1, skipped 0 as duplicates, failed 3"
    assert "not in the manifest, not imported: extra.txt" in lines
    assert any(line.startswith("failed: missing.txt") for line in lines)
    assert any(line.startswith("failed: binary.bin") and "cannot be read" in line
               for line in lines)
    assert any(line.startswith("failed: broken.pdf") and "stored" in line for line in lines)
    listed = client.get("/api/v1/search", query_string={"q": "migration"}).json
    assert [r["themes"] for r in listed["results"]] == [["remittances", "diaspora"]]


def test_import_without_manifest_takes_every_file(runner, client, tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("first paper")
    (folder / "sub" / "two.txt").write_text("second paper")
    (folder / ".hidden.txt").write_text("hidden paper")
    res = runner.invoke(args=["import", str(folder), "--workers", "1"])
    assert res.output.strip().splitlines()[-1] == "imported 2, skipped 0 as duplicates, failed 0"
    titles = {r["title"] for r in client.get("/api/v1/search?q=paper").json["results"]}
    assert titles == {"one", "two"}


def test_import_fills_empty_fields_from_the_files_own_metadata(runner, client, docs):
    from tests.test_formats import docx_bytes

    (docs / "review.docx").write_bytes(
        docx_bytes("Findings on circular migration", title="Annual migration review 2016"))
    (docs / "named.docx").write_bytes(
        docx_bytes("Findings on seasonal work", title="What the file says"))
    manifest = write_manifest(docs, "file,title,year",
                              "review.docx,,", "named.docx,What the manifest says,2012")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.output.strip().splitlines()[-1] == "imported 2, skipped 0 as duplicates, failed 0"
    titles = {r["title"]: r["year"] for r in client.get("/api/v1/search").json["results"]}
    assert "Annual migration review 2016" in titles  # the manifest left it empty
    assert titles["What the manifest says"] == 2012  # the user's values always win
