"""List adapters (pure), family detection, and the anti-bot / politeness middlewares."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler import adapters
from crawler.adapters.hanweb import HanwebAdapter
from crawler.adapters.jpaas import JpaasAdapter
from crawler.adapters.trs import TrsAdapter
from crawler.middlewares import (
    ChallengeMiddleware,
    PoliteUserAgentMiddleware,
    RetryAfterMiddleware,
    retry_after_seconds,
)
from mirror import hostile

LI = '<li><a href="/art/2021/2/5/art_5_{n}.html" title="某市{n}年政府信息公开工作年度报告">x</a><span>2021-02-05</span></li>'
NEXT = (
    '<nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&appid=1&webid=2&path=/'
    '&columnid=5&unitid=77&webname=%E6%9F%90%E5%B8%82&permissiontype=0"></a>]]></nextgroup>'
)


def datastore(ns, nextgroup=NEXT, total=""):
    records = "".join(f"<record><![CDATA[{LI.format(n=n)}]]></record>" for n in ns)
    return f'<script type="text/xml"><datastore>{nextgroup}{total}<recordset>{records}</recordset></datastore></script>'


def test_hanweb_reads_embedded_records_then_posts_until_the_total():
    page = adapters.ADAPTERS["hanweb"]().read_page(
        "http://h/col/col5/index.html", datastore(range(15))
    )
    assert len(page.fragments) == 15
    (post,) = page.follow
    assert post.method == "POST" and post.data
    assert (
        post.url == "http://h/module/web/jpage/dataproxy.jsp?startrecord=16&endrecord=60&perpage=15"
    )
    assert post.formdata == {
        "col": "1",
        "appid": "1",
        "webid": "2",
        "path": "/",
        "columnid": "5",
        "unitid": "77",
        "webname": "某市",
        "permissiontype": "0",
    }
    full = HanwebAdapter().read_data(
        post.url, datastore(range(16, 61), "", "<totalrecord>70</totalrecord>"), post.info
    )
    assert len(full.fragments) == 45 and full.follow[0].url.endswith(
        "startrecord=61&endrecord=105&perpage=15"
    )
    last = HanwebAdapter().read_data(
        full.follow[0].url, datastore(range(61, 71), ""), full.follow[0].info
    )
    assert len(last.fragments) == 10 and last.follow == []


def test_hanweb_without_nextgroup_reads_what_is_embedded():
    page = HanwebAdapter().read_page(
        "http://h/col/col5/index.html", datastore(range(3), nextgroup="")
    )
    assert len(page.fragments) == 3 and page.follow == []


def test_jpaas_pages_the_unit_endpoint_until_an_empty_page():
    shell = (
        '<script type="text/javascript" src="/js/AuthorizedRead/unitbuild.js" url="/api/unit" '
        'queryData="{&quot;webId&quot;:&quot;3185&quot;,&quot;pageId&quot;:&quot;9&quot;}"></script>'
    )
    (first,) = JpaasAdapter().read_page("http://h/col/col9/index.html", shell).follow
    assert first.url.startswith("http://h/api/unit?webId=3185&pageId=9&paramJson=")
    answer = json.dumps({"data": {"html": "<ul>" + LI.format(n=1) + "</ul>"}})
    more = JpaasAdapter().read_data(first.url, answer, first.info)
    assert more.fragments and more.follow[0].info["page"] == 2
    assert (
        JpaasAdapter().read_data("x", json.dumps({"data": {"html": ""}}), first.info).follow == []
    )
    assert JpaasAdapter().read_data("x", "<html>blocked</html>", first.info).follow == []


def test_trs_follows_the_pages_create_page_html_announces_from_the_first_page_only():
    text = '<script>createPageHTML(4, 0, "index", "shtml");</script>'
    urls = [r.url for r in TrsAdapter().read_page("http://h/nb/index.shtml", text).follow]
    assert urls == [
        "http://h/nb/index_1.shtml",
        "http://h/nb/index_2.shtml",
        "http://h/nb/index_3.shtml",
    ]
    assert (
        TrsAdapter().read_page("http://h/nb/index_2.shtml", text.replace("4, 0", "4, 2")).follow
        == []
    )


@pytest.mark.parametrize(
    ("url", "text", "family"),
    [
        ("http://h/col/col5/index.html", datastore([1]), "hanweb"),
        ("http://h/col/col5/index.html", '<script src="/x/unitbuild.js"></script>', "jpaas"),
        ("http://h/zwgk/nb/index.html", '<div class="TRS_Editor">', "trs"),
        ("http://h/qdsrmzf/xxgknb/index.html", "<p>", "truecms"),
        ("http://h/gknb/list.shtml", "<ul><li>", "generic"),
    ],
)
def test_detect(url, text, family):
    assert adapters.detect(url, text) == family
    assert adapters.choose(None, url, text)[1] == "detected"
    assert adapters.choose("trs", url, text)[0].name == "trs"


def test_every_adapter_has_help():
    assert all(len(text) > 30 for text in adapters.help_text().values())


def answer(resp, url="http://h/art/1.html"):
    return HtmlResponse(url, status=resp.status, body=resp.bytes(), headers=resp.headers)


@pytest.mark.parametrize(
    "resp",
    [hostile.challenge_412(), hostile.jsl_521(), hostile.cookie_reload()],
    ids=["412-ts", "521-jsl", "200-ts-stub"],
)
def test_challenges_are_not_retried_and_a_host_that_keeps_challenging_is_left_alone(resp):
    crawler = get_crawler(settings_dict={"NIANBAO_CHALLENGE_LIMIT": 2})
    mw = ChallengeMiddleware.from_crawler(crawler)
    for _ in range(2):
        request = Request("http://h/art/1.html")
        mw.process_request(request)
        mw.process_response(request, answer(resp))
        assert request.meta["dont_retry"] is True
    with pytest.raises(IgnoreRequest):
        mw.process_request(Request("http://h/art/2.html"))
    mw.process_request(Request("http://other/art/2.html"))  # other hosts are not affected


def test_retry_after_and_user_agent():
    assert retry_after_seconds("30") == 30.0 and retry_after_seconds("") is None
    crawler = get_crawler(
        settings_dict={"USER_AGENT": "nianbao/0.1 (+{contact})", "NIANBAO_CONTACT": "mailto:x@y"}
    )
    request = Request("http://h/")
    PoliteUserAgentMiddleware.from_crawler(crawler).process_request(request)
    assert request.headers[b"User-Agent"] == b"nianbao/0.1 (+mailto:x@y)"


def test_retry_after_delays_the_slot_up_to_a_cap():
    crawler = get_crawler(settings_dict={"NIANBAO_RETRY_AFTER_MAX": 60})
    slot = SimpleNamespace(delay=0.5)
    crawler.engine = SimpleNamespace(
        downloader=SimpleNamespace(slots={"h": slot}, get_slot_key=lambda r: "h")
    )
    mw = RetryAfterMiddleware.from_crawler(crawler)
    soon = Request("http://h/a")
    mw.process_response(soon, HtmlResponse("http://h/a", status=503, headers={"Retry-After": "7"}))
    assert slot.delay == 7 and "dont_retry" not in soon.meta
    later = Request("http://h/b")
    mw.process_response(
        later, HtmlResponse("http://h/b", status=429, headers={"Retry-After": "3600"})
    )
    assert later.meta["dont_retry"] is True and slot.delay == 7
