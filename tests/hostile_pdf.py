"""Small PDFs that are costly to read: one that expands to a huge text (each page one Flate-compressed content
stream of text operators), and one that is only slow to read.

Three pages of ~70 MB each compress to about half a megabyte; pypdf reads them within its caps,
and the text they give is one endless paragraph (the file behind issue 17's frozen app).
"""

from __future__ import annotations

import zlib
from pathlib import Path

_SHOW = b"(Gazprom and CNPC signed the pipeline contract in Beijing ) Tj "


def write_hostile_pdf(path: Path, pages: int = 3, mb_per_page: int = 70) -> Path:
    repeats = mb_per_page * 1_000_000 // len(_SHOW)
    return _write_pdf(path, b"BT /F1 10 Tf 72 720 Td " + _SHOW * repeats + b"ET", pages)


def write_slow_pdf(path: Path, operators: int = 250_000) -> Path:
    """One page that is slow to read but holds one line of text: the line, then `operators` empty
    save/restore pairs ("q Q"), as a page of vector drawing is. pypdf reads the 250,000 of the default in
    about a second here, and a build of its text takes no longer than that of any one-line source."""
    return _write_pdf(path, b"BT /F1 10 Tf 72 720 Td " + _SHOW + b"ET " + b"q Q " * operators, 1)


def _write_pdf(path: Path, stream: bytes, pages: int) -> Path:
    """A PDF of `pages` pages, each the one Flate-compressed content stream `stream`."""
    content = zlib.compress(stream, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages))
        + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                       b"/Contents %d 0 R >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path
