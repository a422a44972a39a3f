"""E-mail (.eml) and mailboxes (.mbox): headers into the record, the body as text, attachments as documents.

A message is one page: its From/To/Date/Subject lines, then its body (the plain-text part, or the
HTML part read as a web page). What the message quotes of an earlier one is marked (Page.quoted, see
`earlier_message`): a plain-text reply's ">" lines, whose marks are taken off (a paragraph break where the
quoting starts or ends) so a quotation of those words is found verbatim; an HTML reply's <blockquote> or
Gmail quote; an Outlook reply's or a forwarded message's header block and all after it. The sign-off
that ends the message's own text is gathered into one paragraph (`gather_signature`), so its short lines
are not read as headings. Each attachment is a document of its own, read by the extractor of
its format (a PDF as a PDF) in this same capped process; an attachment of a format no extractor
reads is listed as skipped. An mbox is a folder of messages: each message is a document of its
own, with its attachments, and the mbox itself holds no text.
"""

from __future__ import annotations

import email
import mailbox
import re
import tempfile
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from corpus_search import config, extractors
from corpus_search.extraction import Attachment, Extraction
from corpus_search.extractors.common import Unreadable
from corpus_search.extractors.html import Block, read_blocks
# An attachment goes through the one entry point (its caps and statuses). No import cycle: ingest
# loads this module only when a file needs it (extractors.for_suffix), after ingest itself has loaded.
from corpus_search.ingest import extract as extract_file
from corpus_search.models import STATUS_EMPTY, STATUS_FAILED, STATUS_OK, STATUS_SKIPPED, Page, Record
from corpus_search.passage_blocks import CONTACT, EARLIER_SEPARATOR, HEADER_FIELD, REPLY_START, SIGN_OFF


_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_MAX_PARTS = 1000  # MIME parts walked in one message: a message of a million empty parts is an attack
_QUOTED = re.compile(r"^((?:[ \t]{0,3}>)+)[ \t]?")  # "> ", ">> ", "> > " at a line's start


def extract(path: Path, record: Record, isolated: bool = False) -> Extraction:
    if path.suffix.lower() == ".mbox":
        return _mbox(path, record, isolated)
    with open(path, "rb") as fh:
        message = email.message_from_binary_file(fh, policy=policy.default)
    return read_message(message, record, isolated)


def read_message(message: EmailMessage, record: Record, isolated: bool) -> Extraction:
    head = "\n".join(f"{name}: {value}" for name in _HEADERS if (value := _header(message, name)))
    if not head:
        raise Unreadable("not an e-mail message: no From, To, Cc, Date or Subject header")
    found = _found(message)
    body_part = message.get_body(preferencelist=("plain", "html"))
    body, quoted = _part_text(body_part) if body_part is not None else ("", [])
    attachments, left_out = _attachments(message, body_part, record, isolated)
    text = "\n\n".join(t for t in (head, body.strip()) if t)
    # The quoted spans, moved to where the stripped body sits after the headers.
    shift = (len(head) + 2 if head and body.strip() else 0) - (len(body) - len(body.lstrip()))
    quoted = [(a + shift, min(b, len(body.rstrip())) + shift) for a, b in quoted if b > a]
    notes = [n for n in (_defect_note(message), _count_note(attachments), _left_out_note(left_out, "attachments"))
             if n]
    return Extraction(pages=[Page(index=0, text=text, quoted=tuple(quoted))], status=STATUS_OK,
                      message="; ".join(notes), found=found, attachments=attachments)


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
        return " ".join(str(value).split()) if value is not None else ""
    except Exception:  # noqa: BLE001 - a header the parser cannot make sense of is left out, not the message
        return ""


def _found(message: EmailMessage) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "email"}
    subject = _header(message, "Subject")
    if subject:
        found["title"] = subject
    senders = _people(message, "From")
    if senders:
        found["authors"] = senders
    recipients = _people(message, "To") + _people(message, "Cc")
    if recipients:
        found["recipients"] = recipients
    date = _header(message, "Date")
    if date:
        try:
            found["date"] = parsedate_to_datetime(date).date().isoformat()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass  # an unparsable Date stays in the text, not in the record
    return found


