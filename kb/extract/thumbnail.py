"""First-page thumbnails of PDFs, rendered by PDFium (pypdfium2) in the extraction sandbox.

PDFium is the renderer of Chromium's PDF viewer: maintained, fuzzed, and able to draw the
odd PDFs people upload that a pure-Python reader cannot. It is C code reading hostile
files, so it runs only in the sandbox's child process (kb.services.isolation), under the
same time and memory limits as text extraction. The PNG is encoded here with zlib, so
that no image library is needed at run time.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

# The box a thumbnail fits in, in pixels: wide enough for a document page at twice the
# size lists and the document page show it (so it stays sharp on high-density screens).
MAX_WIDTH = 240
MAX_HEIGHT = 340
# Pages smaller or larger than this (in points) are not real pages: no thumbnail.
_MIN_POINTS = 1.0
_MAX_POINTS = 200_000.0


@dataclass(frozen=True)
class Thumbnail:
    """A rendered first page: PNG bytes and their size in pixels."""

    png: bytes
    width: int
    height: int


def render_first_page(path: Path, max_width: int = MAX_WIDTH,
                      max_height: int = MAX_HEIGHT) -> Thumbnail | None:
    """The first page of a PDF drawn to fit ``max_width`` x ``max_height``, or None when
    the file has no page to draw (PDFium's own errors propagate: the caller logs them)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        if len(pdf) == 0:
            return None
        page = pdf[0]
        try:
            width, height = page.get_size()
            if not (_MIN_POINTS <= width <= _MAX_POINTS and _MIN_POINTS <= height <= _MAX_POINTS):
                return None
            scale = min(max_width / width, max_height / height)
            bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255),
                                 rev_byteorder=True, may_draw_forms=True)
            try:
                png = encode_png(bytes(bitmap.buffer), bitmap.width, bitmap.height,
                                 bitmap.stride, bitmap.n_channels)
                return Thumbnail(png, bitmap.width, bitmap.height)
            finally:
                bitmap.close()
        finally:
            page.close()
    finally:
        pdf.close()


def encode_png(pixels: bytes, width: int, height: int, stride: int, channels: int) -> bytes:
    """An RGB PNG from rows of ``stride`` bytes holding ``channels`` bytes a pixel (RGB,
    RGBA or RGBX: any fourth byte is dropped; grey: one byte)."""
    if channels not in (1, 3, 4):
        raise ValueError(f"cannot encode {channels} channels a pixel")
    rows = bytearray()
    for y in range(height):
        row = pixels[y * stride: y * stride + width * channels]
        if channels == 4:
            row = b"".join(row[i:i + 3] for i in range(0, len(row), 4))
        rows += b"\x00" + row  # filter type 0 (none) on each row
    colour = 0 if channels == 1 else 2  # grey, or truecolour RGB
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"".join((b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(bytes(rows), 9)), _chunk(b"IEND", b"")))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
