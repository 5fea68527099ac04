"""``MirrorServer``: the offline portal mirror over real HTTP on 127.0.0.1.

A stdlib ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive) answers from the current
``Site`` (``mirror.state``: the portals in the current state) and the synthetic portals
(``mirror.synthetic``). Control endpoints under ``/_mirror/`` switch the state and
publish seeds and expectations. This is the mirror's top layer and its public face.

May import: every module of the mirror; nothing of the product.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import deque
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from mirror.answers import not_found
from mirror.families.discovery import Discovery
from mirror.model import Resp
from mirror.state import Site
from mirror.synthetic import Synthetic

logger = logging.getLogger(__name__)
LOGGED_HEADERS = ("If-None-Match", "If-Modified-Since", "User-Agent", "Cookie", "Accept-Encoding")


class RequestLog:
    """Thread-safe log of (method, path, {header: value}) for the requests served."""

    def __init__(self, maxlen: int = 200_000):
        self._entries: deque[tuple[str, str, dict[str, str]]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._entries.append((method, path, headers))

    def __iter__(self):
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def count(self, path_prefix: str = "") -> int:
        return sum(1 for _, path, _ in self if path.startswith(path_prefix))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def not_modified(resp: Resp, headers) -> bool:
    """True when a conditional request matches the response's validators."""
    etag, inm = resp.headers.get("ETag"), headers.get("If-None-Match")
    if etag and inm:
        return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
    lm, ims = resp.headers.get("Last-Modified"), headers.get("If-Modified-Since")
    if lm and ims:
        try:
            return parsedate_to_datetime(ims) >= parsedate_to_datetime(lm)
        except (TypeError, ValueError):
            return False
    return False


