"""Benchmark: false alerts and missed edits on noisy portal pages.

Usage: python bench/noise.py [--pages 500] [--passes 5] [--edits 25]

K report pages (realistic portal template, 20-40 KB) are served on 127.0.0.1 with fresh
noise on every request: view counter, today's date, page-generation time, a rotating
"最新信息" sidebar, random tokens in script and CSS URLs, and in some passes a re-indented
layout with attributes reordered. They are crawled once, re-crawled ``passes`` times with
only the noise moving, then once more after M real edits of five kinds (one digit in a
table cell, one character in a sentence, a paragraph added, a paragraph removed, a table
row added). Prints false alerts (goal 0), missed edits (goal 0), time per pass, the
noise-only/first speed ratio (goal ≥ 3x), and diff time per edited report.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.seeds import load_seeds
from mirror.noise import Fresh, Noise, relayout
from mirror.synthetic import Synthetic
from monitor import cycle
from monitor.config import Config
from monitor.events.diff import diff_text
from monitor.store import Store

PARA_END = '</div>\n<div class="tools">'
CELL = re.compile(r'(<span style="font-family:宋体;font-size:10\.5pt">)(\d+)(</span>)')
PROSE = re.compile(r'<p style="text-indent:2em;">([^<]{40,})</p>')
ROW = re.compile(r"<tr>(?:(?!<tr>).)*?</tr></table>", re.S)


def edit_digit(page: str) -> str:
    m = CELL.search(page)
    return page[: m.start(2)] + str(int(m.group(2)) + 1) + page[m.end(2) :]


def edit_char(page: str) -> str:
    m = list(PROSE.finditer(page))[1]
    pos = m.start(1) + 12
    return page[:pos] + ("某" if page[pos] != "某" else "甲") + page[pos + 1 :]


def add_paragraph(page: str) -> str:
    return page.replace(
        PARA_END,
        '<p style="text-indent:2em;">本年度另行补充说明：已完成全部整改事项。</p>\n' + PARA_END,
        1,
    )


def remove_paragraph(page: str) -> str:
    m = list(PROSE.finditer(page))[-1]
    return page[: m.start()] + page[m.end() :]


def add_row(page: str) -> str:
    m = ROW.search(page, page.index('<div id="zoom">'))  # a row of the report's own table
    row = m.group(0)[: -len("</table>")]
    new_row = re.sub(r">(\d+)<", lambda d: f">{int(d.group(1)) + 7}<", row)
    return page[: m.start()] + row + new_row + "</table>" + page[m.end() :]


EDITS = [edit_digit, edit_char, add_paragraph, remove_paragraph, add_row]


def noisy(page: str, layout: bool) -> str:
    fresh = Fresh.draw(Noise())
    page = page.replace('<font id="visit">0</font>', f'<font id="visit">{fresh.counter}</font>')
    page = page.replace("今天是2021年2月1日 星期一", f"今天是{fresh.today}")
    page = page.replace("页面生成时间 2021-02-01 00:00:00", f"页面生成时间 {fresh.now}")
    page = re.sub(r'<div class="zxxx">.*?</div>', fresh.sidebar_html(), page, count=1, flags=re.S)
    page = page.replace('"bench"', f'"{fresh.token}"').replace("=bench", f"={fresh.token}")
    return relayout(page) if layout else page


class Site:
    def __init__(self, pages: int):
        self.synthetic = Synthetic(pages)
        self.edited: dict[str, int] = {}  # path -> index of the edit applied
        self.layout = False

    def answer(self, path: str) -> bytes | None:
        resp = self.synthetic.resolve(path)
        if resp is None:
            return None
        page = resp.bytes().decode()
        if "/art/" not in path:
            return page.encode()
        if path in self.edited:
            page = EDITS[self.edited[path]](page)
        return noisy(page, self.layout).encode()


def serve(site: Site) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as portal web servers do

        def do_GET(self) -> None:
            body = (
                b"User-agent: *\nAllow: /\n"
                if self.path == "/robots.txt"
                else site.answer(self.path)
            )
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--edits", type=int, default=25)
    args = parser.parse_args()
    site = Site(args.pages)
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        seeds_file = Path(tmp) / "seeds.toml"
        seeds_file.write_text(
            f'[[portal]]\nid = "bench"\nname = "基准测试门户"\nregion = "测试"\n'
            f'start_urls = ["{base}/bench/list/index.html"]\nallow = ["{base}/bench/"]\n',
            encoding="utf-8",
        )
        seeds = load_seeds([seeds_file])
        config = Config(
            db=Path(tmp) / "noise.db",
            settings={
                "DOWNLOAD_DELAY": 0,
                "AUTOTHROTTLE_ENABLED": False,
                "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
                "NIANBAO_MAX_PAGES_PER_PORTAL": args.pages * 2 + 100,
                "NIANBAO_MAX_LIST_PAGES": args.pages // 5 + 50,
            },
        )
        print(
            f"{args.pages} noisy report pages on {base}; {args.passes} noise-only passes, then {args.edits} edits"
        )

        def crawl(label: str) -> tuple[cycle.CrawlResult, float]:
            t0 = time.monotonic()
            result = cycle.crawl(config, seeds, trigger="bench")
            wall = time.monotonic() - t0
            kinds = {
                k: v
                for k, v in result.counts().items()
                if k in ("new", "edited", "removed", "moved") and v
            }
            print(
                f"{label:<12} {wall:6.2f} s  {args.pages / wall:6.1f} pages/s  extracted "
                f"{result.stats.get('extracted', 0):>5}  events {kinds or '{}'}  errors {len(result.problems)}",
                flush=True,
            )
            return result, wall

        first, first_wall = crawl("first")
        false_alerts, noise_walls = 0, []
        for n in range(args.passes):
            site.layout = n % 2 == 1
            result, wall = crawl(f"noise {n + 1}")
            false_alerts += len(result.events)
            noise_walls.append(wall)
        site.layout = False
        chosen = random.Random(7).sample(range(args.pages), args.edits)
        site.edited = {f"/bench/art/{i}.html": k % len(EDITS) for k, i in enumerate(chosen)}
        result, _ = crawl("edits")
        edited_urls = {f"{base}{p}" for p in site.edited}
        hits = {e.url for e in result.events if e.kind == "edited" and e.url in edited_urls}
        false_alerts += len(
            [e for e in result.events if e.url not in edited_urls or e.kind != "edited"]
        )
        with Store(config.db) as store:
            pairs = [
                (store.version(e.old_version_id)["text"], store.version(e.new_version_id)["text"])
                for e in result.events
                if e.kind == "edited"
            ]
        t0 = time.perf_counter()
        for old, new in pairs:
            diff_text(old, new)
        diff_ms = 1000 * (time.perf_counter() - t0) / max(1, len(pairs))
    server.shutdown()
    median_noise = sorted(noise_walls)[len(noise_walls) // 2]
    print(
        f"false alerts: {false_alerts} (goal 0); missed edits: {len(edited_urls - hits)} of {args.edits} (goal 0)"
    )
    print(
        f"noise-only pass (median) {first_wall / median_noise:.1f}x faster than the first crawl (goal ≥ 3x); "
        f"diff {diff_ms:.2f} ms per edited report"
    )


if __name__ == "__main__":
    main()
