"""Many small portals, each on its own loopback address (``HostsMirror``).

All of 127.0.0.0/8 is loopback, and a crawler keys its politeness by host name, so
127.0.1.1, 127.0.1.2, … are different portals to it. Each live host binds its own address
(never 0.0.0.0) and serves a synthetic ``bench`` portal (``mirror.synthetic``: one list page,
``reports`` report pages, one rendering shared by all hosts, so a thousand hosts cost the
memory of one). Host ``i`` (from 0) is at ``127.0.(1 + i // 250).(1 + i % 250)``.

The server counts, per host, the requests it is answering at once (``peak``): the figure a
per-host limit must keep under. ``latency`` seconds are spent on every answer so that
requests do overlap. Faulty hosts, the last ones:

* ``closed``: the address and port are bound but nothing listens: connections are refused;
* ``blackhole``: a listening socket that never accepts: connections hang, nothing answers;
* ``trickle``: every request is answered with headers and then one byte every
  ``trickle_every`` seconds, never finishing.

One thread waits on every listening socket (``selectors``) and each connection gets a
thread, as in ``MirrorServer``.

>>> address(0), address(249), address(250)
('127.0.1.1', '127.0.1.250', '127.0.2.1')

May import: ``mirror.synthetic``, ``mirror.server`` (``not_modified``), ``mirror.answers``,
``mirror.model``.
"""

from __future__ import annotations

import json
import logging
import selectors
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from mirror.answers import not_found
from mirror.model import Resp
from mirror.server import not_modified
from mirror.synthetic import Synthetic

logger = logging.getLogger(__name__)
FAULTS = ("closed", "blackhole", "trickle")
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
TRICKLE_CAP = 600.0  # seconds a trickled answer lasts at most


def address(i: int) -> str:
    """The loopback address of host ``i`` (from 0): 250 hosts per /24."""
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


@dataclass
class Host:
    """One host: its address, port, portal id, fault (None: a live portal) and counters."""

    index: int
    addr: str
    port: int = 0
    fault: str | None = None
    now: int = 0
    peak: int = 0
    served: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def portal_id(self) -> str:
        return f"h{self.index:04d}"

    @property
    def base(self) -> str:
        return f"http://{self.addr}:{self.port}"

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.served += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection's thread ends after this
    mirror: HostsMirror
    host: Host

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self.answer(head=False)

    def do_HEAD(self) -> None:
        self.answer(head=True)

    def answer(self, head: bool) -> None:
        host = self.host
        host.enter()
        try:
            if host.fault == "trickle":
                return self.trickle()
            if self.mirror.latency:
                time.sleep(self.mirror.latency)
            path = urlsplit(self.path).path
            if path == "/robots.txt":
                resp = Resp(200, ROBOTS, {"Content-Type": "text/plain"})
            else:
                resp = self.mirror.synthetic.resolve(path) or not_found()
            if resp.status == 200 and not_modified(resp, self.headers):
                keep = {k: v for k, v in resp.headers.items() if k in ("ETag", "Last-Modified")}
                resp, head = Resp(304, b"", keep), True
            body = resp.bytes()
            self.send_response(resp.status)
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and resp.status != 304:
                self.wfile.write(body)
        finally:
            host.leave()

    def trickle(self) -> None:
        """Headers, then a byte every ``trickle_every`` seconds until the client gives up."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.close_connection = True
        stop, every = self.mirror.stopping, self.mirror.trickle_every
        started = time.monotonic()
        try:
            while not stop.is_set() and time.monotonic() - started < TRICKLE_CAP:
                self.wfile.write(b" ")
                self.wfile.flush()
                stop.wait(every)
        except OSError:
            pass  # the client hung up: that is what it should do


def free_port() -> int:
    """A port free on the hosts' first address, for ``HostsMirror(port=...)``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address(0), 0))
        return sock.getsockname()[1]


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the address's name (socket.getfqdn): for
        # 127.0.1.N that waits for the resolver's timeout, host after host
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        # a crawler that ends resets its idle keep-alive connections: not worth a traceback
        logger.debug("connection from %s ended badly", client_address, exc_info=True)


