"""Scanned copies of real PDFs for the OCR tests and benchmarks: pages rasterised, no text layer left."""

from __future__ import annotations

from pathlib import Path

CRS = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "extra" / "crs-reports" / "pdf"


def crs_pdfs() -> list[Path]:
    return sorted(CRS.glob("*/*.pdf"))


def rasterise(source: Path, dest: Path, dpi: int = 200, pages: list[int] | None = None) -> Path:
    """Write `dest`: the pages of `source` as grey `dpi` images, as a scanner would, with no text layer."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(source))
    try:
        images = [pdf[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in (pages or range(len(pdf)))]
    finally:
        pdf.close()
    images[0].save(dest, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return dest


def text_layer(path: Path) -> str:
    from pypdf import PdfReader

    return "".join(page.extract_text() or "" for page in PdfReader(path).pages)


def write_image_pdf(path: Path, pages: int, page_size: tuple[float, float], image_px: tuple[int, int]) -> Path:
    """An image-only PDF, small in bytes however big it draws: every page shows the same white 1-bit image.

    A 30,000 x 30,000 px image is 112 MB of pixels that Flate squeezes to ~100 KB; 500 pages share one image.
    """
    import zlib

    width, height = image_px
    row = b"\xff" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    chunks = [packer.compress(row) for _ in range(height)]
    data = b"".join(chunks) + packer.flush()
    w_pt, h_pt = page_size
    draw = b"q %g 0 0 %g 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (5 + i) for i in range(pages)) + b"] /Count %d >>" % pages,
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1 "
        b"/Filter /FlateDecode /Length %d >>\nstream\n" % (width, height, len(data)) + data + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream",
    ]
    for _ in range(pages):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /XObject << /Im0 3 0 R >> >> "
                       b"/Contents 4 0 R >>" % (w_pt, h_pt))
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
