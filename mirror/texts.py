"""Seed texts → report body HTML (the inner HTML of each portal's body container).

The five seed texts in ``texts/`` are page dumps; this module cuts the page chrome off
them (nav lines, title lines, layout debris) and turns what is left into the HTML a
portal's editor would have produced: ``<p>`` paragraphs, headings in ``<strong>``, and
for 启东 the standard tables rebuilt (see ``mirror.tables``).

>>> paragraphs("一\\n\\n  二  \\n")
['一', '二']
>>> bump_years("2020年度，见〔2019〕60号；2019年")
'2021年度，见〔2019〕60号；2020年'
"""

from __future__ import annotations

import html
import re
import threading
from functools import cache
from pathlib import Path

TEXT_DIR = Path(__file__).resolve().parent / "texts"
HEADING = re.compile(r"^([一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）])")
_cc_lock = threading.Lock()


@cache
def seed(name: str) -> str:
    """The raw text of one seed file (``jiangsu_2020_trad`` …)."""
    return (TEXT_DIR / f"{name}.txt").read_text(encoding="utf-8")


@cache
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def convert(text: str, config: str) -> str:
    """OpenCC conversion (``t2s`` or ``s2t``), serialised: one converter per config."""
    with _cc_lock:
        return _converter(config).convert(text)


def paragraphs(text: str) -> list[str]:
    """Non-empty stripped lines."""
    return [line.strip() for line in text.splitlines() if line.strip()]


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
    """江苏 2020 report body, traditional characters, exactly as the seed."""
    return para_html(paragraphs(seed("jiangsu_2020_trad")))


@cache
def jiangsu_2020() -> str:
    """江苏 2020 report body, simplified with OpenCC t2s."""
    return para_html(paragraphs(convert(seed("jiangsu_2020_trad"), "t2s")))


@cache
def jiangsu_2021() -> str:
    """江苏 2021 report body: DERIVED from the 2020 text (imitation data, not a real report):
    years bumped by one and every fourth plain count changed."""
    text = convert(seed("jiangsu_2020_trad"), "t2s")
    return para_html(paragraphs(change_numbers(bump_years(text))))


@cache
def jiangsu_notice() -> str:
    """The look-alike notice (苏政办发〔2020〕65号): mentions 年度报告, is not one."""
    lines = paragraphs(seed("jiangsu_notice_2020"))
    return para_html(lines)


def zhejiang_paras() -> list[str]:
    """浙江 2019 body paragraphs: the debris (runs of ``|``, breadcrumb, footer) cut away."""
    text = seed("zhejiang_2019")
    start = text.index("根据《中华人民共和国政府信息公开条例》")
    end = text.index("六、其他需要报告的事项 无。") + len("六、其他需要报告的事项 无。")
    body = re.sub(r"\s*\|+\s*", " ", text[start:end])
    return [p for p in re.split(r"\s+", body) if p]


def zhejiang_2019(paras: list[str] | None = None) -> str:
    return para_html(paras if paras is not None else zhejiang_paras())


def jszwb_paras() -> list[str]:
    """江苏省政务办 2016 body paragraphs (between the title line and the footer)."""
    lines = paragraphs(seed("jszwb_2016"))
    start = next(i for i, line in enumerate(lines) if line.startswith("信息来源")) + 1
    end = lines.index("扫一扫在手机打开当前页")
    return lines[start:end]


def jszwb_2016(paras: list[str] | None = None) -> str:
    return para_html(paras if paras is not None else jszwb_paras())


@cache
def qidong_2020(edit_number: bool = False) -> str:
    """启东 2020 body: prose paragraphs plus the flattened tables rebuilt as ``<table>``."""
    from mirror import tables  # tables uses para_html from here

    text = seed("qidong_2020")
    body = text[text.index("根据《中华人民共和国政府信息公开条例》") :]
    blocks = [re.sub(r"\s*\n\s*", "\n", b.strip()) for b in re.split(r"\n\s*\n", body) if b.strip()]
    return tables.qidong_body(blocks, edit_number=edit_number)
