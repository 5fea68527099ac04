"""``/metrics``: Prometheus text format, read from the database at scrape time.

A custom collector (``NianbaoCollector``) in a registry of its own: each scrape runs the
few grouped queries of ``monitor.store.views.Views.metric_figures`` on a read-only
connection and yields the figures; nothing is counted in process memory, so every web
process (``nianbao serve``, the daemon's ``--http``) reports the same numbers, and a
restart loses nothing. Metrics:

    nianbao_up                                  1 when the database could be read, else 0
    nianbao_crawl_runs{status}                  crawl runs by status (running, ok, failed, ...)
    nianbao_pages_fetched_total                 report pages fetched, all runs
    nianbao_events_total{kind}                  change events by kind (new, edited, ...)
    nianbao_outbox_pending{queue}               deliveries waiting (subscribers, operator)
    nianbao_portal_last_success_timestamp_seconds{portal}
                                                end of each portal's last ok/degraded run
    nianbao_findings_open{kind}                 open findings: inconsistent, missing, late
    nianbao_daemon_heartbeat_timestamp_seconds  the newest heartbeat of a running daemon
    nianbao_disk_free_bytes                     free space on the database's disk (a full
                                                disk stops crawls; see NIANBAO_DISK_LOW_MB)

May import: prometheus_client, monitor.store, monitor.web.db.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.store import StoreError
from monitor.store.views import Views
from monitor.web.db import Databases

logger = logging.getLogger(__name__)

FINDING_KINDS = ("inconsistent", "missing", "late")


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class NianbaoCollector(Collector):
    """Reads the figures from the database at each scrape."""

    def __init__(self, databases: Databases):
        self.databases = databases

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("nianbao_up", "1 when the database could be read, else 0")
        try:
            with self.databases.read() as store:
                figures = Views(store.db).metric_figures()
        except (StoreError, OSError) as exc:
            logger.warning("/metrics: cannot read the database: %s", exc)
            self.databases.forget()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._families(figures)
        with contextlib.suppress(OSError):  # the folder gone meanwhile: no figure
            free = shutil.disk_usage(self.databases.path.resolve().parent).free
            yield GaugeMetricFamily(
                "nianbao_disk_free_bytes", "Free space on the database's disk", value=free
            )

    @staticmethod
    def _families(figures: dict) -> Iterator[Metric]:
        runs = GaugeMetricFamily("nianbao_crawl_runs", "Crawl runs by status", labels=["status"])
        for status, n in sorted(figures["runs"].items()):
            runs.add_metric([str(status)], n)
        yield runs
        yield CounterMetricFamily(
            "nianbao_pages_fetched", "Report pages fetched, all runs", value=figures["pages"]
        )
        events = CounterMetricFamily("nianbao_events", "Change events by kind", labels=["kind"])
        for kind, n in sorted(figures["events"].items()):
            events.add_metric([str(kind)], n)
        yield events
        outbox = GaugeMetricFamily(
            "nianbao_outbox_pending", "Deliveries waiting to be sent", labels=["queue"]
        )
        for queue, n in figures["outbox"].items():
            outbox.add_metric([queue], n or 0)
        yield outbox
        last = GaugeMetricFamily(
            "nianbao_portal_last_success_timestamp_seconds",
            "When each portal's last ok or degraded crawl ended (Unix time)",
            labels=["portal"],
        )
        for portal, at in sorted(figures["last_success"].items()):
            if (seconds := _epoch(at)) is not None:
                last.add_metric([str(portal)], seconds)
        yield last
        findings = GaugeMetricFamily(
            "nianbao_findings_open", "Open findings by kind", labels=["kind"]
        )
        for kind in sorted({*FINDING_KINDS, *figures["findings"]}):
            findings.add_metric([str(kind)], figures["findings"].get(kind, 0))
        yield findings
        beat = _epoch(figures["heartbeat"])
        if beat is not None:
            yield GaugeMetricFamily(
                "nianbao_daemon_heartbeat_timestamp_seconds",
                "The newest heartbeat of a running daemon (Unix time)",
                value=beat,
            )


def registry_for(databases: Databases) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) holding only our collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NianbaoCollector(databases))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text format (version 0.0.4) of everything in ``registry``."""
    return generate_latest(registry)