def _people(message: EmailMessage, name: str) -> list[str]:
    """Display names where the header gives them ("Jane Doe"), else the addresses."""
    try:
        values = [str(v) for v in message.get_all(name, failobj=[])]
        return [(n or a).strip() for n, a in getaddresses(values) if (n or a).strip()]
    except Exception:  # noqa: BLE001 - as _header: a broken address list stays out of the record
        return []


def _part_text(part: EmailMessage) -> tuple[str, list[tuple[int, int]]]:
    """The body's text, and the spans in it of what it quotes from an earlier message (`quoted_reply`)."""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        # An unknown or lying charset: the bytes as UTF-8 with replacements, not the whole message lost.
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return "", []
    if part.get_content_subtype() == "html":
        return _html_reply(content)
    return _plain_reply(content)


def _plain_reply(text: str) -> tuple[str, list[tuple[int, int]]]:
    """A plain-text body: its ">" quotations (`quoted_reply`), and the earlier message under an Outlook or
    forwarded header, which is quoted whole, its own ">" marks taken off too."""
    lines = text.split("\n")
    start = earlier_message(lines, [bool(_QUOTED.match(ln)) for ln in lines])
    own, spans = quoted_reply(gather_signature("\n".join(lines[:start])))
    if start == len(lines):
        return own, spans
    return _then_earlier(own, spans, quoted_reply("\n".join(lines[start:]))[0])


def _html_reply(markup: str) -> tuple[str, list[tuple[int, int]]]:
    """An HTML body as a web page reads (blank-line paragraphs), and the spans of what it quotes: each
    <blockquote> that is a quoted message (`_cited`) with the line that introduces it, and, as in plain
    text, the earlier message under an Outlook or forwarded header."""
    blocks = _header_together(read_blocks(markup)[0])
    texts = [b.text for b in blocks]
    cited = _cited(blocks)
    start = earlier_message(texts, cited)
    at = [0]
    for t in texts:
        at.append(at[-1] + len(t) + 2)
    spans: list[tuple[int, int]] = []
    for i in (i for i in range(start) if cited[i]):
        if i and cited[i - 1]:
            spans[-1] = (spans[-1][0], at[i] + len(texts[i]))
        else:
            spans.append((at[i], at[i] + len(texts[i])))
    own = "\n\n".join(texts[:start])
    # The sign-off is the sender's own text's: the lines before the first quotation.
    cut = spans[0][0] if spans else len(own)
    signed = gather_signature(own[:cut])
    shift = len(signed) - cut
    own, spans = signed + own[cut:], [(a + shift, b + shift) for a, b in spans]
    if start == len(texts):
        return own, spans
    return _then_earlier(own, spans, "\n\n".join(texts[start:]))


def _cited(blocks: list[Block]) -> list[bool]:
    """Which blocks are a quoted message, the line that introduces one included: a quoting element a mail
    client marks as a quotation (<blockquote type="cite">, Gmail's gmail_quote) with the line before it
    when that ends in a colon (as a ">" quotation's attribution, "On ..., Jane Roe wrote:"); a bare
    <blockquote> only after such a line that names a date or an address ("On 12 April, Jane Roe wrote:",
    "jane@x.org wrote:"), since a message may set its own quotation of a speech in one ("The minister
    said:"). A web page's blockquotes never come here."""
    out = [False] * len(blocks)
    for i, block in enumerate(blocks):
        if block.quoting is None or (i and blocks[i - 1].quoting == block.quoting):
            continue  # not quoting, or not the first block of its quoting element
        end = next((j for j in range(i, len(blocks)) if blocks[j].quoting != block.quoting), len(blocks))
        before = blocks[i - 1].text if i and blocks[i - 1].quoting is None else ""
        said = bool(_ATTRIBUTION.match(before))
        if block.quoting.cited or said:
            out[i:end] = [True] * (end - i)
            if said or before.endswith(":"):
                out[i - 1] = True
    return out


