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
