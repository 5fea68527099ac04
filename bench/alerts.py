"""Benchmark: N subscriptions × M events through the matcher, the renderer and a real SMTP
server on 127.0.0.1 (aiosmtpd in its own process).

Usage: python bench/alerts.py [--subs 1000] [--events 2000] [--immediate 0.05]

The events are recorded the way a crawl records them ("crawl end" is when the last one is
committed); then one ``deliver_round`` queues, renders and sends everything. Prints the
matches, mails and deliveries/s, and the time from crawl end to the last mail accepted.
"""

from __future__ import annotations

import argparse
import logging
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.alerts import EmailChannel, outbox
from monitor.config import FeedConfig, SmtpConfig
from monitor.models import Event, NumberChange, Subscription
from monitor.store import Store

SERVER = """
import signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
from aiosmtpd.controller import Controller
class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 OK"
c = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM})
c.stop()
print(Count.n, flush=True)
"""
PROVINCES = {"江苏省": "苏", "浙江省": "浙", "福建省": "闽"}
DIFF = "@@ -40,3 +40,3 @@\n 三、收到和处理政府信息公开申请情况\n-予以公开 {a}\n+予以公开 {b}\n 部分公开 12"


def make_events(n: int, rng: random.Random) -> list[Event]:
    issuers = [(p, f"{short}第{i}市人民政府") for p, short in PROVINCES.items() for i in range(34)]
    out = []
    for i in range(n):
        region, issuer = rng.choice(issuers)
        kind = rng.choices(["new", "edited", "removed", "moved"], [60, 30, 5, 5])[0]
        a = rng.randint(10, 999)
        out.append(
            Event(
                kind,
                i + 1,
                f"https://www.example.gov.cn/{i}/art.html",
                title=f"{issuer}2025年政府信息公开工作年度报告<b>",
                issuer=issuer,
                region=region,
                portal_id=f"p{i % 90}",
                year=rng.choice([2024, 2025]),
                diff=DIFF.format(a=a, b=a + 1) if kind == "edited" else "",
                sections=["三"] if kind == "edited" else [],
                numbers=[NumberChange("予以公开", str(a), str(a + 1))] if kind == "edited" else [],
            )
        )
    return out


def make_subscriptions(n: int, immediate: float, rng: random.Random) -> list[Subscription]:
    subs = []
    for i in range(n):
        digest = "immediate" if rng.random() < immediate else "daily"
        kind = i % 10
        province = rng.choice(list(PROVINCES))
        if kind < 4:  # one issuer
            sub = Subscription(
                f"u{i}@example.org", issuer=f"{PROVINCES[province]}第{rng.randrange(34)}市"
            )
        elif kind < 7:  # one province, one year
            sub = Subscription(f"u{i}@example.org", region=province, year=2025)
        elif kind < 9:  # a keyword
            sub = Subscription(f"u{i}@example.org", keyword=f"第{rng.randrange(34)}市人民")
        else:  # every edit
            sub = Subscription(f"u{i}@example.org", kinds=["edited"])
        sub.digest = digest
        subs.append(sub)
    return subs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subs", type=int, default=1000)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument(
        "--immediate", type=float, default=0.05, help="share of immediate subscribers"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(7)
    port = 20000 + rng.randrange(20000)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout.readline().strip() == "ready"
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        for sub in make_subscriptions(args.subs, args.immediate, rng):
            store.subscriptions.add(sub)
        t0 = time.perf_counter()
        with store.atomic():
            for event in make_events(args.events, rng):
                store.events.add(event)
        crawl_end = time.perf_counter()
        channel = EmailChannel(SmtpConfig(host="127.0.0.1", port=port, sender="bench@example.org"))
        summary = outbox.deliver_round(
            store, channel, feeds=FeedConfig(Path(tmp) / "feeds", link="http://x/")
        )
        done = time.perf_counter()
        counts = store.outbox.counts()
    server.terminate()
    accepted = int(server.communicate(timeout=30)[0].split()[-1])
    wall = done - crawl_end
    print(f"{args.subs} subscriptions x {args.events} events (recorded in {crawl_end - t0:.2f} s)")
    print(
        f"matched deliveries {summary.enqueued}; mails sent {summary.mails_sent}, accepted by server {accepted}"
    )
    print(f"outbox: {counts}")
    print(f"crawl end -> last mail accepted (incl. {summary.feeds_written} feeds): {wall:.2f} s")
    print(
        f"deliveries/s {summary.deliveries_sent / wall:.0f}; mails/s {summary.mails_sent / wall:.1f}"
    )


if __name__ == "__main__":
    main()
