"""Head nouns and neighbours: what kind of thing a name is, from its own last noun ("Jones Act" is a law,
"Tanker Security Program" a programme, "Annual Threat Assessment" a document, "Cold War" an event) or the
words beside it ("tankers CS Anthem" is a vessel, "the agency's program Odin" a programme). General
English; entity_rules' noise rules and entity_canonical use these.
"""

from __future__ import annotations

import re

# Head nouns of documents: a phrase of ordinary words ending in one is a title, even one
# the text abbreviates ("Annual Threat Assessment (ATA)").
DOC_HEADS = frozenset("assessment strategy report review survey study estimate statement yearbook guidance directive "
                      "memorandum budget".split())

# Head nouns that make a title-cased phrase a law, a programme or a document rather than an
# organisation or a person: "Jones Act", "Tanker Security Program", "Annual Threat Assessment".
LAW_HEADS = frozenset("act acts bill treaty agreement accord accords convention protocol law code amendment charter "
                      "declaration statute order".split())
# Heads a number names an instrument by: "Order 14184", "Resolution 2231", "Directive 5000.01".
NUMBERED_LAW_HEADS = LAW_HEADS | {"resolution", "directive", "proclamation", "regulation", "decree", "memorandum"}
# Documents and periodicals beyond DOC_HEADS: "Five-Year Plan", "International Journal of Marine and Coastal Law".
PUBLICATION_HEADS = frozenset("plan journal magazine gazette bulletin newsletter yearbook handbook".split())
PROGRAM_HEADS = frozenset("program programme programs programmes initiative project".split())
# Happenings: "Pentagon-Anthropic Dispute", "Cold War", "Gulf Crisis" are events, not bodies or people.
EVENT_HEADS = frozenset("dispute disputes war wars crisis conflict ceasefire summit talks negotiations".split())
# Heads of place names: "Clarion-Clipperton Zone", "Pacific Ocean", "Strait of Hormuz" are places, not bodies.
PLACE_HEADS = frozenset("zone sea ocean strait straits gulf bay river basin peninsula island islands archipelago "
                        "mountains desert valley plateau coast shelf ridge trench lake".split())
# Heads of built places: "Wright Brothers National Memorial", "Arlington National Cemetery", "Hoover Dam"
# are facilities, not bodies or people.
FACILITY_HEADS = frozenset("memorial monument cemetery bridge dam airport stadium ballpark tunnel canal "
                           "lighthouse".split())
_PROGRAM_BEFORE = re.compile(r"\b(?:program|programme|initiative|project)\s+$")


# "the northern port city of Darwin", "the town of Bakhmut": what follows is a place, whatever the model says.
_PLACE_BEFORE = re.compile(r"\b(?:city|town|port|village|capital|province|prefecture|county|island|region)\s+of\s+$")


def place_context(passage: str, start: int) -> bool:
    """A name right after "city of", "port of", "province of" ... is that place."""
    return bool(_PLACE_BEFORE.search(passage[max(0, start - 20):start]))


def project_context(passage: str, start: int) -> bool:
    """A name right after the word "program" is the programme's name: "the agency's program Odin"."""
    return bool(_PROGRAM_BEFORE.search(passage[max(0, start - 20):start]))


# A vessel, weapon or system is named right after its kind ("container ships APL Eagle and Maersk
# Yorktown", "the submarine Kursk") or right before it ("the Sarmat ICBM", "Borei-class"): a product,
# not a person or an organisation. An owner goes before the kind too ("Hamas rockets"), so only the
# kinds nobody owns by name follow, and an abbreviation (an owner: "IRGC missiles") is left alone.
_KIND_BEFORE = re.compile(
    r"\b(?:ships?|vessels?|tankers?|carriers?|submarines?|frigates?|destroyers?|cruisers?|freighters?|"
    r"icebreakers?|boats?|aircraft|missiles?|systems?)\s+(?:[A-Z][\w’'-]*\s+)*?(?:and\s+)?$"
)
_KIND_AFTER = re.compile(r"^(?:-class\b|\s+(?:class\b|ICBMs?\b|SLBMs?\b|hypersonic\b|glide\b|torpedo|cruise missiles?\b|"
                         r"ballistic missiles?\b|nuclear-(?:powered|armed)\b))")


# A model designation names the product after it: "the M-2 Bradley", "M-1E3 Abrams tanks", "F-16 Fighting Falcon".
_DESIGNATION_BEFORE = re.compile(r"\b[A-Z]{1,3}-\d+[A-Z\d]*\s+$")


def product_context(passage: str, start: int, end: int, text: str) -> bool:
    """A name the words around it make a vessel, weapon or system."""
    if _KIND_BEFORE.search(passage[max(0, start - 80):start]) or _DESIGNATION_BEFORE.search(passage[max(0, start - 12):start]):
        return True
    return not text.isupper() and bool(_KIND_AFTER.match(passage[end:end + 40]))


# World regions and the combining forms that join them: "Indo-Pacific", "Euro-Atlantic", "Asia-Pacific"
# name a region, not a body, whatever the model calls them.
REGIONS = frozenset("pacific atlantic arctic antarctic asia europe africa america americas eurasia mediterranean "
                    "caribbean baltic caucasus balkans oceania".split())
_COMBINING = frozenset("indo euro sino afro anglo austro russo franco trans pan".split())


def region(name: str) -> bool:
    """A region joined from region words and combining forms: "Indo-Pacific", "Euro-Atlantic", "Asia-Pacific"."""
    parts = [p.lower() for p in re.split(r"[-–]", name)]
    return (len(parts) >= 2 and parts[-1] in REGIONS
            and all(p in REGIONS or p in _COMBINING for p in parts[:-1]))


def head_label(name: str, label: str) -> str:
    """The label a name's head noun gives it: LAW, PROJECT or WORK_OF_ART for ORG/PERSON spans so headed."""
    if label not in ("ORG", "PERSON"):
        return label
    if region(name):
        return "LOC"
    numbered = re.fullmatch(r"([A-Z][a-z]+)\s+\d[\d.-]*", name)
    if numbered and numbered.group(1).lower() in NUMBERED_LAW_HEADS:
        return "LAW"  # "Order 14184" of "Executive Order 14184", "Resolution 2231"
    words = re.findall(r"[^\W\d_][\w’'-]*", name)
    if len(words) < 2:
        return label
    head = np_head(name)
    if head in LAW_HEADS:
        return "LAW"
    if head in PROGRAM_HEADS:
        return "PROJECT"
    if head in DOC_HEADS or head in PUBLICATION_HEADS:
        return "WORK_OF_ART"
    if head in EVENT_HEADS:
        return "EVENT"
    if head in PLACE_HEADS:
        return "LOC"
    if head in FACILITY_HEADS:
        return "FAC"
    return label



def np_head(name: str) -> str:
    """The head noun of a name, lower case: the last word before "of", "for", "on" or "to", else the last word.

    "Office of Technology Assessment" is an office, "Plan of Action" a plan, "Annual Threat Assessment" an assessment.
    """
    words = re.findall(r"[^\W\d_][\w’'.-]*", name)
    for i, w in enumerate(words):
        if i and w.lower() in ("of", "for", "on", "to"):
            return words[i - 1].lower().rstrip(".")
    return words[-1].lower().rstrip(".") if words else ""

