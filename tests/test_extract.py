"""Extraction on our saved portal pages (tests/pages/, modelled on real portals)."""

from __future__ import annotations

from pathlib import Path

import opencc
import pytest

from crawler import extract
from crawler.extract import body_fingerprint, extract_page

PAGES = Path(__file__).parent / "pages"
URL = "https://www.example.gov.cn/col/col1/art/2021/art_1_2.html"
FURNITURE = (
    "扫一扫在手机",
    "浏览次数",
    "打印",
    "关闭窗口",
    "字体",
    "分享到",
    "当前位置",
    "索引号",
    "发布机构",
    "无障碍",
    "繁体版",
    "ICP备",
)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@pytest.fixture(scope="module")
def pages() -> dict[str, extract.Extracted]:
    return {p.name: extract_page(p.read_bytes(), URL) for p in sorted(PAGES.glob("*.html"))}


def test_fixture_pages_are_small() -> None:
    files = list(PAGES.glob("*.html"))
    assert 0 < len(files) <= 8
    assert all(p.stat().st_size <= 60_000 for p in files)


@pytest.mark.parametrize("name", sorted(p.name for p in PAGES.glob("*.html")))
def test_no_furniture_in_text(pages: dict, name: str) -> None:
    text = pages[name].text
    for word in FURNITURE:
        assert word not in text, word
    assert pages[name].problem is None
    assert pages[name].body_fp and pages[name].quality == "ok"


@pytest.mark.parametrize(
    ("name", "title", "issuer", "year", "published", "sections"),
    [
        (
            "hanweb_jiangsu_2020_trad.html",
            "江蘇省2020年政府信息公開工作年度報告",
            "江苏省",
            2020,
            "2021-01-29",
            6,
        ),
        (
            "truecms_qidong_2020_gbk.html",
            "启东市人民政府2020年政府信息公开工作年度报告",
            "启东市人民政府",
            2020,
            "2021-02-19",
            6,
        ),
        (
            "hanweb_zhejiang_2019_layout.html",
            "浙江省2019年政府信息公开工作年度报告",
            "浙江省",
            2019,
            "2020-03-31",
            6,
        ),
        (
            "hanweb_jszwb_2016.html",
            "江苏省政务服务管理办公室2016年政府信息公开工作年度报告",
            "江苏省政务服务管理办公室",
            2016,
            "2021-01-05",
            0,
        ),
        (
            "trs_lanhai_2023.html",
            "岚海县人民政府2023年度政府信息公开工作年度报告",
            "岚海县人民政府",
            2023,
            "2024-03-08",
            6,
        ),
        (
            "trs_word_lanhai_2021.html",
            "岚海县人民政府2021年度政府信息公开工作年度报告",
            "岚海县人民政府",
            2021,
            "2022-02-08",
            6,
        ),
    ],
)
def test_report_metadata(
    pages: dict, name: str, title: str, issuer: str, year: int, published: str, sections: int
) -> None:
    got = pages[name]
    assert (got.title, got.issuer, got.year, got.published) == (title, issuer, year, published)
    assert got.is_report is True
    assert f"{sections}/6" in got.reason
    if sections:
        assert "一、总体情况" in got.text and "六、其他需要报告的事项" in got.text


def test_notice_is_not_a_report(pages: dict) -> None:
    got = pages["hanweb_jiangsu_notice_2020.html"]
    assert got.is_report is False
    assert "notice" in got.reason and "印发" in got.reason
    assert got.year is None and got.issuer == "江苏省人民政府办公厅"  # from ContentSource
    assert "苏政办发〔2020〕65号" in got.text


def test_qidong_gbk_tables_and_names(pages: dict) -> None:
    text = pages["truecms_qidong_2020_gbk.html"].text
    assert "张喆、朱镕" in text  # GBK-only characters survive a gb2312 <meta>
    assert "(一)予以公开 |  |  | 149 | 0 | 0 | 0 | 1 | 1 | 151" in text
    assert "行政许可 | 211 | +36 | 243830" in text
    assert "24 | 11 | 14 | 3 | 52 | 36 | 5 | 2 | 15 | 58 | 15 | 4 | 4 | 1 | 24" in text
    assert "来源:启东市人民政府" not in text and "长者专版" not in text


def test_word_pasted_cells_are_joined(pages: dict) -> None:
    text = pages["trs_word_lanhai_2021.html"].text
    assert "结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计" in text
    assert "行政许可 | 15873" in text  # digits split across <span> runs
    assert "\n维\n" not in text and "\n果\n" not in text


def test_trs_attachments_are_absolute(pages: dict) -> None:
    got = pages["trs_lanhai_2023.html"]
    assert got.attachments == [
        "https://www.example.gov.cn/col/col1/art/2021/P020240308512345678901.pdf",
        "https://www.example.gov.cn/fjdzapp/download.jsp?filename=%E5%B9%B4%E6%8A%A52023.docx&id=87001",
    ]
    assert "行政规范性文件 | 7 | 2 | 45" in got.text


def test_jszwb_is_old_format_published_later(pages: dict) -> None:
    got = pages["hanweb_jszwb_2016.html"]
    assert got.year == 2016 and got.published == "2021-01-05"
    assert "一、建章立制" in got.text and "387" not in got.text


