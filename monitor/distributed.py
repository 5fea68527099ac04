"""A crawl spread over ``nianbao worker`` processes through Redis (scrapy-redis).

``crawl`` is ``monitor.cycle.crawl`` for a distributed run: it creates the run, seeds
the start requests into Redis (``crawler.distributed``), waits until the queue is
drained, no worker holds a request and every item is stored, then judges the run and
derives events with the same code as a local crawl (``judging.finish``).

``ingest`` is the one process that writes a distributed run's items into the SQLite
store: it moves each item to a processing list (``LMOVE``), stores it with
``Store.ingest`` in one transaction that also marks its item id
(``monitor.store.ingested``), and only then removes it from the processing list. On
start it puts what a previous ingest process left in the processing list back.

Sits at the cycle layer. May import: crawler.distributed, redis (redis, scrapy-redis: only
distributed mode needs them, and nothing of local mode imports this module),
crawler.seeds, crawler.scratch, monitor.cycle, monitor.children, monitor.judging,
monitor.store, monitor.config.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis

from crawler import distributed as dist
from crawler.scratch import scratch, sweep
from crawler.seeds import Seed
from monitor import children, cycle, judging
from monitor.config import Config, declared
from monitor.store import Store
from monitor.store.ingested import Ingested
from monitor.store.locks import HOST, start_token

logger = logging.getLogger(__name__)

KEEP_DONE = 24 * 3600  # seconds a finished run's job and state stay in Redis
STUCK = 120.0  # seconds a full Redis with nothing to drain may stay so before a run stops


def crawl(
    config: Config,
    seeds: list[Seed],
    redis_url: str,
    trigger: str = "cli",
    timeout: float = 4 * 3600,
    poll: float = 0.5,
) -> judging.CrawlResult:
    """Crawl ``seeds`` through Redis and the workers listening on it; judge the run."""
    client = dist.connect(redis_url)
    dist.check_policy(client, redis_url, logger)  # before anything is begun or seeded
    store = Store(config.db)
    run_id, keys = 0, dist.RunKeys.new()
    try:
        removal_runs = int(config.settings.get("NIANBAO_REMOVAL_RUNS", 2))
        recovered = children.recover(store, removal_runs)
        sweep()  # the scratch folders of crawls that were killed (crawler.scratch)
        portals = [s.to_dict() for s in seeds]
        run_id = store.runs.begin(
            portals, trigger, pid=os.getpid(), host=HOST, pid_token=start_token(os.getpid())
        )
        log_dir = Path(config.db).resolve().parent / "logs" / Path(config.db).stem
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = str(log_dir / f"run-{run_id}.log")
        fetch_state = store.reports.fetch_state([s.id for s in seeds])
        job = {
            "db": str(Path(config.db).resolve()),
            "run_id": run_id,
            "seeds": portals,
            "settings": dict(config.settings),
        }
        started = time.monotonic()
        with scratch() as tmp:
            state_file = tmp / "fetch_state.json"
            state_file.write_text(json.dumps(fetch_state), encoding="utf-8")
            local_job = {**job, "fetch_state": str(state_file)}
            stats = _announce(client, keys, job, fetch_state)
            stats["queued_start"] = dist.queue_requests(client, redis_url, keys, local_job)
            client.set(keys.state, "running")
            client.set(dist.CURRENT, keys.prefix)
            code = _wait(client, keys, stats, started + timeout, poll)
            if code == 0:
                stats["queued_revisits"] = dist.queue_requests(
                    client, redis_url, keys, local_job, revisits=True
                )
                if stats["queued_revisits"]:
                    code = _wait(client, keys, stats, started + timeout, poll)
        if code != 0:
            stats["timeout"] = timeout
        stats["finish_reason"] = "finished" if code == 0 else "timeout"
        stats["wall_seconds"] = round(time.monotonic() - started, 2)
        mass = float(config.settings.get("NIANBAO_MASS_REMOVAL", declared("NIANBAO_MASS_REMOVAL")))
        findings = judging.findings_on(config.settings)  # as a local crawl does, after judging
        result = judging.finish(
            store, run_id, code, stats, "", log_file, removal_runs, mass, findings=findings
        )
        result.events[:0] = recovered.events
        with store.atomic():
            Ingested(store.db).forget(run_id)
        return result
    except BaseException as exc:
        if run_id:
            cycle.interrupt(store, run_id, exc)
        raise
    finally:
        _close(client, keys)
        store.close()


def _announce(client, keys: dist.RunKeys, job: dict, fetch_state: dict) -> dict:
    pipe = client.pipeline(transaction=True)
    pipe.set(keys.job, json.dumps(job, ensure_ascii=False))
    pipe.set(keys.fetch_state, json.dumps(fetch_state, ensure_ascii=False))
    pipe.execute()
    return {"redis_prefix": keys.prefix, "requeued": 0}


def _wait(
    client, keys: dist.RunKeys, stats: dict, deadline: float, poll: float, stuck: float = STUCK
) -> int:
    """Wait until the run is drained (0) or the deadline passes (1). Requests whose
    worker stopped renewing their lease go back in the queue on the way. A Redis full
    with no item left for the ingest process to drain, and no change for ``stuck``
    seconds, will not come free by itself: ``redis.OutOfMemoryError``."""
    quiet, same_since, before = 0, time.monotonic(), None
    while time.monotonic() < deadline:
        stats["requeued"] += dist.requeue_expired(client, keys)
        left = dist.pending(client, keys)
        quiet = quiet + 1 if not any(left.values()) else 0
        if quiet >= 2:  # nothing queued, held or unstored, twice in a row
            return 0
        if left != before or left["items"] or not _nearly_full(client):
            same_since, before = time.monotonic(), left
        elif time.monotonic() - same_since > stuck:
            raise redis.OutOfMemoryError(
                f"the run made no progress for {stuck:.0f} s and there is nothing left "
                "for the ingest process to drain"
            )
        time.sleep(poll)
    return 1


def _nearly_full(client) -> bool:
    """Redis within 5 % of its maxmemory (it refuses a write that would go over)."""
    try:
        memory = client.info("memory")
    except redis.ResponseError:  # INFO not allowed: cannot tell
        return False
    limit = int(memory.get("maxmemory") or 0)
    return limit > 0 and int(memory["used_memory"]) >= limit * 0.95


CLOSE = """#!lua flags=allow-oom
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
redis.call('SET', KEYS[1], 'done', 'EX', ARGV[1])
for _, key in ipairs({KEYS[2], KEYS[9], KEYS[10]}) do redis.call('EXPIRE', key, ARGV[1]) end
return 1
"""


def _close(client, keys: dist.RunKeys) -> None:
    """The run is over (judged, or its coordinator stopped): workers let go of it. One
    script, run even when Redis is full (it frees the queue; the state is a few bytes)."""
    run = [keys.state, keys.job, keys.requests, keys.dupefilter, keys.inflight, keys.scores]
    run += [keys.leases, keys.fetch_state, keys.items, keys.processing]  # items: if stopped early
    dist.run_script(client, CLOSE, len(run), *run, KEEP_DONE)


@dataclass
class IngestStats:
    """What ``ingest`` stored: outcomes of ``Store.ingest`` by name, plus ``duplicate``
    (an item id stored already) and ``bad`` (not an item)."""

    outcomes: Counter = field(default_factory=Counter)
    runs: set[int] = field(default_factory=set)

    def to_json(self) -> dict:
        return {"runs": sorted(self.runs), "items": sum(self.outcomes.values()), **self.outcomes}


def ingest(db: Path | str, redis_url: str, once: bool = False, poll: float = 0.5) -> IngestStats:
    """Store the items of every distributed run of database ``db`` as they arrive.

    Runs until stopped; ``once``: return when one run is judged and its items are stored.
    Redis must answer at start, with a maxmemory-policy that keeps keys (``check_policy``);
    if it goes away later (a restart), this waits for it (``Outage``), then takes back the
    item it held (stored once all the same: ``Ingested``). When Redis is full (it refuses
    LMOVE), items are stored where they lie and then removed (``_store_in_place``).
    """
    client = dist.connect(redis_url)
    dist.check_policy(client, redis_url, logger)
    stats = IngestStats()
    mine = str(Path(db).resolve())
    store: Store | None = None  # opened once a run of ``db`` exists (its coordinator made it)
    recovered: set[str] = set()
    outage = dist.Outage(redis_url, logger)
    full = dist.Full(redis_url, logger, client, doing="storing items without moving them")
    try:
        while True:
            try:
                keys, job = _current(client)
                outage.over()
                if job is None or job.get("db") != mine:
                    if once and stats.runs:
                        return stats
                    time.sleep(poll)
                    continue
                if store is None:
                    store = Store(db)
                    ingested = Ingested(store.db)
                if keys.prefix not in recovered:  # a previous ingest process's unacked items
                    while client.lmove(keys.processing, keys.items, "LEFT", "RIGHT"):
                        pass
                    recovered.add(keys.prefix)
                stats.runs.add(job["run_id"])
                raw = client.blmove(keys.items, keys.processing, poll, "RIGHT", "LEFT")
                full.over()  # (says so if Redis had been full)
                if raw is None:
                    if once and client.get(keys.state) != b"running":
                        return stats
                    continue
                stats.outcomes[_store_one(store, ingested, job["run_id"], raw)] += 1
                client.lrem(keys.processing, 1, raw)
            except dist.LOST as exc:
                recovered.clear()  # the item it held is in processing: take it back (once)
                outage.wait(exc)
            except dist.FULL as exc:  # LMOVE refused: drain without it, which frees memory
                full.delay(exc)
                stats.runs.add(job["run_id"])
                if not _store_in_place(client, keys, store, ingested, job["run_id"], stats):
                    if once and client.get(keys.state) != b"running":
                        return stats
                    time.sleep(poll)
    finally:
        if store is not None:
            store.close()


def _store_in_place(client, keys, store, ingested, run_id: int, stats, most: int = 100) -> int:
    """Redis is full, so it refuses LMOVE: store the oldest items where they lie (LINDEX)
    and remove each once stored (LREM frees memory and is allowed when full). Stored once
    all the same: an ingest killed between the two finds the item's id marked next time.
    Returns how many it took (at most ``most``: then the loop looks at the run again)."""
    taken = 0
    for name in (keys.processing, keys.items):
        while taken < most and (raw := client.lindex(name, -1)) is not None:
            stats.outcomes[_store_one(store, ingested, run_id, raw)] += 1
            client.lrem(name, -1, raw)
            taken += 1
    return taken


def _current(client) -> tuple[dist.RunKeys | None, dict | None]:
    prefix = client.get(dist.CURRENT)
    if not prefix:
        return None, None
    keys = dist.RunKeys(prefix.decode())
    raw = client.get(keys.job)
    return keys, json.loads(raw) if raw else None


def _store_one(store: Store, ingested: Ingested, run_id: int, raw: bytes) -> str:
    try:
        item_id, item = dist.decode_item(raw)
    except ValueError as exc:
        logger.error("Run %s: dropped a message that is not an item: %s", run_id, exc)
        return "bad"
    with store.atomic():
        if not ingested.first(run_id, item_id):
            return "duplicate"
        return store.ingest(item, run_id)