_ATTRIBUTION = re.compile(r"^(?:On\s.{4,300}|.{0,200}@.{0,200})\swrote:$")
_EARLIER = re.compile(rf"^(?:{EARLIER_SEPARATOR})$", re.I)
_RULE = re.compile(r"^_{8,}$")  # Outlook's rule above the header of the message it answers


def earlier_message(lines: list[str], quoted: list[bool]) -> int:
    """Where, in a body's lines (an HTML body's paragraphs), the earlier message an Outlook reply or a
    forward carries begins; len(lines) when there is none. The sender's own text ends there: all after
    is that message (Outlook quotes with no ">" marks, at the end, and its header is the only sign).

    It begins at a line "-----Original Message-----", "---------- Forwarded message ---------" or "Begin
    forwarded message:", or at a header block: a line "From: ..." and, on the lines right after it, at
    least two more header fields, one the date ("Sent:", "Date:") and one "To:" or "Subject:" (with
    Outlook's rule of underscores above it, if there is one). "From:" in a sentence, or a "From:" line
    with no header under it, is no such sign. Lines already `quoted` (a ">" quotation, a blockquote) are
    not looked at: a header there is in the quotation, and the sender's own text may follow it.

    A forwarded message is marked as a reply's quoted message is, on purpose: its words are someone
    else's, sent on, and an e-mail is cited as its sender's (From), so a quotation of them must say whose
    they are just as a quotation of a reply's ">" lines does; the header names who wrote them.
    """
    for i, line in enumerate(lines):
        if quoted[i] or not line.strip():
            continue
        first, *rest = line.strip().split("\n")  # an HTML paragraph of header lines (`_header_together`)
        if _EARLIER.match(first) or (_RULE.match(first) and rest and _header_block(rest)):
            return i
        if first[:5].lower() == "from:" and _header_block(lines[i:]):
            rule = next((j for j in range(i - 1, -1, -1) if lines[j].strip()), None)
            return rule if rule is not None and _RULE.match(lines[rule].strip()) and not quoted[rule] else i
    return len(lines)


def _header_block(lines: list[str]) -> bool:
    """Whether `lines` (or paragraphs of lines) open with a message's header: "From:", then fields, a date and
    a recipient or subject."""
    fields = []
    for line in "\n".join(lines[:12]).split("\n"):
        if not HEADER_FIELD.match(line.strip()):
            break
        fields.append(line.strip().split(":", 1)[0].strip().lower())
    return (len(fields) >= 3 and fields[0] == "from" and bool({"sent", "date"} & set(fields))
            and bool({"to", "subject"} & set(fields)))


def _header_together(blocks: list[Block]) -> list[Block]:
    """An HTML body's paragraphs with a forwarded or quoted message's header lines (a paragraph each, set
    apart by <br>) made one paragraph of lines, as plain text writes it: one passage, which opens the
    quotation and names who wrote it."""
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        j = i + (1 if _EARLIER.match(blocks[i].text) or _RULE.match(blocks[i].text) else 0)
        texts = [b.text for b in blocks[j:j + 12]]
        if texts and texts[0][:5].lower() == "from:" and _header_block(texts):
            while j < len(blocks) and HEADER_FIELD.match(blocks[j].text):
                j += 1
            out.append(Block("\n".join(b.text for b in blocks[i:j]), blocks[i].quoting))
            i = j
        else:
            out.append(blocks[i])
            i += 1
    return out


def _then_earlier(own: str, spans: list[tuple[int, int]], earlier: str) -> tuple[str, list[tuple[int, int]]]:
    """The sender's own text, then the earlier message as a paragraph of its own and one quoted span."""
    own, earlier = own.rstrip(), earlier.strip("\n").rstrip()
    start = len(own) + 2 if own else 0
    return (own + "\n\n" + earlier if own else earlier), spans + [(start, start + len(earlier))]


_SIGNATURE_LINES = 8  # short lines: more are text, not a sign-off
_AFTER_DELIMITER = 15  # lines after "-- ": more, and the dashes were a rule in the text, not a delimiter


