"""Dates as documents print them on a line of their own ("Updated April 10, 2026", "10 March 2016").

One month table for the splitter (a date line is front matter, no section: passage_layout) and the
extractors (a file with no stated date is dated by the line its first page prints: `printed_date`).
"""

from __future__ import annotations

import datetime
import re

_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december")
_MONTHS = {**{m: i for i, m in enumerate(_MONTH_NAMES, 1)}, **{m[:3]: i for i, m in enumerate(_MONTH_NAMES, 1)},
           "sept": 9}
_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
# A month's name, whole or cut to three letters ("Sept" too), with or without a full stop.
MONTH = rf"(?:{_NAMES})\.?"
_MONTH = rf"(?P<month>{_NAMES})\.?"  # the same, named, for printed_date to read
# A line that is a date and nothing else, perhaps after a word saying which date it is: "Updated April 10,
# 2026", "April 16, 2026", "10 April 2026", "Published: March 2016", "2026-04-10".
_LEAD = r"(?:(?:last\s+)?(?:updated|revised|published|issued|released|dated?)\s*:?\s*(?:on\s+)?)?"
_DATE_LINES = [re.compile(rf"^{_LEAD}{form}$", re.I) for form in (
    rf"{_MONTH}\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}})",
    rf"(?P<day>\d{{1,2}})\s+{_MONTH}\s+(?P<year>\d{{4}})",
    rf"{_MONTH}\s+(?P<year>\d{{4}})",
    r"(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})",
)]
_HEAD_LINES = 15  # the title block: a date printed further down is one the text talks about


def printed_date(first_page: str, latest_year: int) -> str | None:
    """The date a document prints on a line of its own in its title block ("Updated April 10, 2026"), as
    "2026-04-10" (or "2026-04"); None when no line near the top is a date and nothing else.

    A file without a .toml record was cited "(n.d.)" although its first page says when it was written. Only a
    line that is all date counts: "On April 7, 2026, the United States and Iran agreed" is an event."""
    lines = [" ".join(line.split()) for line in first_page[:4000].splitlines() if line.strip()][:_HEAD_LINES]
    for line in lines:
        if len(line) > 40:
            continue
        for form in _DATE_LINES:
            m = form.match(line)
            if not m:
                continue
            parts = m.groupdict()
            year = int(parts["year"])
            month = _MONTHS[parts["month"].lower()] if parts.get("month") else int(parts["mon"])
            day = int(parts["day"]) if parts.get("day") else None
            try:
                datetime.date(year, month, day or 1)
            except ValueError:
                continue
            if not 1500 <= year <= latest_year:
                continue
            return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")
    return None
