"""Run the web app with waitress in a background thread, and check listen addresses.

waitress serves every connection from one event loop and hands complete requests to a few
worker threads, so an idle or slow client costs a socket, not a thread. A connection that
has been idle (no complete request) for ``channel_timeout`` seconds is closed, and at most
``connection_limit`` connections are open at once: beyond that the server stops accepting
until some close. ``parse_listen`` turns ``--http`` values into ``(host, port)`` with a
clear ``ListenError`` for bad ones, and ``public_url`` picks the base URL mails and feeds
link to (never ``http://0.0.0.0``).

May import: the standard library and waitress (the app is passed in).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
import threading
from urllib.parse import urlsplit

import waitress
from waitress import wasyncore

logger = logging.getLogger(__name__)

CHANNEL_TIMEOUT = 30
"""Seconds an open connection may sit without a complete request before it is closed."""
CONNECTION_LIMIT = 500
"""Open connections at most (300 idle clients leave room for real ones); the server stops
accepting new ones while at the limit. Kept well under the usual 1,024 open files."""
THREADS = 4
STOP_TIMEOUT = 5.0
"""Seconds ``stop`` lets running requests finish."""
MAX_BODY = 64 * 1024
"""Bytes of request body accepted: only the unsubscribe forms send one, a few bytes long."""
UNSPECIFIED = ("", "0.0.0.0", "::")


class ListenError(ValueError):
    """A listen address that cannot be used; the message says why, for the user."""


class PublicUrlError(ValueError):
    """A public base URL that is not an absolute http(s) URL."""


def _split(value: str) -> tuple[str, str]:
    """``HOST:PORT``, ``[IPV6]:PORT`` or ``PORT`` → (host, port text)."""
    value = value.strip()
    if value.startswith("["):
        host, sep, port = value[1:].partition("]")
        if not sep or not port.startswith(":"):
            raise ListenError(f"{value!r}: expected [IPV6]:PORT, e.g. [::1]:8080")
        return host, port[1:]
    if value.count(":") > 1:
        raise ListenError(f"{value!r}: put an IPv6 address in brackets, e.g. [::1]:8080")
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", port


def _port(value: str, text: str) -> int:
    if not text.isdigit():
        raise ListenError(f"{value!r}: expected HOST:PORT or PORT (a number 0-65535)")
    port = int(text)
    if port > 65535:
        raise ListenError(f"{value!r}: port {port} is out of range (0-65535)")
    return port


def parse_listen(value: str, *, check_bind: bool = True) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPV6]:PORT`` or a bare ``PORT`` (on 127.0.0.1) → ``(host, port)``.

    Raises ``ListenError`` with a message for the user when the port is not a number or out
    of range, the host is unknown or not an address of this machine, or (``check_bind``) the
    port cannot be bound: in use, or privileged.

    >>> parse_listen("8080", check_bind=False), parse_listen("[::1]:80", check_bind=False)
    (('127.0.0.1', 8080), ('::1', 80))
    >>> parse_listen("127.0.0.1:99999")
    Traceback (most recent call last):
    monitor.web.server.ListenError: '127.0.0.1:99999': port 99999 is out of range (0-65535)
    """
    host, port_text = _split(value)
    port = _port(value, port_text)
    if value.strip().startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ListenError(f"{value!r}: {host!r} is not an IPv6 address") from None
    if check_bind:
        bind_socket(host, port).close()
    else:
        _addresses(host, port)
    return host, port


