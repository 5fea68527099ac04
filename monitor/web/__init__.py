"""The HTTP side: a Flask app (``app.create_app``) served by waitress (``server.WebServer``).

Feeds, unsubscribe links, a health check, ``/metrics`` (``metrics.py``) and the web pages of
issue 11 (``pages.py``, the coverage page in ``coveragepage.py``, what they share in
``pagekit.py``; the coverage grid's states in ``coverage.py``), each request on a
read-only connection (``db.py``). ``parse_listen`` and ``public_url`` check ``--http``
values and pick the base URL for links.

May import: flask, waitress, prometheus_client, monitor.store, monitor.alerts,
monitor.events (the deadline rule), monitor.models.
"""

from __future__ import annotations

from monitor.web.app import create_app
from monitor.web.server import ListenError, PublicUrlError, WebServer, parse_listen, public_url

__all__ = ["ListenError", "PublicUrlError", "WebServer", "create_app", "parse_listen", "public_url"]