def test_traditional_page_hashes_like_its_simplified_twin(pages: dict) -> None:
    trad = page("hanweb_jiangsu_2020_trad.html").decode("utf-8")
    twin = opencc.OpenCC("t2s").convert(trad).replace(">1024<", ">1090<")
    twin = twin.replace("今天是2026年11月23日 星期一", "今天是2026年11月30日 星期一")
    got = extract_page(twin.encode("utf-8"), URL)
    assert got.text_sha == pages["hanweb_jiangsu_2020_trad.html"].text_sha
    assert got.body_fp == pages["hanweb_jiangsu_2020_trad.html"].body_fp


def test_extract_page_fingerprint_matches_body_fingerprint(pages: dict) -> None:
    for name, got in pages.items():
        assert got.body_fp == body_fingerprint(page(name)), name


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("hanweb_jiangsu_2020_trad.html", ">1024<", ">99999<"),
        ("hanweb_jiangsu_2020_trad.html", "今天是2026年11月23日", "今天是2027年1月2日"),
        ("hanweb_jiangsu_2020_trad.html", "全省政務新媒體檢查情況通報", "新的側欄文章標題"),
        (
            "truecms_qidong_2020_gbk.html",
            '浏览次数:<em id="clicks">2231</em>',
            '浏览次数:<em id="clicks">2232</em>',
        ),
        ("trs_lanhai_2023.html", "1234567", "7654321"),
        (
            "hanweb_jiangsu_notice_2020.html",
            "页面生成时间 2026-11-23 10:11:12",
            "页面生成时间 2026-11-24 08:00:00",
        ),
        ("hanweb_jszwb_2016.html", "document.write(387)", "document.write(388)"),
    ],
)
def test_fingerprint_ignores_noise(name: str, old: str, new: str) -> None:
    enc = "gbk" if "gbk" in name else "utf-8"
    body = page(name)
    changed = body.decode(enc).replace(old, new).encode(enc)
    assert changed != body
    assert body_fingerprint(changed) == body_fingerprint(body)


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("truecms_qidong_2020_gbk.html", "<td>151</td>", "<td>152</td>"),
        ("trs_lanhai_2023.html", "15873", "15874"),
        (
            "trs_word_lanhai_2021.html",
            '<span lang=EN-US style="font-size:12pt">8</span>',
            '<span lang=EN-US style="font-size:12pt">9</span>',
        ),
        ("hanweb_zhejiang_2019_layout.html", "无。", "有。"),
    ],
)
def test_fingerprint_sees_body_changes(name: str, old: str, new: str) -> None:
    enc = "gbk" if "gbk" in name else "utf-8"
    body = page(name)
    changed = body.decode(enc).replace(old, new, 1).encode(enc)
    assert changed != body
    assert body_fingerprint(changed) != body_fingerprint(body)
    assert extract_page(changed, URL).text_sha != extract_page(body, URL).text_sha


def test_decode_gbk_with_meta_only() -> None:
    text = extract.decode_html(page("truecms_qidong_2020_gbk.html"))
    assert "朱镕" in text and not extract.looks_mojibake(text)


def test_mojibake_page_is_flagged() -> None:
    body = page("hanweb_jszwb_2016.html").decode("utf-8").encode("utf-8")
    got = extract_page(body, URL, content_type="text/html; charset=iso-8859-1")
    assert got.problem == "mojibake"


@pytest.mark.parametrize(
    ("html", "problem", "quality"),
    [
        (
            "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>",
            "soft404",
            "thin",
        ),
        (
            "<html><body><div class='main'><p>对不起，您访问的页面不存在！</p><a href='/'>返回首页</a></div></body></html>",
            "soft404",
            "thin",
        ),
        ("<html><body><p>网站维护中，请稍后访问。</p></body></html>", "maintenance", "thin"),
        (
            "<html><head><meta r='m'><script>$_ts=window['$_ts'];$_ts.cd='x';</script></head></html>",
            "challenge",
            "thin",
        ),
        ("", "empty", "thin"),
    ],
)
def test_problem_pages(html: str, problem: str, quality: str) -> None:
    got = extract_page(html.encode("utf-8"), URL)
    assert (got.problem, got.quality, got.is_report) == (problem, quality, False)


def test_image_only_report() -> None:
    html = (
        "<html><head><meta name='ArticleTitle' content='某某县2021年政府信息公开工作年度报告(图片版)'>"
        "</head><body><div id='zoom'><p><img src='nb1.jpg'></p><p><img src='nb2.jpg'></p>"
        "<p>某某县2021年政府信息公开工作年度报告</p></div></body></html>"
    )
    got = extract_page(html.encode("utf-8"), URL)
    assert got.quality == "image-only" and got.is_report is True and got.year == 2021


def test_judge_reads_saved_pages_and_files() -> None:
    assert extract.judge(page("hanweb_jszwb_2016.html"), URL).year == 2016
    broken = extract.judge(b"%PDF-1.7", "file:///tmp/report.pdf")  # a file, never a page
    assert broken.problem == "error" and broken.quality == "unsupported"


def test_layout_table_page_keeps_one_paragraph_per_line(pages: dict) -> None:
    lines = pages["hanweb_zhejiang_2019_layout.html"].text.splitlines()
    assert lines[0] == "浙江省2019年政府信息公开工作年度报告"
    assert "三、收到和处理政府信息公开申请情况" in lines
    assert not any(line.startswith("|") or " | " in line for line in lines)


def test_traditional_info_table_is_dropped() -> None:
    html = page("hanweb_jiangsu_2020_trad.html").decode("utf-8")
    assert "索引號" in html
    got = extract_page(html.replace("分類", "標題").encode("utf-8"), URL)
    assert "索引号" not in got.text and "014000319" not in got.text
