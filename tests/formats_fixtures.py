"""Test sources in other formats, made from the public-domain CRS reports in shared/testdata (never made-up text).

Word files and web pages come from the reports' Markdown through pandoc; e-mails are built with the
standard library's email package around a report paragraph, with a CRS PDF and a Word file attached.
The hostile files (a zip bomb, an entity bomb, broken mail, a page of scripts) are made here too.
"""

from __future__ import annotations

import mailbox
import re
import shutil
import subprocess
import zipfile
from email.message import EmailMessage
from pathlib import Path

CRS = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "extra" / "crs-reports"
MD = CRS / "markdown"
IRAN_MD = MD / "in-focus" / "IF12106v21-iran-and-nuclear-weapons-production.md"
RUSSIA_MD = MD / "in-focus" / "IF12672v12-russia-s-nuclear-weapons.md"
CHINA_MD = MD / "in-focus" / "IF13204v2-china-s-15th-five-year-plan-s-t-and-economic-pri.md"
CEASEFIRE_MD = MD / "insights" / "IN12678v4-u-s-iran-ceasefire-assessment-reactions-and-issu.md"
AUSTRALIA_MD = MD / "in-focus" / "IF10491v14-australia-background-and-u-s-relations.md"
HORMUZ_PDF = CRS / "pdf" / "reports" / "R48903.3.pdf"
HORMUZ_MD = MD / "reports" / "R48903v3-the-strait-of-hormuz-in-brief-non-oil-shipments-.md"


def available() -> bool:
    return shutil.which("pandoc") is not None and HORMUZ_PDF.exists() and IRAN_MD.exists()


def paragraphs(md: Path) -> list[str]:
    """The report's prose paragraphs (long lines without Markdown link or table syntax)."""
    out = []
    for line in md.read_text(encoding="utf-8").splitlines():
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line).strip()  # [words](url) -> words
        if len(plain) > 200 and not plain.startswith(("|", "-", "#", "[")):
            out.append(plain)
    return out


def header_field(md: Path, name: str) -> str:
    """A field of the report's own overview table ("Author", "Publication Date")."""
    match = re.search(rf"\*\*{name}:\*\*\s*\|\s*([^\n|]+)", md.read_text(encoding="utf-8"))
    assert match, name
    return match.group(1).strip()


def notes_table(md: Path) -> str:
    """The numbered notes a report's Markdown keeps as bare "| 1. | text |" lines, as a Markdown table under a
    header row (pandoc reads no table without one): "| Note 1 | text |", a label that reads as no footnote."""
    rows = re.findall(r"^\|\s*(\d+)\.\s*\|\s*(.+?)\s*\|?\s*$", md.read_text(encoding="utf-8"), re.M)
    assert rows, md
    return "| Note | Source |\n|---|---|\n" + "".join(f"| Note {n} | {text} |\n" for n, text in rows)


def pandoc(md: Path, out: Path, *args: str) -> Path:
    subprocess.run(["pandoc", str(md), "-f", "markdown", "-o", str(out), *args], check=True, timeout=120)
    return out


def docx(md: Path, out: Path) -> Path:
    return pandoc(md, out)


def endnotes_docx(md: Path, out: Path) -> Path:
    """A Word file whose notes are endnotes: pandoc's footnotes moved to word/endnotes.xml, each part and
    reference renamed as Word names endnotes (w:endnote, w:endnoteReference, the relationship, the style)."""
    made = pandoc(md, out.with_name(out.stem + "-footnotes.docx"))
    with zipfile.ZipFile(made) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith((".xml", ".rels")):
                data = data.replace(b"footnote", b"endnote").replace(b"Footnote", b"Endnote")
            dst.writestr(info.filename.replace("footnotes.xml", "endnotes.xml"), data)
    return out


def html_page(md: Path, out: Path, title: str, author: str, date: str) -> Path:
    """A standalone page with its title, author and date in <head>, wrapped in site navigation and scripts."""
    pandoc(md, out, "-s", "-t", "html", "-M", f"title={title}", "-M", f"author={author}", "-M", f"date={date}")
    page = out.read_text(encoding="utf-8")
    furniture = (
        '<nav><a href="/">Home</a> <a href="/products">CRS Products</a> NAVIGATIONMENUONLY</nav>'
        + '<script>var tracker = "SCRIPTTEXTONLY"; document.write("<p>SCRIPTTEXTONLY</p>");</script>' * 200
        + '<style>body { font: 12px serif } .STYLETEXTONLY {}</style>'
    )
    page = page.replace("<body>", "<body>" + furniture, 1)
    page = page.replace("</body>", '<footer>FOOTERTEXTONLY</footer><script>SCRIPTTEXTONLY()</script></body>', 1)
    out.write_text(page, encoding="utf-8")
    return out


def message(body: str, subject: str, sender: str, to: str, date: str, attachments: list[Path] = ()) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = date
    msg["Subject"] = subject
    msg.set_content(body)
    for path in attachments:
        kind = {".pdf": ("application", "pdf"), ".docx": ("application",
                "vnd.openxmlformats-officedocument.wordprocessingml.document")}.get(path.suffix, ("application", "octet-stream"))
        msg.add_attachment(path.read_bytes(), maintype=kind[0], subtype=kind[1], filename=path.name)
    return msg


def eml(out: Path, msg: EmailMessage) -> Path:
    out.write_bytes(bytes(msg))
    return out


def mbox(out: Path, messages: list[EmailMessage]) -> Path:
    box = mailbox.mbox(out)
    for m in messages:
        box.add(m)
    box.flush()
    box.close()
    return out


# ---------------------------------------------------------------- hostile files


def zip_bomb_docx(out: Path, megabytes: int = 300) -> Path:
    """A .docx whose document.xml inflates to `megabytes` MiB of spaces (about 300 KiB on disk)."""
    chunk = b" " * (1 << 20)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
            for _ in range(megabytes):
                f.write(chunk)
            f.write(b"</w:body></w:document>")
    return out


def entity_bomb_docx(out: Path) -> Path:
    """A .docx whose document.xml is the "billion laughs": ten levels of entities, each ten of the last."""
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE lolz [", '<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    lines += ["]>", '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
                    "<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", "\n".join(lines))
    return out


def garbage_eml(out: Path) -> Path:
    """Bytes with no header at all: a .eml that is not an e-mail (part of a PDF named .eml)."""
    out.write_bytes(HORMUZ_PDF.read_bytes()[4096:12288])
    return out


def truncated_eml(out: Path, msg: EmailMessage) -> Path:
    """A multipart message cut off in the middle of its attachment (its closing boundary never comes)."""
    data = bytes(msg)
    out.write_bytes(data[: len(data) // 2])
    return out
