"""A printed cell → a number or unknown (STATS.md "Values").

May import: the standard library only.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

UNKNOWN = {"", "/", "／", "—", "——", "-", "－", "–", "无", "空", "\\", "\\/"}
NUMBER = re.compile(r"^([+\-−])?(\d+(?:,\d{3})*(?:\.\d+)?)(?:万元|万|元|件|个|项|条|次)?$")
SPACE = re.compile(r"[\s\u00a0\u3000\u200b]+")


@lru_cache(maxsize=8192)  # cells repeat (0, 1, /, labels): normalise each string once
def clean(text: str) -> str:
    """NFKC (full-width digits and brackets to half width), all white space removed.

    >>> clean("２ 1８ ")
    '218'
    """
    return SPACE.sub("", unicodedata.normalize("NFKC", text))


def is_unknown(text: str) -> bool:
    """A blank, ``/``, ``—``, ``-``, ``无`` or ``空`` cell."""
    return clean(text) in UNKNOWN


@lru_cache(maxsize=8192)
def is_value(text: str) -> bool:
    """A cell holding a number or an unknown marker (not a label).

    >>> [is_value(t) for t in ("218", "+36", "115800万元", "/", "1.属于国家秘密", "")]
    [True, True, True, True, False, True]
    """
    cleaned = clean(text)
    return cleaned in UNKNOWN or NUMBER.match(cleaned) is not None


@lru_cache(maxsize=8192)
def number(text: str) -> int | float | None:
    """The value of a printed cell: int, float for decimals, None when unknown.

    >>> number("+36"), number("-582"), number("18651.06"), number("1,234"), number("—")
    (36, -582, 18651.06, 1234, None)
    """
    m = NUMBER.match(clean(text))
    if not m:
        return None
    sign = -1 if m.group(1) in ("-", "−") else 1
    digits = m.group(2).replace(",", "")
    return sign * (float(digits) if "." in digits else int(digits))
