"""What an e-mail quotes of an earlier message, beyond the plain-text "> " lines: an HTML reply's
<blockquote> (Apple Mail, Thunderbird) and Gmail's quote, an Outlook reply with no marks at all
("-----Original Message-----" or its From/Sent/To/Subject block) and a forwarded message. Those words are
passages of kind quote, and a quotation of them says whose they are, naming the line that introduces them.

Fixtures are messages as those clients write them, built here with email.message. A web page's
<blockquote> and an e-mail that merely says "From:" are no quoted message.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from corpus_search.models import Record

OWN = "Agreed, we keep the paragraph on insurers as it stands."
EARLIER = "War-risk premiums for tankers calling at Gulf ports tripled within a week of the strikes."
EARLIER_TOO = "Two of the largest container carriers paused new bookings to Jebel Ali until further notice."

APPLE = f"""<html><body><div>{OWN}</div><div><br></div>
<div>On Apr 12, 2026, at 09:00, Jane Roe &lt;jane@x.org&gt; wrote:<br></div><br>
<blockquote type="cite"><div>{EARLIER}</div><div><br></div><div>{EARLIER_TOO}</div></blockquote></body></html>"""

THUNDERBIRD = f"""<html><head><meta http-equiv="content-type" content="text/html; charset=UTF-8"></head><body>
<p>{OWN}</p><div class="moz-cite-prefix">On 4/12/26 9:00 AM, Jane Roe wrote:<br></div>
<blockquote type="cite" cite="mid:abc123@x.org"><p>{EARLIER}</p><p>{EARLIER_TOO}</p></blockquote><br></body></html>"""

GMAIL = f"""<div dir="ltr">{OWN}</div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr"
class="gmail_attr">On Sun, Apr 12, 2026 at 9:00 AM Jane Roe &lt;<a href="mailto:jane@x.org">jane@x.org</a>&gt;
wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid
rgb(204,204,204);padding-left:1ex"><div dir="ltr"><div>{EARLIER}</div><div><br></div><div>{EARLIER_TOO}</div>
</div></blockquote></div>"""

OUTLOOK_HEADER = ("From: Jane Roe <jane@x.org>\nSent: Sunday, April 12, 2026 9:00 AM\nTo: Tom Smith <tom@x.org>\n"
                  "Subject: Hormuz figures")
OUTLOOK_PLAIN = f"Tom,\n\n{OWN}\n\nTom\n\n-----Original Message-----\n{OUTLOOK_HEADER}\n\n{EARLIER}\n\n{EARLIER_TOO}\n\nJane\n"
# Outlook's newer plain text: a rule of underscores, or nothing at all, above the header block.
OUTLOOK_RULE = f"{OWN}\n\nTom\n\n________________________________\n{OUTLOOK_HEADER}\n\n{EARLIER}\n{EARLIER_TOO}\n"
OUTLOOK_BARE = f"{OWN}\n\nTom\n\n{OUTLOOK_HEADER}\n\n{EARLIER}\n\n{EARLIER_TOO}\n"
OUTLOOK_HTML = f"""<html><head><meta name=Generator content="Microsoft Word 15 (filtered medium)"></head><body lang=EN-US>
<div class=WordSection1><p class=MsoNormal>{OWN}<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>Tom<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>
<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in'><p class=MsoNormal>
<b>From:</b> Jane Roe &lt;jane@x.org&gt; <br><b>Sent:</b> Sunday, April 12, 2026 9:00 AM<br><b>To:</b> Tom Smith
&lt;tom@x.org&gt;<br><b>Subject:</b> Hormuz figures<o:p></o:p></p></div></div><p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>{EARLIER}<o:p></o:p></p><p class=MsoNormal>{EARLIER_TOO}<o:p></o:p></p></div></body></html>"""
# Outlook's older HTML: the separator line and the header fields, each after a <br>.
OUTLOOK_HTML_ORIGINAL = f"""<html><body><div><font face="Arial" size="2">{OWN}</font></div><div><br></div>
<div><font face="Tahoma" size="2">-----Original Message-----<br><b>From:</b> Jane Roe [mailto:jane@x.org]<br>
<b>Sent:</b> Sunday, April 12, 2026 9:00 AM<br><b>To:</b> Tom Smith<br><b>Subject:</b> Hormuz figures<br><br></font></div>
<div><font face="Arial" size="2">{EARLIER}</font></div><div><font face="Arial" size="2">{EARLIER_TOO}</font></div>
</body></html>"""

FORWARD_HEADER = "From: Jane Roe <jane@x.org>\nDate: Sun, Apr 12, 2026 at 9:00 AM\nSubject: Hormuz figures\nTo: Tom Smith <tom@x.org>"
FORWARD_PLAIN = f"{OWN}\n\n---------- Forwarded message ---------\n{FORWARD_HEADER}\n\n\n{EARLIER}\n\n{EARLIER_TOO}\n"
FORWARD_GMAIL = f"""<div dir="ltr">{OWN}<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded
message ---------<br>From: <strong class="gmail_sendername" dir="auto">Jane Roe</strong> <span dir="auto">&lt;<a
href="mailto:jane@x.org">jane@x.org</a>&gt;</span><br>Date: Sun, Apr 12, 2026 at 9:00 AM<br>Subject: Hormuz
figures<br>To: Tom Smith &lt;<a href="mailto:tom@x.org">tom@x.org</a>&gt;<br></div><br><br><div dir="ltr">
<div>{EARLIER}</div><div><br></div><div>{EARLIER_TOO}</div></div></div></div>"""

# Thunderbird's forward: its header fields in another order (Subject, Date, From, To), in plain text each after a
# tab, in HTML a table of them below the separator line.
TB_HEADER = "Subject: \tHormuz figures\nDate: \tSun, 12 Apr 2026 09:00:00 +0000\nFrom: \tJane Roe <jane@x.org>\nTo: \tTom Smith <tom@x.org>"
TB_FORWARD_PLAIN = f"{OWN}\n\n\n-------- Forwarded Message --------\n{TB_HEADER}\n\n\n\n{EARLIER}\n\n{EARLIER_TOO}\n"
TB_FORWARD_HTML = f"""<html><body><p>{OWN}</p><br><div class="moz-forward-container"><br><br>-------- Forwarded Message --------
<table class="moz-email-headers-table" cellspacing="0" cellpadding="0" border="0"><tbody>
<tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">Subject: </th><td>Hormuz figures</td></tr>
<tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">Date: </th><td>Sun, 12 Apr 2026 09:00:00 +0000</td></tr>
<tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">From: </th><td>Jane Roe <a class="moz-txt-link-rfc2396E"
href="mailto:jane@x.org">&lt;jane@x.org&gt;</a></td></tr>
<tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">To: </th><td>Tom Smith <a class="moz-txt-link-rfc2396E"
href="mailto:tom@x.org">&lt;tom@x.org&gt;</a></td></tr></tbody></table><br><br><p>{EARLIER}</p><p>{EARLIER_TOO}</p>
</div></body></html>"""

# Each message: (its body, "plain" or "html", the line the quotation note names)
REPLIES = {
    "apple": (APPLE, "html", "On Apr 12, 2026, at 09:00, Jane Roe <jane@x.org> wrote:"),
    "thunderbird": (THUNDERBIRD, "html", "On 4/12/26 9:00 AM, Jane Roe wrote:"),
    "gmail": (GMAIL, "html", "On Sun, Apr 12, 2026 at 9:00 AM Jane Roe <jane@x.org> wrote:"),
    "outlook-plain": (OUTLOOK_PLAIN, "plain", "From: Jane Roe <jane@x.org> Sent: Sunday, April 12, 2026 9:00 AM"),
    "outlook-rule": (OUTLOOK_RULE, "plain", "From: Jane Roe <jane@x.org> Sent: Sunday, April 12, 2026 9:00 AM"),
    "outlook-bare": (OUTLOOK_BARE, "plain", "From: Jane Roe <jane@x.org> Sent: Sunday, April 12, 2026 9:00 AM"),
    "outlook-html": (OUTLOOK_HTML, "html", "From: Jane Roe <jane@x.org> Sent: Sunday, April 12, 2026 9:00 AM"),
    "outlook-html-original": (OUTLOOK_HTML_ORIGINAL, "html",
                              "From: Jane Roe [mailto:jane@x.org] Sent: Sunday, April 12, 2026 9:00 AM"),
    "forward-plain": (FORWARD_PLAIN, "plain", "From: Jane Roe <jane@x.org> Date: Sun, Apr 12, 2026 at 9:00 AM"),
    "forward-gmail": (FORWARD_GMAIL, "html", "From: Jane Roe <jane@x.org> Date: Sun, Apr 12, 2026 at 9:00 AM"),
    "tb-forward-plain": (TB_FORWARD_PLAIN, "plain", "From: Jane Roe <jane@x.org> Date: Sun, 12 Apr 2026 09:00:00 +0000"),
    "tb-forward-html": (TB_FORWARD_HTML, "html", "From: Jane Roe <jane@x.org> Date: Sun, 12 Apr 2026 09:00:00 +0000"),
}


def _message(body: str, subtype: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Tom Smith <tom@x.org>", "Desk <desk@x.org>", "RE: Hormuz figures"
    msg["Date"] = "Mon, 13 Apr 2026 09:00:00 +0000"
    msg.set_content(body, subtype=subtype)
    return msg


def _eml(path: Path, body: str, subtype: str) -> Path:
    path.write_bytes(bytes(_message(body, subtype)))
    return path


def _split(tmp_path: Path, body: str, subtype: str):
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document

    record = Record(doc_id="m", title="m")
    extraction = extract(_eml(tmp_path / "m.eml", body, subtype), record)
    return extraction.pages[0], split_document(record, extraction.pages).passages


def _kind_of(passages, words: str) -> str:
    found = [p.kind for p in passages if words in p.text]
    assert len(found) == 1, [(p.kind, p.text) for p in passages]
    return found[0]


@pytest.mark.parametrize("name", list(REPLIES))
def test_the_earlier_messages_words_are_quote_passages_and_the_senders_are_not(tmp_path, name):
    body, subtype, _ = REPLIES[name]
    page, passages = _split(tmp_path, body, subtype)
    assert _kind_of(passages, EARLIER) == "quote"
    assert _kind_of(passages, EARLIER_TOO) == "quote"
    assert _kind_of(passages, OWN) == "body"
    quoted = " ".join(page.text[a:b] for a, b in page.quoted)
    assert EARLIER in quoted and OWN not in quoted and "desk@x.org" not in quoted
    # The whole earlier message is quoted, from the line that introduces it to its end.
    assert page.text.rstrip().endswith(page.text[page.quoted[-1][0]:page.quoted[-1][1]].rstrip())


def test_an_html_reply_between_the_quotations_it_answers_is_the_senders_own(tmp_path):
    """Answers written between the quoted paragraphs (Thunderbird, Apple Mail): each blockquote is a
    quotation, the answer between them is not, and the attribution opens the first."""
    answer = "Yes, and the insurers confirmed it to us on Monday."
    body = (f"<html><body><div>On 4/12/26 9:00 AM, Jane Roe wrote:</div><blockquote type=\"cite\"><p>{EARLIER}</p>"
            f"</blockquote><p>{answer}</p><blockquote type=\"cite\"><p>{EARLIER_TOO}</p></blockquote><p>{OWN}</p>"
            "</body></html>")
    page, passages = _split(tmp_path, body, "html")
    assert [page.text[a:b] for a, b in page.quoted] == [f"On 4/12/26 9:00 AM, Jane Roe wrote:\n\n{EARLIER}", EARLIER_TOO]
    assert [_kind_of(passages, w) for w in (EARLIER, answer, EARLIER_TOO, OWN)] == ["quote", "body", "quote", "body"]


@pytest.mark.parametrize("name", [n for n in REPLIES if n.startswith(("outlook", "forward"))])
def test_an_outlook_or_forwarded_header_is_one_paragraph_that_opens_the_quotation(tmp_path, name):
    """The header lines (each a paragraph of its own in HTML) are one passage, the first of the quotation,
    and none is a heading."""
    body, subtype, intro = REPLIES[name]
    _, passages = _split(tmp_path, body, subtype)
    first = next(p for p in passages if p.kind == "quote")
    assert intro in first.text and "Subject: Hormuz figures" in first.text
    assert not [p.text for p in passages if p.kind == "heading"]


# ---------------------------------------------------------------- not a quoted message

MID_PARAGRAPH = (f"{OWN} The wording came straight from the ministry. From: its press office, as far as I can tell.\n\n"
                 "From: the desk of the editor\n\nSent: to the printers on Monday, once the figures are in.\n\nTom\n")
NEWSLETTER = ("<html><body><h1>Weekly shipping brief</h1><p>The minister spoke at the port on Friday.</p>"
              f"<blockquote><p>{EARLIER}</p></blockquote><p>{OWN}</p></body></html>")
# An HTML e-mail that quotes a speech after a line ending in a colon: a quotation in the sender's own text.
SPEECH = (f"<html><body><p>{OWN}</p><p>The minister said this on Friday:</p><blockquote><p>{EARLIER}</p>"
          "</blockquote><p>Tom</p></body></html>")


@pytest.mark.parametrize("body, subtype", [(MID_PARAGRAPH, "plain"), (NEWSLETTER, "html"), (SPEECH, "html")],
                         ids=["from-mid-paragraph", "html-newsletter-blockquote", "html-own-blockquote"])
def test_a_message_that_merely_says_from_or_quotes_in_a_blockquote_quotes_no_earlier_message(tmp_path, body, subtype):
    page, passages = _split(tmp_path, body, subtype)
    assert page.quoted == ()
    assert {p.kind for p in passages} <= {"body", "heading"}
    assert EARLIER in page.text or "From: its press office" in page.text


def test_a_web_pages_blockquote_is_read_as_before_and_quotes_no_message(tmp_path):
    """The e-mail's rules are the e-mail's: a saved web page with a cited blockquote and a "wrote:" line
    keeps its paragraphs as before, and none of its passages is a quote."""
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document

    page = tmp_path / "page.html"
    page.write_text(f"<html><head><title>Letters</title></head><body>{THUNDERBIRD.split('<body>')[1]}", encoding="utf-8")
    record = Record(doc_id="page", title="page")
    extraction = extract(page, record)
    assert extraction.pages[0].text == (f"{OWN}\n\nOn 4/12/26 9:00 AM, Jane Roe wrote:\n\n{EARLIER}\n\n{EARLIER_TOO}")
    assert extraction.pages[0].quoted == ()
    assert "quote" not in {p.kind for p in split_document(record, extraction.pages).passages}


def test_a_plain_reply_with_no_quoted_message_is_read_as_before(tmp_path):
    page, passages = _split(tmp_path, f"{OWN}\n\n{EARLIER}\n\nTom\n", "plain")
    assert page.quoted == () and page.text.endswith(f"{OWN}\n\n{EARLIER}\n\nTom")


# ---------------------------------------------------------------- what a quotation check says


@pytest.fixture(scope="module")
def replies(tmp_path_factory):
    from corpus_search.api import Corpus, build

    corpus = tmp_path_factory.mktemp("mail-quotes-corpus")
    for name, (body, subtype, _) in REPLIES.items():
        _eml(corpus / f"{name}.eml", body, subtype)
    index = tmp_path_factory.mktemp("mail-quotes-index")
    build(corpus, index)
    opened = Corpus.open(index)
    yield opened
    opened.close()


@pytest.mark.parametrize("name", list(REPLIES))
def test_a_quotation_of_the_earlier_message_says_whose_words_they_are(replies, name):
    from corpus_search.quote_report import quoting_notes

    _, _, intro = REPLIES[name]
    report = replies.quote(EARLIER_TOO)
    match = next(m for m in report.matches if m.passage_id.startswith(f"{name}:"))
    assert match.exact and replies.passage(match.passage_id).kind == "quote"
    assert match.source_quotes[0] == f"quoted message: {intro}"
    assert (f"The e-mail quotes an earlier message here (\u201c{intro}\u201d): these are that message's words, "
            "not its sender's.") in quoting_notes(match)
    own = next(m for m in replies.quote(OWN).matches if m.passage_id.startswith(f"{name}:"))
    assert not any(q.startswith("quoted message") for q in own.source_quotes)