def gather_signature(text: str) -> str:
    """The sign-off that ends the message's own text (before any quoted or forwarded message), one paragraph.

    A sign-off is the delimiter "-- " and all after it (RFC 3676), or a closing line ("Best regards,") and
    the short lines after it, or, with neither, a run of short lines at the end that gives a phone number,
    an e-mail or a web address. Written a line to a paragraph (an HTML signature's lines, or blank lines
    between), each short line ("Jane Roe", "Senior Editor") read as a heading, and the quoted message after
    it as its section. The words and their order are kept; only the blank lines inside the sign-off go.
    """
    lines = text.split("\n")
    end = next((i for i, ln in enumerate(lines) if _QUOTED.match(ln) or REPLY_START.match(ln.strip())
                or ln.rstrip().endswith(" wrote:")), len(lines))
    while end and lines[end - 1].strip() and end < len(lines) and lines[end].rstrip().endswith(" wrote:"):
        end -= 1  # an attribution wrapped over two lines: "On Sun, 12 Apr 2026, Tom Smith <\nt@x.org> wrote:"
    while end and not lines[end - 1].strip():
        end -= 1
    start = next((i for i in range(end - 1, -1, -1) if lines[i].strip() == "--"), None)
    if start is None or sum(1 for ln in lines[start:end] if ln.strip()) > _AFTER_DELIMITER + 1:
        start = _sign_off_start(lines, end)
    if start is None:
        return text
    signature = [ln.strip() for ln in lines[start:end] if ln.strip()]
    before = lines[:start]
    return "\n".join(before + ([""] if before and before[-1].strip() else []) + signature + lines[end:])


def _sign_off_start(lines: list[str], end: int) -> int | None:
    """Where a closing line and the short lines after it, or short lines with a phone number or an address,
    start, walking up from `end`; None when the text before `end` closes with neither."""
    start, short, contact = end, 0, False
    for i in range(end - 1, -1, -1):
        line = lines[i].strip()
        if not line:
            continue
        if SIGN_OFF.match(line):
            return i if short else None  # "Thanks," alone is a last paragraph, not a signature
        short += 1
        if short > _SIGNATURE_LINES or len(line) > 72 or (len(line.split()) >= 5 and line[-1:] in ".?!:"):
            break
        start, contact = i, contact or bool(CONTACT.search(line))
    return start if contact and short >= 2 else None


def unquote_reply(text: str) -> str:
    """A plain-text body with the quoting marks of a reply's quoted lines taken off, and a blank line
    wherever the depth of quoting changes (the quoted words are a paragraph of their own), and before
    the line that introduces them ("On 12 April, Jane Roe wrote:"), which goes with them."""
    return quoted_reply(text)[0]


def quoted_reply(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`unquote_reply`'s text, and the spans in it of what the message quotes (its quoted lines, with the line
    that introduces them): the words of an earlier message, not of this one's sender."""
    lines = text.splitlines()
    depths, bodies = [], []
    for line in lines:
        m = _QUOTED.match(line)
        depths.append(m.group(1).count(">") if m else 0)
        bodies.append(line[m.end():] if m else line)
    opens = [i + 1 < len(bodies) and depths[i + 1] > depths[i] and body.rstrip().endswith(":")
             for i, body in enumerate(bodies)]
    # An attribution wrapped over two lines ("On Sun, 12 Apr 2026, Tom Smith <" / "t@x.org> wrote:") opens
    # the quotation at its first line, and stays one line of text with its second.
    wrapped = [bool(i and opens[i] and depths[i - 1] == depths[i] and bodies[i - 1].lstrip().startswith("On ")
                    and not bodies[i].lstrip().startswith("On ")) for i in range(len(bodies))]
    for i in range(len(bodies) - 1):
        if wrapped[i + 1]:
            opens[i] = True
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    own_since = True  # a line of the sender's own since the last quoted one
    for i, body in enumerate(bodies):
        if out and out[-1].strip() and not wrapped[i] and (opens[i] or (i and depths[i] != depths[i - 1]
                                                  and not (bodies[i - 1].rstrip().endswith(":")
                                                           and depths[i] > depths[i - 1]))):
            out.append("")
            at += 1
        if (depths[i] or opens[i]) and body.strip():
            if spans and not own_since:
                spans[-1] = (spans[-1][0], at + len(body))  # one quotation, its blank lines too
            else:
                spans.append((at, at + len(body)))
            own_since = False
        elif body.strip():
            own_since = True
        out.append(body)
        at += len(body) + 1
    return "\n".join(out), spans


