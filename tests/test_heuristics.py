"""Title, classification, URL and problem-page predicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler import heuristics

TITLES = json.loads((Path(__file__).parent / "data" / "titles.json").read_text(encoding="utf-8"))
TEXTS = Path(__file__).parents[1] / "mirror" / "texts"


@pytest.mark.parametrize("case", TITLES, ids=[c["id"] for c in TITLES])
def test_title_table(case: dict) -> None:
    assert heuristics.is_report_title(case["title"]) is case["is_report"]
    assert heuristics.report_year(case["title"]) == case["year"]
    assert heuristics.issuer_from_title(case["title"]) == case["issuer"]


def test_notice_seed_is_not_a_report() -> None:
    text = (TEXTS / "jiangsu_notice_2020.txt").read_text(encoding="utf-8")
    is_report, reason = heuristics.classify_report(
        "省政府办公厅关于印发当前政务公开重点工作安排的通知", text
    )
    assert is_report is False
    assert "notice" in reason and "印发" in reason


def test_notice_body_without_title_is_not_a_report() -> None:
    text = (TEXTS / "jiangsu_notice_2020.txt").read_text(encoding="utf-8")
    assert heuristics.classify_report("", text)[0] is False


@pytest.mark.parametrize(
    ("name", "title", "sections"),
    [
        ("qidong_2020.txt", "启东市人民政府2020年政府信息公开工作年度报告", 6),
        ("zhejiang_2019.txt", "浙江省2019年政府信息公开工作年度报告", 6),
        ("jiangsu_2020_trad.txt", "江蘇省2020年政府信息公開工作年度報告", 6),
        ("jszwb_2016.txt", "江苏省政务服务管理办公室2016年政府信息公开工作年度报告", 0),
    ],
)
def test_report_seeds_are_reports(name: str, title: str, sections: int) -> None:
    is_report, reason = heuristics.classify_report(
        title, (TEXTS / name).read_text(encoding="utf-8")
    )
    assert is_report is True
    assert f"{sections}/6" in reason


def test_body_alone_can_make_a_report() -> None:
    text = (TEXTS / "qidong_2020.txt").read_text(encoding="utf-8")
    assert heuristics.classify_report("", text)[0] is True


def test_list_page_is_not_a_report() -> None:
    listing = "\n".join(
        f"平潭综合实验区{y}年度政府信息公开工作年度报告\n{y + 1}-03-01" for y in range(2016, 2024)
    )
    is_report, reason = heuristics.classify_report("政府信息公开年报", listing)
    assert is_report is False and "list" in reason


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.gov.cn/art/2021/2/19/report.pdf", True),
        ("https://a.gov.cn/u/P020240308.DOCX", True),
        ("https://a.gov.cn/x/报告.wps", True),
        ("https://a.gov.cn/x/tables.xls", True),
        ("https://a.gov.cn/x/report.ofd#page=2", True),
        ("/module/download/downfile.jsp?classid=0&filename=2011.pdf", True),
        ("https://a.gov.cn/download.jsp?filename=x.pdf&id=3", True),
        ("https://a.gov.cn/art/2021/2/19/art_1_2.html", False),
        ("https://a.gov.cn/pdf/index.html", False),
        ("https://a.gov.cn/search?q=pdf", False),
    ],
)
def test_is_attachment_url(url: str, expected: bool) -> None:
    assert heuristics.is_attachment_url(url) is expected


@pytest.mark.parametrize(
    ("status", "text", "title", "expected"),
    [
        (200, "抱歉，您访问的页面不存在或已被删除。返回首页", "", "soft404"),
        (200, "", "404 Not Found", "soft404"),
        (200, "系统维护中，给您带来不便敬请谅解", "", "maintenance"),
        (200, "网站维护中", "系统升级公告", "maintenance"),
        (200, "您的访问请求可能对网站造成安全威胁，请求已被拦截。", "", "waf"),
        (403, "网站防火墙 安全狗 拦截", "", "waf"),
        (200, "请登录后访问 用户登录 统一身份认证", "", "login"),
        (
            412,
            "<meta r='m'><script>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.cd='qEk'</script>",
            "",
            "challenge",
        ),
        (
            521,
            "<script>document.cookie='__jsluid_s=abc';location.href=location.pathname</script>",
            "",
            "challenge",
        ),
        (200, "<script>document.cookie='x=1';window.location.reload()</script>", "", "challenge"),
        (200, "  ", "", "empty"),
        (
            200,
            "一、总体情况。" * 300 + "系统升级改造" + "找不到",
            "某某县2020年政府信息公开工作年度报告",
            None,
        ),
    ],
)
def test_page_problem(status: int, text: str, title: str, expected: str | None) -> None:
    assert heuristics.page_problem(status, text, title) == expected


def test_is_challenge_body_on_raw_bytes() -> None:
    assert (
        heuristics.is_challenge_body(b"<html><script>$_ts=window['$_ts'];</script>") == "challenge"
    )
    assert heuristics.is_challenge_body("<title>云锁</title>".encode()) == "waf"
    assert heuristics.is_challenge_body(("<p>正文</p>" * 2000).encode("utf-8")) is None
