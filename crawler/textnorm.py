"""Text normalisation for hashing and diffing report text.

A pure leaf module: stdlib and ``opencc`` only. The pipeline is
``normalise = to_simplified -> to_halfwidth -> per-line fold_whitespace ->
table-row canonical form -> strip_furniture -> drop empty lines``.

Decisions (kept stable: changing them changes every stored hash):

* Script: OpenCC ``t2s``; a traditional (繁體) rendering and the simplified page
  normalise to the same text.
* Width: full-width ASCII U+FF01-U+FF5E becomes ASCII, so ``（一）`` and ``(一)``,
  ``１２`` and ``12``, ``，`` and ``,`` are equal. U+3000 becomes a space. CJK
  punctuation outside that block (、。「」《》〔〕【】“”) is kept as is.
* Whitespace: runs fold to one space; spaces between two CJK characters are
  dropped (Word paste and ``<br>`` inside cells insert them at random).
* Table rows (``| a | b |`` from trafilatura) become ``a | b``; empty cells stay.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable

import opencc

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
# str.translate looks up every character of a CJK text in a dict (~100 ns each); a regex
# that visits only the characters to change is ~15x faster on report text.
_HALFWIDTH = {chr(cp): chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# A space between two CJK characters. The space comes first, so the engine only stops at
# spaces; written ``(?<=[…]) (?=[…])`` it tried the lookbehind at every character (50x slower).
_CJK_GAP = re.compile(rf" (?<=[{_CJK}] )(?=[{_CJK}])")
_PIPE_RUN = re.compile(r"\|{2,}")

_FRAGMENTS = re.compile(
    "|".join(
        [
            r"(?:浏览次数|点击数|点击量|阅读次数|访问次数|浏览量|访问量)\s*(?::\s*\d*\s*次?|\d+\s*次?$|$)",
            r"扫一扫\s*在?手机(?:上)?(?:打开|查看)当前页面?",
            r"[【\[]?\s*打印(?:本页|此页)?\s*[】\]]?\s*[【\[]?\s*关闭(?:窗口|本页)?\s*[】\]]?",
            r"[【\[]\s*(?:打印|关闭|我要纠错|纠错|收藏)\s*[】\]]",
            r"打印本页|关闭窗口|我要纠错",
            r"(?:字体|字号)\s*[:]?\s*[【\[]?\s*(?:大\s*)?(?:中\s*)?(?:小\s*)?[】\]]?",
            r"分享到\s*[:]?(?:\s*(?:微信|微博|新浪微博|QQ空间|QQ好友|朋友圈))*",
            r"繁体版|简体版|无障碍(?:浏览|阅读)?|退出长者模式|长者(?:专版|模式|版)"
            r"|适老化(?:版|服务)?",
            r"今天是\s*\d{4}年\d{1,2}月\d{1,2}日\s*(?:星期[一二三四五六日天])?",
        ]
    )
)
_WHOLE_LINE = re.compile(
    r"^(?:(?:当前|您的|您现在的)位置\s*[:]?.*"
    r"|首页\s*(?:[>›»/|].*)?"
    r"|.{0,60}(?:ICP备|网站标识码|版权所有|主办单位|技术支持).{0,80}"
    r"|(?:打印|关闭|收藏|返回顶部|返回|分享|A\s*[+-]|[\s|/])+"
    r"|[>›»].*"
    r"|\d{4}年\d{1,2}月\d{1,2}日\s*星期[一二三四五六日天]"
    r"|[\s|/>·-]*)$"
)
# Every ``_FRAGMENTS`` match holds one of these (``_may_hold_fragment``).
_FRAGMENT_WORDS = (
    *("浏览", "点击", "阅读次数", "访问", "扫一扫", "打印", "关闭", "纠错", "【", "["),
    *("字体", "字号", "分享到", "繁体版", "简体版", "无障碍", "长者", "适老化", "今天是"),
)
_FRAGMENT_CHARS = frozenset(word[0] for word in _FRAGMENT_WORDS)
_META_LABEL = re.compile(r"(?:信息来源|来源|发布时间|发布日期|发文日期|日期|时间|作者|编辑)\s*:")
_INFO_LABEL = re.compile(r"索引号|发布机构|公开日期|成文日期|主题分类|文号|关键词|时效|公开方式")
_DATE = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}")
_WORDISH = re.compile(rf"[{_CJK}A-Za-z0-9]")


@functools.cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(s: str) -> str:
    """Convert traditional Chinese to simplified with OpenCC ``t2s``.

    >>> to_simplified("江蘇省2020年政府信息公開工作年度報告")
    '江苏省2020年政府信息公开工作年度报告'
    >>> to_simplified("")
    ''
    """
    return _t2s().convert(s) if s else s


def to_halfwidth(s: str) -> str:
    """Map full-width ASCII to half-width and U+3000 to a space; keep CJK punctuation.

    >>> to_halfwidth("（一）２０２０年，ＡＢ：")
    '(一)2020年,AB:'
    >>> to_halfwidth("《条例》、「引」。\\u3000")
    '《条例》、「引」。 '
    """
    return _FULLWIDTH.sub(_half, s)


def _half(match: re.Match[str]) -> str:
    return _HALFWIDTH[match.group()]


def fold_whitespace(s: str) -> str:
    """Fold whitespace runs to one space per line, drop empty lines and CJK gaps.

    Zero-width characters are removed; a space between two CJK characters is
    dropped (``结果 维持`` → ``结果维持``); lines are stripped.

    >>> fold_whitespace("  a \\t b\\n\\n\\u3000结果 维持\\u200b \\n")
    'a b\\n结果维持'
    """
    text = "\n".join(_INVISIBLE.sub("", s).splitlines())  # every line break is now "\n"
    lines = _SPACES.sub(" ", text).split("\n")  # one pass: _SPACES holds no "\n"
    return _CJK_GAP.sub("", "\n".join(line for line in map(str.strip, lines) if line))


def _table_row(line: str) -> str:
    """Canonical table row: layout debris (``||||``) dropped, ``a | b`` spacing."""
    line = _PIPE_RUN.sub(" ", line).strip().strip("|")
    if "|" not in line:
        return line.strip()
    return " | ".join(cell.strip() for cell in line.split("|")).strip()


def _is_meta_line(line: str) -> bool:
    """A 来源/发布时间 title line or an info-disclosure (索引号 …) row."""
    if len(line) > 160:
        return False
    labels = len(_META_LABEL.findall(line))
    if labels >= 2 or (labels == 1 and _DATE.search(line)):
        return True
    return len(set(_INFO_LABEL.findall(line))) >= 2


def _may_hold_fragment(line: str) -> bool:
    """False when ``line`` holds none of the furniture keywords, so ``_FRAGMENTS`` cannot
    match: its nine alternatives are tried at every position (140 µs for a 700-character
    paragraph). The character test first: most lines are short cells and figures."""
    return not _FRAGMENT_CHARS.isdisjoint(line) and any(w in line for w in _FRAGMENT_WORDS)


def _strip_line(line: str) -> str:
    """Remove furniture fragments; '' when the line is furniture only."""
    if _WHOLE_LINE.match(line) or _is_meta_line(line):
        return ""
    kept = _FRAGMENTS.sub(" ", line) if _may_hold_fragment(line) else line
    rest = kept.strip(" |/·-")
    if rest != line.strip() and len(_WORDISH.findall(rest)) < 6:
        return ""
    return _SPACES.sub(" ", rest) if rest != line.strip() else line.strip()


def strip_furniture(lines: Iterable[str]) -> list[str]:
    """Drop page-furniture lines and fragments; keep body lines.

    Furniture: view counters (浏览次数/点击数/阅读次数), 扫一扫在手机打开当前页,
    打印/关闭, 字体:[大 中 小], 分享到, 繁體/简体/无障碍/长者/适老化 toggles,
    breadcrumbs (当前位置, 首页 > …), 来源/发布时间 metadata lines, info-disclosure
    rows (索引号/发布机构/…), 今天是… date stamps, 【我要纠错】. A line that loses a
    fragment and keeps fewer than six word characters (``/ 县市区``) is dropped.
    Expects simplified, half-width input (as in ``normalise``).

    >>> strip_furniture(["当前位置:首页 > 信息公开", "一、总体情况", "浏览次数:123",
    ...     "扫一扫在手机打开当前页", "打印 关闭", "字体:[大 中 小]", "无。"])
    ['一、总体情况', '无。']
    >>> strip_furniture(["信息来源:综合处 发布日期:2021-01-05 10:17 浏览次数:",
    ...     "今天是2026年11月23日 星期一", "正文里发布时间节点限制等要求。"])
    ['正文里发布时间节点限制等要求。']
    """
    out = []
    for line in lines:
        kept = _strip_line(line)
        if kept:
            out.append(kept)
    return out


def normalise(text: str) -> str:
    """Normalise page text for hashing and diffing: one paragraph or table row per line.

    >>> normalise("（一）總體情況\\n| 予以公開 | １５１ |\\n\\n打印　关闭")
    '(一)总体情况\\n予以公开 | 151'
    >>> normalise("(一)总体情况\\n予以公开 | 151") == normalise("（一）總體情況\\n|予以公開|151|")
    True
    """
    text = to_halfwidth(to_simplified(text)).replace("\\|", "|")
    lines = (_table_row(line) for line in fold_whitespace(text).splitlines())
    return "\n".join(strip_furniture(line for line in lines if line))


def content_hash(text: str) -> str:
    """Return the sha256 hex digest of ``text`` (UTF-8).

    >>> content_hash("")[:16]
    'e3b0c44298fc1c14'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# C0 controls but tab and newline, DEL, and C1 controls: never valid in XML 1.0 text,
# mail headers or a terminal (ESC starts an escape sequence, \x9b is a one-byte CSI).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST (title, hyperlink)
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS / PM / APC / SOS ... ST
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI ... final byte (colours, cursor moves, clear)
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # one-byte CSI
    r"|\x1b[ -/]*[0-~]?"  # other two-byte escapes
)


def strip_controls(text: str) -> str:
    """``text`` without escape sequences and C0/C1 control characters (tab, newline kept).

    An escape sequence goes whole (an OSC window title is not left as visible junk).

    >>> strip_controls("标题\\x1b]0;pwned\\x07年报\\x01\\x7f\\x85\\tA\\nB\\x1b[31m红\\r")
    '标题年报\\tA\\nB红'
    """
    if not text:
        return text
    return _CONTROLS.sub("", _ESCAPES.sub("", text))
