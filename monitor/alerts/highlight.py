"""Diff highlighting for alerts: a unified diff as escaped HTML (removed lines red, added
lines green, the changed characters of a line pair marked), for mails and feed entries
(``monitor.alerts.render``) and, marked with classes, for the event page
(``highlight_pair``, used by ``monitor.web.diffview``).

Every line comes from a crawled page: it is escaped with ``html.escape`` before it is
wrapped. Styles are inline, because mail clients drop ``<style>`` blocks.

May import: the standard library. Nothing here sends or stores.
"""

from __future__ import annotations

from collections.abc import Callable
from difflib import SequenceMatcher
from html import escape

MAX_DIFF_LINES = 200
"""Diff lines shown per event; the rest is summarised as "其余 N 行略"."""
CHAR_DIFF_CAP = 200
"""Longest changed span (after trimming common prefix/suffix) compared char by char."""

_STYLE = {
    "diff": "font-family:Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;"
    "word-break:break-all;border:1px solid #d0d7de;border-radius:6px;padding:6px;",
    "del_line": "background:#ffebe9;color:#82071e;text-decoration:none;display:block;",
    "ins_line": "background:#e6ffec;color:#116329;text-decoration:none;display:block;",
    "del_char": "background:#ff8182;font-weight:bold;",
    "ins_char": "background:#4ac26b;font-weight:bold;",
    "hunk": "background:#ddf4ff;color:#0969da;display:block;",
    "ctx": "display:block;",
}


def diff_lines(diff: str, limit: int = MAX_DIFF_LINES) -> tuple[list[str], int]:
    """The first ``limit`` lines of ``diff``, and how many more there are."""
    lines = diff.splitlines()
    return lines[:limit], max(0, len(lines) - limit)


def _highlight_pair(
    old: str, new: str, mark: Callable[[str, bool, str], str] | None = None
) -> tuple[str, str]:
    """Escaped old/new lines with the changed characters wrapped in highlight spans.

    The common prefix and suffix are trimmed first, so long lines with a small change stay
    fast; a changed middle longer than ``CHAR_DIFF_CAP`` is highlighted as a whole.

    >>> _highlight_pair("予以公开 151", "予以公开 152")[1]
    '予以公开 15<span style="background:#4ac26b;font-weight:bold;">2</span>'
    """
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    old_mid, new_mid = old[start : len(old) - end], new[start : len(new) - end]
    if len(old_mid) > CHAR_DIFF_CAP or len(new_mid) > CHAR_DIFF_CAP:
        ops = [("replace", 0, len(old_mid), 0, len(new_mid))]
    else:
        ops = SequenceMatcher(None, old_mid, new_mid, autojunk=False).get_opcodes()
    mark = mark or _mark
    old_html, new_html = [escape(old[:start])], [escape(new[:start])]
    for tag, i1, i2, j1, j2 in ops:
        old_html.append(mark(old_mid[i1:i2], tag != "equal", "del_char"))
        new_html.append(mark(new_mid[j1:j2], tag != "equal", "ins_char"))
    old_html.append(escape(old[len(old) - end :]))
    new_html.append(escape(new[len(new) - end :]))
    return "".join(old_html), "".join(new_html)


def _mark(text: str, changed: bool, style: str) -> str:
    if not text:
        return ""
    if not changed:
        return escape(text)
    return f'<span style="{_STYLE[style]}">{escape(text)}</span>'


def _class_mark(text: str, changed: bool, kind: str) -> str:
    if not text:
        return ""
    return f'<span class="{kind}">{escape(text)}</span>' if changed else escape(text)


def highlight_pair(old: str, new: str) -> tuple[str, str]:
    """As the mails highlight changed characters, but marked with ``class="del_char"`` /
    ``class="ins_char"`` for pages whose Content-Security-Policy forbids inline styles.

    >>> highlight_pair("予以公开 151", "予以公开 152")[1]
    '予以公开 15<span class="ins_char">2</span>'
    """
    return _highlight_pair(old, new, _class_mark)


def _diff_block(removed: list[str], added: list[str]) -> list[str]:
    """HTML for one run of removed lines followed by added lines, paired for highlighting."""
    old_html = [escape(line) for line in removed]
    new_html = [escape(line) for line in added]
    for i in range(min(len(removed), len(added))):
        old_html[i], new_html[i] = _highlight_pair(removed[i], added[i])
    out = [f'<del style="{_STYLE["del_line"]}">-{h}</del>' for h in old_html]
    out += [f'<ins style="{_STYLE["ins_line"]}">+{h}</ins>' for h in new_html]
    return out


def _line_kind(line: str | None, in_hunks: bool) -> str:
    """ "-", "+", "@" (hunk header) or " " (context, file header, end)."""
    if line is None:
        return " "
    if line.startswith("@@"):
        return "@"
    if not in_hunks and line.startswith(("--- ", "+++ ")):
        return " "
    return line[:1] if line[:1] in ("-", "+") else " "


def render_diff_html(diff: str, limit: int = MAX_DIFF_LINES) -> str:
    """A unified diff as escaped HTML: <del> red lines, <ins> green lines, changed chars marked."""
    lines, rest = diff_lines(diff, limit)
    out: list[str] = []
    removed: list[str] = []
    added: list[str] = []
    in_hunks = False
    for line in [*lines, None]:  # None flushes the last run
        kind = _line_kind(line, in_hunks)
        if kind == "-" and not added:
            removed.append(line[1:])
            continue
        if kind == "+":
            added.append(line[1:])
            continue
        out += _diff_block(removed, added)
        removed, added = [], []
        if kind == "-":
            removed.append(line[1:])
        elif kind == "@":
            in_hunks = True
            out.append(f'<span style="{_STYLE["hunk"]}">{escape(line)}</span>')
        elif line is not None:
            out.append(f'<span style="{_STYLE["ctx"]}">{escape(line) or "&nbsp;"}</span>')
    if rest:
        out.append(f'<span style="{_STYLE["ctx"]}">…（其余 {rest} 行略）</span>')
    return f'<div style="{_STYLE["diff"]}">' + "".join(out) + "</div>"
