"""Every real PDF of the shared samples ends ready or in the named state that fits it."""

from __future__ import annotations

from tests.conftest import PDF_SAMPLES, need_corpora

# file -> (status, error_code, a word pypdf reads in it, or None). Kept by hand: a change
# in any outcome is a change users notice. OCR is off here so that outcomes do not depend
# on what is installed (tests/test_ocr.py covers OCR).
EXPECTED = {
    "001-trivial/minimal-document.pdf": ("ready", None, "consetetur"),
    "002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf":
        ("ready", None, "sadipscing"),
    "003-pdflatex-image/pdflatex-image.pdf": ("ready", None, "chapter"),
    "004-pdflatex-4-pages/pdflatex-4-pages.pdf": ("ready", None, "Huardest"),
    "005-libreoffice-writer-password/libreoffice-writer-password.pdf":
        ("failed", "encrypted", None),
    "006-pdflatex-outline/pdflatex-outline.pdf": ("ready", None, "alphabet"),
    "007-imagemagick-images/imagemagick-ASCII85Decode.pdf": ("ready", "no-text-layer", None),
    "007-imagemagick-images/imagemagick-CCITTFaxDecode.pdf": ("ready", "no-text-layer", None),
    "007-imagemagick-images/imagemagick-images.pdf": ("ready", None, "Background"),
    "007-imagemagick-images/imagemagick-lzw.pdf": ("ready", "no-text-layer", None),
    "008-reportlab-inline-image/inline-image.pdf": ("ready", None, "Test"),
    "009-pdflatex-geotopo/GeoTopo-komprimiert.pdf": ("ready", None, "Kurvensatz"),
    "010-pdflatex-forms/pdflatex-forms.pdf": ("ready", None, "Submit"),
    "011-google-doc-document/google-doc-document.pdf": ("ready", None, "Beautiful"),
    "012-libreoffice-form/libreoffice-form.pdf": ("ready", None, "Nationality"),
    "013-reportlab-overlay/reportlab-overlay.pdf": ("ready", None, "Fingerprint"),
    "014-outlines/mistitled_outlines_example.pdf": ("ready", None, "alphabet"),
    "015-arabic/habibi-oneline-cmap.pdf": ("ready", None, "habibi"),
    "015-arabic/habibi-rotated.pdf": ("ready", None, "habibi"),
    "015-arabic/habibi.pdf": ("ready", None, "حَبيبي"),
    "016-libre-office-link/libre-office-link.pdf": ("ready", None, "awesome"),
    "017-unreadable-meta-data/unreadablemetadata.pdf": ("failed", "corrupt", None),
    "018-base64-image/base64image.pdf": ("ready", None, "Annotator"),
    "019-grayscale-image/grayscale-image.pdf": ("ready", "no-text-layer", None),
    "020-xmp/output_with_metadata_pymupdf.pdf": ("ready", None, "World"),
    "021-pdfa/crazyones-pdfa.pdf": ("ready", None, "misfits"),
    "022-pdfkit/pdfkit.pdf": ("ready", None, "Header"),
    "023-cmyk-image/cmyk-image.pdf": ("ready", "no-text-layer", None),
    "024-annotations/annotated_pdf.pdf": ("ready", None, "highlighted"),
    "025-attachment/with-attachment.pdf": ("ready", None, "eirmod"),
    "026-latex-multicolumn/multicolumn.pdf": ("ready", None, "Population"),
}


def test_every_sample_pdf_ends_in_the_state_that_fits_it(app, client, upload, process):
    samples = need_corpora(PDF_SAMPLES)
    on_disk = {str(p.relative_to(samples)) for p in samples.rglob("*.pdf")}
    assert set(EXPECTED) == on_disk, "the sample set changed: update the table"
    app.config["OCR"] = "off"
    ids = {}
    for name in EXPECTED:
        res = upload(samples / name, name.rsplit("/", 1)[-1], title=f"Sample {name[:3]}")
        if res.status_code == 409:  # two samples hold the same bytes
            ids[name] = res.json["id"]
            continue
        assert res.status_code == 201, (name, res.json)
        ids[name] = res.json["id"]
    process()
    outcomes = {}
    for name, doc_id in ids.items():
        doc = client.get(f"/api/v1/documents/{doc_id}").json
        outcomes[name] = (doc["status"], doc["error_code"])
        with client.get(f"/documents/{doc_id}/download") as res:
            assert res.data == (samples / name).read_bytes()
    assert outcomes == {name: expected[:2] for name, expected in EXPECTED.items()}
    for name, (_status, _code, word) in EXPECTED.items():
        if word is None:
            continue
        found = client.get("/api/v1/search", query_string={"q": word, "per_page": 50}).json
        assert ids[name] in {r["id"] for r in found["results"]}, (name, word)
