"""A small PDF that expands to a huge text: each page one Flate-compressed content stream of text operators.

Three pages of ~70 MB each compress to about half a megabyte; pypdf reads them within its caps,
and the text they give is one endless paragraph (the file behind issue 17's frozen app).
"""

from __future__ import annotations

import zlib
from pathlib import Path

_SHOW = b"(Gazprom and CNPC signed the pipeline contract in Beijing ) Tj "


def write_hostile_pdf(path: Path, pages: int = 3, mb_per_page: int = 70) -> Path:
    repeats = mb_per_page * 1_000_000 // len(_SHOW)
    content = zlib.compress(b"BT /F1 10 Tf 72 720 Td " + _SHOW * repeats + b"ET", 9)
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