class Handler(BaseHTTPRequestHandler):
    """Routes one request to the mirror."""

    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    mirror: MirrorServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self.answer(head=False)

    def do_HEAD(self) -> None:
        self.answer(head=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        parts = urlsplit(self.path)
        if parts.path != "/_mirror/state":
            self.mirror.requests_seen.add(
                self.command,
                self.path,
                {h: self.headers[h] for h in LOGGED_HEADERS if h in self.headers},
            )
            resp = self.mirror.resolve_post(parts.path, parts.query, data)
            return self.send(
                resp or Resp(405, b"method not allowed", {"Content-Type": "text/plain"})
            )
        try:
            self.mirror.set_state(*[c.strip() for c in data.split(",") if c.strip()])
        except ValueError as exc:
            return self.send(
                Resp(400, str(exc).encode(), {"Content-Type": "text/plain; charset=utf-8"})
            )
        self.send(self.control("/_mirror/state"))

    def answer(self, head: bool) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/_mirror/"):
            return self.send(self.control(parts.path), head)
        self.mirror.requests_seen.add(
            self.command,
            self.path,
            {h: self.headers[h] for h in LOGGED_HEADERS if h in self.headers},
        )
        resp = self.mirror.resolve(parts.path, parts.query) or not_found()
        if resp.action == "drop":
            self.close_connection = True
            return
        if resp.status == 200 and not_modified(resp, self.headers):
            keep = {k: v for k, v in resp.headers.items() if k in ("ETag", "Last-Modified")}
            return self.send(Resp(304, b"", keep), head=True)
        self.send(resp, head)

    def control(self, path: str) -> Resp:
        m = self.mirror
        if path == "/_mirror/state":
            body = json.dumps({"state": list(m.state)}).encode()
        elif path == "/_mirror/seeds.toml":
            return Resp(
                200,
                m.seeds_toml(None).encode(),
                {"Content-Type": "application/toml; charset=utf-8"},
            )
        elif path == "/_mirror/expected.json":
            body = json.dumps(
                {p: sorted(m.expected_reports(p)) for p in m.portal_ids()}, ensure_ascii=False
            ).encode()
        else:
            return Resp(404, b"unknown control endpoint", {"Content-Type": "text/plain"})
        return Resp(200, body, {"Content-Type": "application/json"})

    def send(self, resp: Resp, head: bool = False) -> None:
        body = resp.bytes()
        self.send_response(resp.status)
        for key, value in resp.headers.items():
            self.send_header(key, value)
        if resp.action == "truncate":
            self.send_header("Content-Length", str(len(body) * 2 + 1000))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and resp.status != 304:
            self.wfile.write(body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class MirrorServer:
    """The offline portal mirror. ``start()`` returns ``http://127.0.0.1:PORT``.

    Args:
        state: named changes applied on top of the baseline (``mirror.changes.CHANGES``).
        synthetic: report pages in the synthetic ``bench`` portal (0: no synthetic portals).
        synthetic_noise: the synthetic report pages carry fresh noise on every request.
        families: also serve the four family portals (``mirror.families``).
        family_bench: ``(count, reports)``: that many family portals at scale.
        discovery: also serve the discovery portals (``mirror.families.discovery``: home
            pages with deep menus, for ``nianbao seeds discover``; not in the seeds file).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state: tuple[str, ...] = ("baseline",),
        synthetic: int = 0,
        synthetic_noise: bool = False,
        families: bool = False,
        family_bench: tuple[int, int] = (0, 0),
        discovery: bool = False,
    ):
        self.host, self.port = host, port
        self.discovery = Discovery() if discovery else None
        self.families, self.family_bench = families, family_bench
        self._lock = threading.Lock()
        self._site = Site(tuple(state), families=families, family_bench=family_bench)
        self._synthetic = Synthetic(synthetic, noisy=synthetic_noise) if synthetic > 0 else None
        self.requests_seen = RequestLog()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base = ""

    def start(self) -> str:
        handler = type("MirrorHandler", (Handler,), {"mirror": self})
        self._httpd = _HTTPServer((self.host, self.port), handler)
        self.port = self._httpd.server_address[1]
        self.base = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="mirror", daemon=True
        )
        self._thread.start()
        logger.info(
            "mirror serving at %s (state %s)", self.base, ",".join(self.state) or "baseline"
        )
        return self.base

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def url(self, path: str = "/") -> str:
        return self.base + (path if path.startswith("/") else "/" + path)

    def set_state(self, *changes: str) -> None:
        """Switch to baseline + ``changes`` (applied in order); no arguments: baseline."""
        # ValueError on an unknown name, and the state stays as it was
        site = Site(tuple(changes), families=self.families, family_bench=self.family_bench)
        with self._lock:
            self._site = site
        logger.info("mirror state: %s", ",".join(site.state) or "baseline")

    @property
    def state(self) -> tuple[str, ...]:
        return self._site.state

    def edit_synthetic(self, edits: dict[int, str]) -> None:
        """Edit reports of the synthetic ``bench`` portal: report number → edit name
        (``mirror.synthetic.EDITS``); replaces earlier edits, ``{}`` undoes them."""
        if self._synthetic is None:
            raise ValueError("no synthetic portals: start the mirror with synthetic=N")
        self._synthetic.edit(edits)

    def family_mechanisms(self) -> dict[str, str]:
        """Family portal id → its list mechanism (``hanweb-datastore``, ``jpaas-json`` …)."""
        return {pid: f.mechanism for pid, f in self._site.world.family_portals.items()}

    def resolve(self, path: str, query: str = "") -> Resp | None:
        site = self._site
        resp = site.resolve(path, query)
        if resp is None and self._synthetic is not None:
            resp = self._synthetic.resolve(path, site.world.noise)
        if resp is None and self.discovery is not None:
            resp = self.discovery.resolve(path)
        return resp

    def resolve_post(self, path: str, query: str, data: str) -> Resp | None:
        return self._site.resolve_post(path, query, data)

    def _seed_entries(self) -> list[dict]:
        site, out = self._site, []
        for p in site.world.seed_portals() + (
            list(self._synthetic.portals.values()) if self._synthetic else []
        ):
            out.append(
                {
                    "id": p.id,
                    "name": p.name,
                    "region": p.region,
                    "cms": p.cms,
                    "start_urls": [self.url(p.start_path or p.list_path)],
                    "allow": [self.url(p.prefix)],
                }
            )
        for family in site.world.family_portals.values():
            p = family.portal
            entry = {"id": p.id, "name": p.name, "region": p.region}
            out.append(
                entry
                | ({"cms": family.seed_cms} if family.seed_cms else {})
                | {"start_urls": [self.url(p.list_path)], "allow": [self.url(p.prefix)]}
            )
        if site.world.bad_portal:
            out.append(
                {
                    "id": "bad",
                    "name": "坏页面测试门户",
                    "region": "测试",
                    "cms": "generic",
                    "start_urls": [self.url("/bad/index.html")],
                    "allow": [self.url("/bad/")],
                }
            )
        return out

    def portal_ids(self) -> list[str]:
        return [e["id"] for e in self._seed_entries()]

    def seeds_toml(self, path: str | Path | None = None) -> str:
        """The seeds file for the mirror's portals at their live addresses; written to ``path`` if given."""
        lines = [
            f"# nianbao offline portal mirror at {self.base} (state: {','.join(self.state) or 'baseline'})"
        ]
        for entry in self._seed_entries():
            lines.append("\n[[portal]]")
            lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in entry.items()]
        text = "\n".join(lines) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def expected_reports(self, portal_id: str | None = None) -> set[str]:
        """URLs of the report pages currently published (canonical rendering only)."""
        found = self._site.expected_reports(self.base, portal_id)
        if self._synthetic is not None:
            found |= self._synthetic.reports(self.base, portal_id)
        return found

    def expected_renderings(self, portal_id: str | None = None) -> set[str]:
        """URLs of the other renderings (繁體) of the reports in ``expected_reports``."""
        return self._site.expected_renderings(self.base, portal_id)
