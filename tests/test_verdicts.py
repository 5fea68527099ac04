"""One verdict: every saved page and every generated file gives the same verdict through
the crawl's extraction workers (``crawler.workers.extract_job``, no prior fingerprint)
and through ``nianbao extract PATH --json`` (click's CliRunner on ``monitor.cli.cli``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.extract import COVER_REASON
from crawler.workers import extract_job
from mirror import docgen
from monitor.cli import cli

PAGES = Path(__file__).parent / "pages"
FIELDS = ("is_report", "reason", "quality", "problem", "text_sha")
TITLE = "青石县人民政府2021年政府信息公开工作年度报告"
PARAS = [
    TITLE,
    "一、总体情况",
    "2021年，青石县人民政府坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻落实"
    "《中华人民共和国政府信息公开条例》，不断提升政务公开质量和实效。",
    "二、主动公开政府信息情况",
    "全年主动公开政府信息1234条，其中规范性文件15件，政策解读材料56篇。",
    "三、收到和处理政府信息公开申请情况",
    "全年共受理政府信息公开申请48件，均在法定期限内答复。",
    "六、其他需要报告的事项",
    "本报告由青石县人民政府办公室负责解释，如有疑问请与办公室联系。",
]
SCAN = "青石县人民政府2019年政府信息公开工作年度报告.pdf"
ROWS = [
    ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
    ["规章", "0", "0", "0"],
    ["行政规范性文件", "15", "1", "50"],
]


def _page(body: str) -> bytes:
    return (
        f"<html><head><title>{TITLE}</title></head><body><div class='nav'>首页 &gt; 信息公开"
        f"</div><div id='zoom'>{body}</div></body></html>"
    ).encode()


GENERATED = {  # name -> (bytes, Content-Type a portal would send)
    "text.pdf": (docgen.text_pdf(PARAS, rows=ROWS, title=TITLE), "application/pdf"),
    SCAN: (docgen.image_pdf(), "application/pdf"),  # no text: the file name is the title
    "damaged.pdf": (b"%PDF-1.4\n garbage", "application/pdf"),
    "table.docx": (
        docgen.docx(PARAS, ROWS),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "short.docx": (docgen.docx([TITLE, "详见正文。"]), "application/octet-stream"),
    "cover.html": (
        _page(f"<p>详见附件：</p><a href='/f/nb2021.docx'>{TITLE}.docx</a>"),
        "text/html",
    ),
    "bare_cover.html": (_page("<a href='/f/nb.pdf'>附件</a>"), "text/html"),
    "image.html": (
        _page(f"<p>{TITLE}</p><p><img src='/nb1.jpg'></p><p><img src='/nb2.jpg'></p>"),
        "text/html",
    ),
    "thin.html": (_page("<p>" + "一、总体情况。" * 5 + "</p>"), "text/html"),
}
SAVED = {p.name: (p.read_bytes(), "text/html") for p in sorted(PAGES.glob("*.html"))}
CASES = SAVED | GENERATED


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("verdicts")
    for name, (body, _) in CASES.items():
        (folder / name).write_bytes(body)
    return {name: folder / name for name in CASES}


def crawl_verdict(path: Path, content_type: str) -> dict:
    ex = extract_job(path.read_bytes(), path.resolve().as_uri(), content_type, "", None)
    return {field: getattr(ex, field) for field in FIELDS}


def cli_verdict(path: Path, db: Path) -> dict:
    result = CliRunner().invoke(cli, ["extract", str(path), "--json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    return {field: data[field] for field in FIELDS}


@pytest.mark.parametrize("name", sorted(CASES))
def test_crawl_and_cli_agree(name: str, files: dict[str, Path], tmp_path: Path) -> None:
    path, content_type = files[name], CASES[name][1]
    assert crawl_verdict(path, content_type) == cli_verdict(path, tmp_path / "absent.db")


def test_the_verdicts_themselves(files: dict[str, Path], tmp_path: Path) -> None:
    got = {name: cli_verdict(path, tmp_path / "absent.db") for name, path in files.items()}
    for name in SAVED:
        assert got[name]["is_report"] == ("notice" not in name), name
        assert got[name]["problem"] is None and got[name]["quality"] == "ok", name
    assert got["text.pdf"]["is_report"] and got["table.docx"]["quality"] == "ok"
    assert got[SCAN]["quality"] == "image-only" and got[SCAN]["is_report"]
    assert got["damaged.pdf"]["problem"] == "error"
    cover = got["cover.html"]  # the CLI once said is_report=True, quality=thin here
    assert not cover["is_report"] and cover["reason"].startswith(COVER_REASON)
    assert got["bare_cover.html"] == {**cover, "text_sha": got["bare_cover.html"]["text_sha"]}
    assert got["image.html"]["quality"] == "image-only" and got["image.html"]["is_report"]
    assert got["thin.html"]["problem"] == "thin" and got["short.docx"]["problem"] == "thin"
