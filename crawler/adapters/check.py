"""A list-only crawl for ``nianbao seeds check``: ``python -m crawler.adapters.check JOB.json``.

Reads every portal's list pages with its adapter and fetches no report, writes nothing
to a store: each list page read is printed as one JSON line on stdout. The job file is
JSON ``{"seeds": [seed dicts], "settings": {...}}``.

May import: crawler.* (never monitor/).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import heuristics
from crawler import settings as default_settings
from crawler.items import ListingItem
from crawler.runner import seed_from_dict
from crawler.spiders.portals import PortalSpider


class PrintListingsPipeline:
    """Print each ``ListingItem`` as a JSON line (the check's only output)."""

    def process_item(self, item: object) -> object:
        if isinstance(item, ListingItem):
            years = sorted({y for y in map(heuristics.report_year, item.anchors) if y})
            line = {
                "portal": item.portal_id,
                "url": item.url,
                "ok": item.ok,
                "status": item.status,
                "adapter": item.adapter,
                "links": item.report_links,
                "years": years,
                "detail": item.detail,
            }
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return item


def build_settings(job: dict) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(job.get("settings") or {}, priority="cmdline")
    settings.set("NIANBAO_LIST_ONLY", True, priority="cmdline")
    settings.set(
        "ITEM_PIPELINES", {"crawler.adapters.check.PrintListingsPipeline": 100}, priority="cmdline"
    )
    settings.set("EXTENSIONS", {}, priority="cmdline")
    settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    return settings


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m crawler.adapters.check JOB.json\n")
        return 2
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    process = CrawlerProcess(build_settings(job))
    process.crawl(PortalSpider, seeds=[seed_from_dict(s) for s in job["seeds"]])
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
