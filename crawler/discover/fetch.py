"""The polite HTTP side of discovery: one GET at a time with a delay, robots.txt obeyed
(Protego), bodies capped in size and time, redirects kept on the portal's site, and the
crawl's User-Agent. Returns ``crawler.discover.pages.Page`` objects or a reason string.

May import: the standard library, requests, protego, crawler.discover.pages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import requests
from protego import Protego

from crawler.discover.pages import Page


class Fetcher:
    """Polite GETs for discovery: one at a time, ``delay`` seconds apart, robots.txt
    obeyed, bodies capped at ``max_bytes`` and at ``2 × timeout`` seconds, redirects
    followed only where ``stay_on(url)`` allows (set by the caller: the portal's site)."""

    def __init__(
        self,
        user_agent: str,
        delay: float = 1.0,
        timeout: float = 30,
        obey_robots: bool = True,
        max_bytes: int = 3_000_000,
    ):
        self.session = requests.Session()
        self.session.headers.update(
            {
                "User-Agent": user_agent,
                "Accept-Language": "zh-CN,zh;q=0.9",
                "Accept": "text/html,*/*;q=0.8",
            }
        )
        self.user_agent, self.delay, self.timeout = user_agent, delay, timeout
        self.obey_robots, self.max_bytes = obey_robots, max_bytes
        self.stay_on: Callable[[str], bool] = lambda url: True
        self._robots: dict[str, Protego | None] = {}
        self._last = 0.0

    def _wait(self) -> None:
        pause = self._last + self.delay - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._last = time.monotonic()

    def _get(self, url: str, redirects: bool = False) -> requests.Response:
        self._wait()
        resp = self.session.get(url, timeout=self.timeout, stream=True, allow_redirects=redirects)
        deadline = time.monotonic() + 2 * self.timeout  # a host that trickles
        try:
            body = bytearray()
            for chunk in resp.iter_content(65536):
                body += chunk
                if len(body) >= self.max_bytes or time.monotonic() > deadline:
                    break
            resp._content = bytes(body[: self.max_bytes])
        finally:
            resp.close()
        self._last = time.monotonic()
        return resp

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets our User-Agent fetch ``url`` (no robots.txt: yes)."""
        if not self.obey_robots:
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            try:
                resp = self._get(origin + "/robots.txt", redirects=True)
                ok = resp.status_code == 200
                self._robots[origin] = Protego.parse(decode(resp)) if ok else None
            except requests.RequestException:
                self._robots[origin] = None
        rules = self._robots[origin]
        return rules is None or rules.can_fetch(url, self.user_agent)

    def __call__(self, url: str) -> Page | str:
        """The page at ``url``, or why not (robots.txt, an error, an off-site redirect)."""
        try:
            for _hop in range(6):
                if not self.allowed(url):
                    return "disallowed by robots.txt"
                resp = self._get(url)
                location = resp.headers.get("Location")
                if not (resp.is_redirect and location):
                    break
                url = urljoin(url, location)
                if not self.stay_on(url):
                    return f"redirected off the site to {url[:200]}"
            else:
                return "too many redirects"
        except requests.RequestException as exc:
            return f"fetch failed: {type(exc).__name__}"
        ctype = resp.headers.get("Content-Type", "text/html")
        if "html" not in ctype and "xml" not in ctype:
            return f"not a page ({ctype.split(';')[0]})"
        return Page(url, resp.status_code, decode(resp))


def decode(resp: requests.Response) -> str:
    """The body as text: the header's charset, else ``<meta charset>``, else UTF-8
    (gb2312/gbk read as GB18030)."""
    body = resp.content or b""
    charset = requests.utils.get_encoding_from_headers(resp.headers)
    declared = "charset" in resp.headers.get("Content-Type", "").lower()
    if not charset or (charset.lower() == "iso-8859-1" and not declared):
        match = re.search(rb"""charset\s*=\s*["']?([\w-]+)""", body[:4096], re.I)
        charset = match.group(1).decode("ascii") if match else "utf-8"
    if charset.lower() in ("gb2312", "gbk", "gb_2312-80"):
        charset = "gb18030"
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")
