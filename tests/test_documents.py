"""Reports as files: PDF and DOCX made by code (Chinese text and a table), image-only
and legacy files, the real 淮安/洪泽 PDFs when ../shared is present, and ``nianbao extract``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crawler.documents import extract_document, kind_of
from crawler.extract import is_cover, judge
from crawler.workers import extract_job
from mirror import docgen
from mirror.families import portals as cms

UNIT = "青石县人民政府"
REAL = Path(__file__).resolve().parents[2] / "shared" / "realpages"


def test_text_pdf_gives_title_issuer_year_and_table_rows():
    paras = cms.report_paras(UNIT, 2021, 5)
    ex = extract_document(
        docgen.text_pdf(paras[1:], rows=cms.table_rows(2021)), "http://h/P0.pdf", anchor=paras[0]
    )
    assert (ex.title, ex.issuer, ex.year, ex.is_report, ex.quality) == (
        paras[0],
        UNIT,
        2021,
        True,
        "ok",
    )
    assert "一、总体情况" in ex.text.splitlines() and "行政规范性文件 15 1 50" in ex.text
    assert any(
        line.startswith("本报告由") and line.endswith("联系。") for line in ex.text.splitlines()
    )  # re-flowed


def test_pdf_title_from_its_first_lines_when_metadata_and_anchor_say_nothing():
    paras = cms.report_paras(UNIT, 2020)
    lines = [UNIT, "2020年政府信息公开工作年度报告"] + paras[1:]
    ex = extract_document(
        docgen.text_pdf(lines, title="政府信息公开工作年度报告"), "http://h/x.pdf", anchor="下载"
    )
    assert ex.year == 2020 and ex.issuer == UNIT


def test_docx_keeps_tables_row_by_row():
    paras = cms.report_paras(UNIT, 2018)
    ex = extract_document(docgen.docx(paras, cms.table_rows(2018)), "http://h/a.docx")
    assert ex.title == paras[0] and ex.quality == "ok"
    assert "信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数" in ex.text.splitlines()


def test_image_only_pdf_keeps_its_title_line_never_empty():
    anchor = "青石县人民政府2019年政府信息公开工作年度报告（图片版）"
    ex = extract_document(docgen.image_pdf(), "http://h/P02019.pdf", anchor=anchor)
    assert ex.quality == "image-only" and ex.is_report and ex.year == 2019
    assert ex.text == "青石县人民政府2019年政府信息公开工作年度报告(图片版)" and ex.problem is None
    again = extract_document(docgen.image_pdf(pages=3), "http://h/P02019.pdf", anchor=anchor)
    assert again.text_sha == ex.text_sha  # a re-scan is not an edit


@pytest.mark.skipif(
    bool(shutil.which("antiword") or shutil.which("catdoc")), reason="a converter is installed"
)
def test_legacy_doc_without_a_converter_is_unsupported():
    ex = extract_document(
        b"\xd0\xcf\x11\xe0" + bytes(600),
        "http://h/down.jsp?f=2019%E5%B9%B4%E6%8A%A5.doc",
        anchor="某县2019年政府信息公开工作年度报告",
    )
    assert (
        ex.quality == "unsupported"
        and ex.is_report
        and ex.text == "某县2019年政府信息公开工作年度报告"
    )


def test_damaged_pdf_is_a_problem_not_a_report():
    assert extract_document(b"%PDF-1.4\n garbage", "http://h/a.pdf").problem == "error"


def test_kinds_and_dispatch():
    assert (
        kind_of("http://h/a.PDF") == "pdf"
        and kind_of("http://h/a.html", "text/html", b"<html>") is None
    )
    assert kind_of("http://h/get?id=3", "application/octet-stream", b"PK\x03\x04...") == "docx"
    job = extract_job(
        docgen.image_pdf(),
        "http://h/a.pdf",
        "application/pdf",
        "某县",
        "fp",
        "某县2019年政府信息公开工作年度报告",
    )
    assert job.quality == "image-only"


def test_cover_and_image_only_pages():
    cover = (
        '<html><head><title>某县2022年政府信息公开工作年度报告</title></head><body><div id="zoom"><p>详见附件。</p>'
        '<a href="/f/nb2022.docx">某县2022年政府信息公开工作年度报告.docx</a></div></body></html>'
    ).encode()
    assert is_cover(judge(cover, "http://h/art/1.html"))
    ex = extract_job(cover, "http://h/art/1.html", "text/html", "某县", None)
    assert not ex.is_report and ex.reason.startswith("cover page")
    image = cover.replace(
        b"<p>\xe8\xaf\xa6\xe8\xa7\x81\xe9\x99\x84\xe4\xbb\xb6\xe3\x80\x82</p>",
        b'<img src="/1.jpg">',
    )
    image = image.replace(b'<a href="/f/nb2022.docx">', b"<a>")
    ex = extract_job(image, "http://h/art/1.html", "text/html", "某县", None)
    assert (
        ex.is_report
        and ex.quality == "image-only"
        and ex.text == "某县2022年政府信息公开工作年度报告"
    )


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/realpages not present")
@pytest.mark.parametrize(
    ("name", "issuer", "year"),
    [
        ("kirogovcompare/hzq2023_working.pdf", "洪泽区人民政府", 2023),
        ("kirogovcompare/hzq2024_working.pdf", "淮安市洪泽区人民政府", 2024),
        ("govnianbao/szfgs2024.pdf", "淮安市人民政府", 2024),
    ],
)
def test_real_wps_pdfs(name, issuer, year):
    ex = judge((REAL / name).read_bytes(), "http://h/" + name)
    assert (ex.issuer, ex.year, ex.is_report, ex.quality) == (issuer, year, True, "ok")
    assert "六、其他需要报告的事项" in ex.text and "- 1 -" not in ex.text


def test_cli_extract_reads_pdf_and_docx(cli, tmp_path):
    paras = cms.report_paras(UNIT, 2021)
    (tmp_path / "nb.pdf").write_bytes(docgen.text_pdf(paras))
    (tmp_path / "nb.docx").write_bytes(docgen.docx(paras, cms.table_rows(2021)))
    for name in ("nb.pdf", "nb.docx"):
        result = cli("extract", str(tmp_path / name), "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert (data["year"], data["issuer"], data["is_report"]) == (2021, UNIT, True)
