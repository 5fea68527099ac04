"""Plain text → the HTML a portal editor pastes: ``<p>`` paragraphs, headings in bold.

>>> paragraphs("一\\n\\n  二  \\n")
['一', '二']
>>> para_html(["一、总体情况", "正文。"], indent=False)
'<p><strong>一、总体情况</strong></p>\\n<p>正文。</p>'

May import: the standard library only (a leaf of ``mirror.texts``).
"""

from __future__ import annotations

import html
import re

HEADING = re.compile(r"^([一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）])")


def paragraphs(text: str) -> list[str]:
    """Non-empty stripped lines."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def blocks(text: str) -> list[str]:
    """Blank-line separated blocks, each with its lines stripped (a flattened table cell
    may span several lines).

    >>> blocks("规章\\n\\n 行政规范性\\n 文件 \\n\\n\\n12\\n")
    ['规章', '行政规范性\\n文件', '12']
    """
    return [re.sub(r"\s*\n\s*", "\n", b.strip()) for b in re.split(r"\n\s*\n", text) if b.strip()]


def para_html(paras: list[str], indent: bool = True) -> str:
    """``<p>`` per paragraph; section headings bold, as editors paste them."""
    style = ' style="text-indent:2em;"' if indent else ""
    out = []
    for p in paras:
        text = html.escape(p, quote=False)
        if HEADING.match(p) and len(p) < 40:
            text = f"<strong>{text}</strong>"
        out.append(f"<p{style}>{text}</p>")
    return "\n".join(out)
