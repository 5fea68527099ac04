"""The daemon's small HTTP server: the feed files, and unsubscribe links (stdlib http.server).

Routes: ``/feed.atom`` (every event), ``/feeds/<subscription-id>.atom``, and
``/unsubscribe/<token>`` (GET shows a button, POST unsubscribes: mail scanners that follow
links do not unsubscribe anyone). It serves only files the outbox wrote into the feed folder.

May import: monitor.store.
"""

from __future__ import annotations

import logging
import re
import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from monitor.store import Store

logger = logging.getLogger(__name__)

FEED_PATH = re.compile(r"^/(?:feed|feeds/(\d+))\.atom$")
UNSUB_PATH = re.compile(r"^/unsubscribe/([A-Za-z0-9_-]{8,64})$")


class _Handler(BaseHTTPRequestHandler):
    server_version = "nianbao"
    feed_dir: Path
    db: Path

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("HTTP %s", format % args)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        feed = FEED_PATH.match(path)
        if feed:
            name = f"{feed.group(1)}.atom" if feed.group(1) else "feed.atom"
            return self._file(self.feed_dir / name)
        unsub = UNSUB_PATH.match(path)
        if unsub:
            form = '<form method="post"><button>退订 / Unsubscribe</button></form>'
            return self._html(200, f"<p>确认退订年报监测邮件？</p>{form}")
        self._html(404, "not found")

    def do_POST(self) -> None:
        unsub = UNSUB_PATH.match(self.path.split("?", 1)[0])
        if not unsub:
            return self._html(404, "not found")
        with Store(self.db) as store:
            rows = [
                r for r in store.find_subscriptions(unsub.group(1)) if r["token"] == unsub.group(1)
            ]
            if rows:
                store.deactivate_subscriptions([r["id"] for r in rows])
        if rows:
            logger.info("Subscription %s unsubscribed over HTTP", rows[0]["id"])
            return self._html(200, f"<p>已退订：{escape(rows[0]['email'])}</p>")
        self._html(404, "<p>没有这个订阅（或已退订）。</p>")

    def _file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError:
            return self._html(404, "no such feed (yet)")
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _html(self, status: int, body: str) -> None:
        data = f'<!DOCTYPE html><html lang="zh-CN"><meta charset="utf-8"><body>{body}</body></html>'
        raw = data.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class FeedServer:
    """Serve ``feed_dir`` and unsubscribe links on ``host:port`` in a background thread."""

    def __init__(self, feed_dir: Path, db: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"feed_dir": Path(feed_dir), "db": Path(db)})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="feed-http", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self.thread.start()
        logger.info(
            "Serving feeds at %s/feed.atom and %s/feeds/<subscription-id>.atom",
            self.base_url,
            self.base_url,
        )
        return self.base_url

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
