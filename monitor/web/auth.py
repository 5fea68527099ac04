"""The web pages' access token (``nianbao serve --auth-token`` / ``NIANBAO_WEB_TOKEN``).

With a token set, every page (and its JSON twin) needs it: ``?token=T`` once, which sets
an HttpOnly, SameSite=Lax cookie and redirects to the same address without the token (so
it stays out of history and logs), or the cookie. The cookie holds a digest of the token,
never the token. Scripts and Prometheus may instead send ``Authorization: Bearer T``.
Feeds, unsubscribe links, ``/health`` and the stylesheet are outside: feeds keep their own
per-subscription tokens, ``/health`` tells a load balancer only whether the database
can be read, and ``/healthz`` only whether the daemon's heartbeat is fresh (its pid and
heartbeat time, nothing else). ``/metrics`` needs the token (portal names and volumes are not for everyone):
give Prometheus ``authorization: {credentials: T}`` in its scrape config.

May import: flask and the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from flask import Flask, Response, current_app, redirect, render_template, request

COOKIE = "nianbao_web"
OPEN_ENDPOINTS = {
    "static",
    "web.health",
    "web.healthz_check",
    "web.all_events_feed",
    "web.subscription_feed",
    "web.unsubscribe_page",
    "web.unsubscribe",
}


def cookie_value(token: str) -> str:
    """What the cookie holds: a digest of the token, never the token itself."""
    return hashlib.sha256(f"nianbao-web\0{token}".encode()).hexdigest()


def install(app: Flask, token: str | None) -> None:
    """Require ``token`` on every page of ``app`` (nothing when ``token`` is empty)."""
    app.config["NIANBAO_WEB_TOKEN"] = token or None
    if token:
        app.before_request(_check)


def _check() -> Response | tuple[str, int] | None:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    token = current_app.config["NIANBAO_WEB_TOKEN"]
    expected = cookie_value(token)
    if hmac.compare_digest(request.cookies.get(COOKIE, ""), expected):
        return None
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(bearer.strip().encode(), token.encode()):
        return None
    given = request.args.get("token", "")
    if given and hmac.compare_digest(given.encode(), token.encode()):
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
        response = redirect(request.path + ("?" + urlencode(args) if args else ""), 303)
        response.set_cookie(
            COOKIE,
            expected,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
            max_age=30 * 86400,
        )
        return response
    return render_template("login.html", wrong=bool(given)), 401