def _attachments(message: EmailMessage, body_part, record: Record, isolated: bool) -> tuple[tuple, int]:
    """The attachments read (at most CORPUS_SEARCH_MAX_ATTACHMENTS), and how many more were left out."""
    most = config.get_int("max_attachments")
    found: list = []
    left_out = 0
    for i, part in enumerate(message.walk()):
        if i > _MAX_PARTS:
            raise Unreadable(f"refused: more than {_MAX_PARTS} MIME parts (a hostile message?)")
        if part is body_part or part.is_multipart() or part.get_content_maintype() == "message":
            continue
        name = part.get_filename()
        if not name and part.get_content_disposition() != "attachment":
            continue  # an alternative of the body (the HTML beside the plain text), not an attachment
        if len(found) >= most:
            left_out += 1
            continue
        name = " ".join(str(name or f"attachment {len(found) + 1}").replace("/", "_").replace("\\", "_").split())
        found.append(Attachment(key=f"att{len(found) + 1}", name=name,
                                extraction=_read_attachment(part, name, record, isolated)))
    return tuple(found), left_out


def _read_attachment(part: EmailMessage, name: str, record: Record, isolated: bool) -> Extraction:
    """The attachment read by its own format's extractor, from a private temporary copy."""
    suffix = Path(name).suffix.lower()
    if suffix in (".eml", ".mbox"):
        return Extraction(pages=[], status=STATUS_SKIPPED, message="a message inside a message is not read")
    if extractors.for_suffix(suffix) is None:
        return Extraction(pages=[], status=STATUS_SKIPPED, message=extractors.unsupported_message(suffix))
    data = part.get_payload(decode=True) or b""
    with tempfile.TemporaryDirectory(prefix="corpus-search-att-") as folder:
        copy = Path(folder) / f"attachment{suffix}"
        copy.write_bytes(data)
        # The attachment's own record has no password, sidecar or page convention: only its id matters later.
        return extract_file(copy, Record(doc_id=record.doc_id, title=name), isolated=isolated)


def _mbox(path: Path, record: Record, isolated: bool) -> Extraction:
    most = config.get_int("max_attachments")
    box = mailbox.mbox(path, factory=lambda fh: email.message_from_binary_file(fh, policy=policy.default),
                       create=False)
    messages: list = []
    left_out = 0
    try:
        for n, message in enumerate(box, 1):
            if n > most:
                left_out += 1
                continue
            try:
                extraction = read_message(message, record, isolated)
            except Unreadable as exc:
                extraction = Extraction(pages=[], status=STATUS_FAILED, message=str(exc))
            subject = _header(message, "Subject") or "(no subject)"
            messages.append(Attachment(key=f"msg{n}", name=f"message {n}: {subject}"[:200], extraction=extraction))
    finally:
        box.close()
    if not messages:
        return Extraction(pages=[], status=STATUS_EMPTY, message="the mailbox holds no messages")
    notes = [f"{len(messages)} messages, each listed as its own document", _left_out_note(left_out, "messages")]
    return Extraction(pages=[], status=STATUS_OK, message="; ".join(n for n in notes if n), attachments=tuple(messages))


def _defect_note(message: EmailMessage) -> str:
    defects = [d for part in message.walk() for d in getattr(part, "defects", [])]
    return f"{len(defects)} formatting defects in the message; read as far as possible" if defects else ""


def _left_out_note(count: int, what: str) -> str:
    if not count:
        return ""
    return f"{count} more {what} not read (over CORPUS_SEARCH_MAX_ATTACHMENTS)"


def _count_note(attachments: tuple) -> str:
    if not attachments:
        return ""
    return f"{len(attachments)} attachment{'s' if len(attachments) != 1 else ''}, each listed as its own document"

