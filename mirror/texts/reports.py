"""The saved page dumps → report bodies of the baseline portals (inner HTML of each
portal's body container).

The five texts in ``mirror/texts/`` are page dumps; this module cuts the page chrome off
them (nav lines, title lines, layout debris) and turns what is left into the HTML a
portal's editor would have produced: ``<p>`` paragraphs, headings in ``<strong>``, and
for 启东 the standard tables rebuilt (``mirror.texts.tables``).

>>> bump_years("2020年度，见〔2019〕60号；2019年")
'2021年度，见〔2019〕60号；2020年'

May import: ``mirror.texts.markup``, ``mirror.texts.tables``; OpenCC (loaded on first use).
"""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path

from mirror.texts import tables
from mirror.texts.markup import blocks, para_html, paragraphs

TEXT_DIR = Path(__file__).resolve().parent
_cc_lock = threading.Lock()


@cache
def dump(name: str) -> str:
    """The raw text of one page dump (``jiangsu_2020_trad`` …)."""
    return (TEXT_DIR / f"{name}.txt").read_text(encoding="utf-8")


@cache
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def convert(text: str, config: str) -> str:
    """OpenCC conversion (``t2s`` or ``s2t``), serialised: one converter per config."""
    with _cc_lock:
        return _converter(config).convert(text)


def bump_years(text: str) -> str:
    """Add one to every year written as ``YYYY年`` (not to document numbers like 〔2019〕)."""
    return re.sub(r"(20[0-2]\d)(?=年)", lambda m: str(int(m.group(1)) + 1), text)


def change_numbers(text: str, every: int = 4) -> str:
    """Deterministically change every ``every``-th plain count (not years, dates or doc numbers)."""
    counter = iter(range(10**6))

    def repl(m: re.Match) -> str:
        i = next(counter)
        return str(int(m.group(0)) + 1 + i % 7) if i % every == 0 else m.group(0)

    return re.sub(r"(?<![\d.〔])\d{1,4}(?![\d.年月日号〕])", repl, text)


# -- per portal -------------------------------------------------------------------------


@cache
def jiangsu_2020_trad() -> str:
    """江苏 2020 report body, traditional characters, exactly as dumped."""
    return para_html(paragraphs(dump("jiangsu_2020_trad")))


@cache
def jiangsu_2020() -> str:
    """江苏 2020 report body, simplified with OpenCC t2s."""
    return para_html(paragraphs(convert(dump("jiangsu_2020_trad"), "t2s")))


@cache
def jiangsu_2021() -> str:
    """江苏 2021 report body: DERIVED from the 2020 text (imitation data, not a real report):
    years bumped by one and every fourth plain count changed."""
    text = convert(dump("jiangsu_2020_trad"), "t2s")
    return para_html(paragraphs(change_numbers(bump_years(text))))


@cache
def jiangsu_notice() -> str:
    """The look-alike notice (苏政办发〔2020〕65号): mentions 年度报告, is not one."""
    lines = paragraphs(dump("jiangsu_notice_2020"))
    return para_html(lines)


def zhejiang_paras() -> list[str]:
    """浙江 2019 body paragraphs: the debris (runs of ``|``, breadcrumb, footer) cut away."""
    text = dump("zhejiang_2019")
    start = text.index("根据《中华人民共和国政府信息公开条例》")
    end = text.index("六、其他需要报告的事项 无。") + len("六、其他需要报告的事项 无。")
    body = re.sub(r"\s*\|+\s*", " ", text[start:end])
    return [p for p in re.split(r"\s+", body) if p]


def zhejiang_2019(paras: list[str] | None = None) -> str:
    return para_html(paras if paras is not None else zhejiang_paras())


def jszwb_paras() -> list[str]:
    """江苏省政务办 2016 body paragraphs (between the title line and the footer)."""
    lines = paragraphs(dump("jszwb_2016"))
    start = next(i for i, line in enumerate(lines) if line.startswith("信息来源")) + 1
    end = lines.index("扫一扫在手机打开当前页")
    return lines[start:end]


def jszwb_2016(paras: list[str] | None = None) -> str:
    return para_html(paras if paras is not None else jszwb_paras())


@cache
def qidong_2020(edit_number: bool = False) -> str:
    """启东 2020 body: prose paragraphs plus the flattened tables rebuilt as ``<table>``."""
    text = dump("qidong_2020")
    body = text[text.index("根据《中华人民共和国政府信息公开条例》") :]
    return tables.qidong_body(blocks(body), edit_number=edit_number)


def qidong_section3() -> list[str]:
    """The data blocks of 启东's section 三 table (after its heading), as in the dump."""
    text = dump("qidong_2020")
    return blocks(text[text.index(tables.SEC3) : text.index(tables.SEC4)])[1:]