def _addresses(host: str, port: int) -> list[tuple]:
    """getaddrinfo for listening, IPv4 first; ``ListenError`` for an unknown host."""
    try:
        infos = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise ListenError(f"{host!r} is not a known host name or address ({exc})") from None
    infos = [i for i in infos if i[0] in (socket.AF_INET, socket.AF_INET6)]
    if not infos:
        raise ListenError(f"{host!r} has no IPv4 or IPv6 address")
    return sorted(infos, key=lambda i: i[0] != socket.AF_INET)


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not listening yet); ``ListenError`` if it cannot be."""
    family, kind, proto, _, address = _addresses(host, port)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ListenError(_bind_message(host, port, exc)) from None
    return sock


def _bind_message(host: str, port: int, exc: OSError) -> str:
    where = f"{_netloc(host, port)}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is already in use"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: ports below 1024 need privileges"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {host} is not an address of this machine"
    return f"cannot listen on {where}: {exc.strerror or exc}"


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def public_url(listen_url: str | None, configured: str | None) -> str | None:
    """The base URL for links in mails and feeds, without a trailing slash.

    The configured public URL wins (``PublicUrlError`` if it is not http(s) with a host).
    Otherwise the listen URL, unless it listens on every address (0.0.0.0 or ::): no one
    can follow such a link, so this returns None (mails then carry no web link) and warns.

    >>> public_url("http://127.0.0.1:8080", None), public_url("http://0.0.0.0:80", None)
    ('http://127.0.0.1:8080', None)
    >>> public_url("http://0.0.0.0:80", "https://nianbao.example.org/nb/")
    'https://nianbao.example.org/nb'
    """
    if configured:
        parts = urlsplit(configured.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in configured:
            raise PublicUrlError(f"{configured!r}: the public URL must be http(s)://HOST[/PATH]")
        if parts.query or parts.fragment:
            raise PublicUrlError(f"{configured!r}: the public URL takes no ?query or #fragment")
        return configured.strip().rstrip("/")
    if not listen_url:
        return None
    host = urlsplit(listen_url).hostname or ""
    if host in UNSPECIFIED:
        logger.warning(
            "Listening on every address (%s) and no public URL is set (--public-url or "
            "NIANBAO_PUBLIC_URL): mails and feeds will carry no web links",
            listen_url,
        )
        return None
    return listen_url.rstrip("/")


class WebServer:
    """A WSGI app served by waitress on ``host:port`` from a background thread.

    Args:
        channel_timeout: seconds before an idle or stalled connection is closed.
        connection_limit: open connections at most.
    """

    def __init__(
        self,
        app: object,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        channel_timeout: float = CHANNEL_TIMEOUT,
        connection_limit: int = CONNECTION_LIMIT,
        threads: int = THREADS,
    ) -> None:
        self.app, self.host, self.port = app, host, port
        self.channel_timeout = max(1, round(channel_timeout))
        self.connection_limit = connection_limit
        self.threads = threads
        self.server: waitress.server.BaseWSGIServer | None = None
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        """``http://host:port`` as bound (IPv6 in brackets); valid after ``start``."""
        if self.server is None:
            raise RuntimeError("the web server is not started")
        host, port = self.server.socket.getsockname()[:2]
        return f"http://{_netloc(host, port)}"

    def start(self) -> str:
        """Bind, start serving in a thread and return the base URL; ``ListenError`` if it
        cannot bind."""
        sock = bind_socket(self.host, self.port)
        try:
            self.server = waitress.create_server(
                self.app,
                sockets=[sock],
                threads=self.threads,
                channel_timeout=self.channel_timeout,
                cleanup_interval=max(1, self.channel_timeout // 2),
                connection_limit=self.connection_limit,
                max_request_body_size=MAX_BODY,
                asyncore_use_poll=True,  # select() fails beyond 1024 descriptors
                ident="nianbao",
            )
        except BaseException:
            sock.close()
            raise
        self.stopping.clear()
        self.thread = threading.Thread(
            target=self._serve, args=(self.server,), name="web-http", daemon=True
        )
        self.thread.start()
        logger.info(
            "Serving HTTP at %s (idle timeout %d s, at most %d connections)",
            self.base_url,
            self.channel_timeout,
            self.connection_limit,
        )
        return self.base_url

    def _serve(self, server: waitress.server.BaseWSGIServer) -> None:
        """The event loop (in ``self.thread``): poll until ``stop``; then let the worker
        threads finish (they wake the loop through its pipe, so it must still be open) and
        close every socket here, in the loop's own thread."""
        try:
            while not self.stopping.is_set() and server._map:
                wasyncore.loop(timeout=1.0, map=server._map, use_poll=True, count=1)
        except Exception:
            logger.exception("The web server's event loop failed")
        finally:
            server.task_dispatcher.shutdown(timeout=STOP_TIMEOUT)
            wasyncore.close_all(server._map, ignore_all=True)

    def stop(self) -> None:
        """Stop accepting, let running requests finish (a few seconds at most), close every
        connection and the listening socket."""
        server, self.server = self.server, None
        if server is None:
            return
        self.stopping.set()
        with contextlib.suppress(OSError):  # wake the loop now rather than within a second
            server.trigger.pull_trigger()
        if self.thread is not None:
            self.thread.join(STOP_TIMEOUT + 2)