class HostsMirror:
    """``hosts`` synthetic portals on their own loopback addresses; the last ones faulty.

    Args:
        hosts: how many hosts in all (live and faulty).
        reports: report pages per live portal.
        latency: seconds spent on each answer (so that requests overlap).
        faults: fault name (``FAULTS``) -> how many hosts have it.
        trickle_every: seconds between the bytes of a trickled answer.
        port: the port every host binds on its own address (0: each its own free port).
            With a fixed port, a mirror started again with other faults serves the same
            URLs (a portal that was up on one crawl is down on the next).
    """

    def __init__(
        self,
        hosts: int = 10,
        reports: int = 5,
        latency: float = 0.0,
        faults: dict[str, int] | None = None,
        trickle_every: float = 1.0,
        port: int = 0,
    ):
        faults = dict(faults or {})
        unknown = sorted(set(faults) - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(FAULTS)}")
        if sum(faults.values()) > hosts:
            raise ValueError("more faulty hosts than hosts")
        kinds = [k for k in FAULTS for _ in range(faults.get(k, 0))]
        self.hosts = [
            Host(
                i,
                address(i),
                fault=(kinds[i - (hosts - len(kinds))] if i >= hosts - len(kinds) else None),
            )
            for i in range(hosts)
        ]
        self.reports, self.latency, self.trickle_every = reports, latency, trickle_every
        self.port = port
        self.synthetic = Synthetic(reports)
        self.stopping = threading.Event()
        self._servers: list[_Server] = []
        self._sockets: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self._selector: selectors.BaseSelector | None = None

    def start(self) -> HostsMirror:
        self.stopping.clear()
        self._selector = selectors.DefaultSelector()
        for host in self.hosts:
            if host.fault in ("closed", "blackhole"):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host.addr, self.port))
                if host.fault == "blackhole":
                    sock.listen(1)  # the kernel completes a handshake or two; nobody reads
                host.port = sock.getsockname()[1]
                self._sockets.append(sock)
                continue
            handler = type("HostHandler", (_Handler,), {"mirror": self, "host": host})
            server = _Server((host.addr, self.port), handler)
            host.port = server.server_address[1]
            self._servers.append(server)
            self._selector.register(server, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._serve, name="hosts-mirror", daemon=True)
        self._thread.start()
        logger.info("hosts mirror: %d hosts from %s", len(self.hosts), self.hosts[0].base)
        return self

    def _serve(self) -> None:
        while not self.stopping.is_set():
            for key, _ in self._selector.select(timeout=0.2):
                key.fileobj._handle_request_noblock()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for server in self._servers:
            server.server_close()
        for sock in self._sockets:
            sock.close()
        if self._selector is not None:
            self._selector.close()
        self._servers, self._sockets = [], []

    def __enter__(self) -> HostsMirror:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- what the crawl needs, and what the server saw -----------------------------------

    def seed_entries(self) -> list[dict]:
        return [
            {
                "id": h.portal_id,
                "name": f"多主机测试门户{h.index}",
                "region": "测试",
                "cms": "generic",
                "start_urls": [f"{h.base}/bench/list/index.html"],
                "allow": [f"{h.base}/bench/"],
            }
            for h in self.hosts
        ]

    def seeds_toml(self, path: str | Path | None = None) -> str:
        """The seeds file (``[[portal]]`` entries, as ``MirrorServer.seeds_toml``)."""
        lines = [f"# nianbao hosts mirror: {len(self.hosts)} loopback hosts"]
        for entry in self.seed_entries():
            lines.append("\n[[portal]]")
            lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in entry.items()]
        text = "\n".join(lines) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def live(self) -> list[Host]:
        return [h for h in self.hosts if h.fault is None]

    def faulty(self) -> list[Host]:
        return [h for h in self.hosts if h.fault is not None]

    def expected_reports(self, host: Host) -> set[str]:
        """Report page URLs a live host publishes."""
        return self.synthetic.reports(host.base, "bench") if host.fault is None else set()

    def peak(self) -> int:
        """The most requests any one host was answering at once."""
        return max((h.peak for h in self.hosts), default=0)

    def served(self) -> int:
        return sum(h.served for h in self.hosts)
