"""Crash run: kill workers and Redis mid-run, and measure how long the service takes to heal.

    .venv/bin/python -m bench.crash_run [--feeds 10] [--articles-per-feed 30] [--kills 5] [--repeat 1]

Two ``ingest worker`` processes (prefork, two children each) poll a loopback
newsroom of ``--feeds`` outlets at the shipped politeness (``--pace``: one request
a second per site, robots.txt honoured; ``--pace 1000`` lifts it, so that the
figures show the healing alone, not the pace), on a Redis of the run's own with its
append-only file. While they work, ``--kills`` SIGKILLs land one every two
seconds (a pool child or a whole worker, chosen at random; a killed worker is
replaced at once), then Redis itself is killed (SIGKILL) and restarted from its
append-only file after 3 s. Nobody types a command afterwards.

Figures, each run next to a calm run of the same newsroom measured in the same
session (the baseline):

* **decided after healthy**: seconds from the moment Redis answers again (every
  worker alive) until every article is decided (queued, duplicate, off topic or
  failed), and the ratio to the calm run's whole duration;
* **undecided at +2 min**: articles still undecided two minutes after healthy;
* **on the stream twice**: must be 0; **outcomes**: against what the newsroom
  planned.

Results are printed as a table and written to ``bench/results/crash-<time>.json``
and ``bench/results/crash-latest.json`` (the one kept in git).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import redis

from bench.e2e_bench import INGEST, ROOT, Service, expected_outcomes
from bench.newsroom_server import NewsroomServer, plan_stories

RESULTS = ROOT / "bench" / "results"
HEAL_BOUND_SECONDS = 120.0


def decided(client: redis.Redis, prefix: str) -> int:
    stats = {k.decode(): int(v) for k, v in client.hgetall(f"{prefix}stats").items()}
    return sum(stats.get(k, 0) for k in ("queued", "duplicate", "off_topic", "failed"))


def outcomes(client: redis.Redis, prefix: str) -> dict[str, int]:
    stats = {k.decode(): int(v) for k, v in client.hgetall(f"{prefix}stats").items()}
    return {k: stats.get(k, 0) for k in ("queued", "duplicate", "off_topic", "failed")}


def stream_copies(client: redis.Redis, stream: str) -> int:
    urls = Counter(json.loads(f[b"article"])["url"] for _, f in client.xrange(stream))
    return sum(n - 1 for n in urls.values())


LOG_LEVEL = "INFO"


def one_run(
    room: NewsroomServer,
    total: int,
    feeds: int,
    work: Path,
    *,
    chaos: bool,
    kills: int,
    seed: int,
    pace: float,
) -> dict[str, Any]:
    svc = Service(work, room, feeds, max_items=total)
    svc.env.update(
        {
            "INGEST_FETCH__PER_DOMAIN_REQUESTS_PER_SECOND": str(pace),
            "INGEST_WORKER__CONCURRENCY": "2",
            "INGEST_LOG_LEVEL": LOG_LEVEL,
            "PYTHONUNBUFFERED": "1",  # a killed worker's last lines are what tells what it did
        }
    )
    prefix, stream = "ingest:", "ingest:articles"
    client = svc.redis_client()
    rng = random.Random(seed)
    kill_log: list[str] = []
    try:
        svc.start_workers(2, "prefork", 2)
        started = time.monotonic()
        subprocess.run([INGEST, "fetch", "--all"], env=svc.env, check=True, capture_output=True)
        healthy_at = started
        if chaos:
            for _ in range(kills):
                time.sleep(2.0)
                alive = [w for w in svc.workers if w.poll() is None]
                victim = rng.choice(alive)
                children = psutil.Process(victim.pid).children()
                if children and rng.random() < 0.5:
                    rng.choice(children).send_signal(signal.SIGKILL)
                    kill_log.append("pool child")
                else:
                    os.killpg(victim.pid, signal.SIGKILL)
                    victim.wait()
                    svc.workers.remove(victim)
                    svc.start_workers(1, "prefork", 2)
                    kill_log.append("whole worker")
            time.sleep(2.0)
            assert svc.redis.proc is not None
            svc.redis.proc.kill()  # no clean shutdown: what the append-only file had is what survives
            svc.redis.proc.wait()
            kill_log.append("redis SIGKILL")
            time.sleep(3.0)
            svc.redis.start()
            client = svc.redis_client()
            healthy_at = time.monotonic()
        undecided_at_bound = None
        done_at = None
        while True:
            now = time.monotonic()
            try:
                n = decided(client, prefix)
            except redis.RedisError:
                n = -1
            if n >= total:
                done_at = now
                break
            if undecided_at_bound is None and now - healthy_at >= HEAL_BOUND_SECONDS:
                undecided_at_bound = total - n
            if now - healthy_at > 600:
                break
            time.sleep(0.25)
        return {
            "chaos": chaos,
            "events": kill_log,
            "seconds_total": round((done_at or time.monotonic()) - started, 2),
            "seconds_after_healthy": round((done_at - healthy_at), 2) if done_at else None,
            "undecided_at_bound": (undecided_at_bound or 0) if done_at else total - decided(client, prefix),
            "stream_copies": stream_copies(client, stream),
            "outcomes": outcomes(client, prefix),
            "sources_never_polled": [
                f"outlet-{k}"
                for k in range(feeds)
                if not client.hexists(f"{prefix}source:outlet-{k}", "last_poll_at")
            ],
            "sweep": {k.decode(): v.decode() for k, v in client.hgetall(f"{prefix}sweep").items()},
        }
    finally:
        client.close()
        svc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=10)
    ap.add_argument("--articles-per-feed", type=int, default=30)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--log-level", default="INFO", help="the workers' (DEBUG shows every task received)")
    ap.add_argument(
        "--pace", type=float, default=1.0, help="requests a second per site (1.0 as shipped; 1000 lifts it)"
    )
    args = ap.parse_args()
    global LOG_LEVEL
    LOG_LEVEL = args.log_level
    total = args.feeds * args.articles_per_feed
    stories = plan_stories(total, args.feeds, 0.1, 0.1)
    expected = expected_outcomes(stories)
    work = Path(tempfile.mkdtemp(prefix="crash-run-"))
    runs = []
    with NewsroomServer(args.feeds) as room:
        room.publish(stories)
        for i in range(args.repeat):
            for chaos in (False, True):
                where = work / f"{i}-{'crash' if chaos else 'calm'}"
                run = one_run(
                    room, total, args.feeds, where, chaos=chaos, kills=args.kills, seed=i, pace=args.pace
                )
                run["outcomes_as_planned"] = run["outcomes"] == expected
                runs.append(run)
                print(json.dumps(run), flush=True)
    print()
    print(f"{'run':<8} {'events':<55} {'total s':>8} {'after healthy s':>16} {'/calm':>6} "
          f"{'undecided@2min':>15} {'twice':>6} {'as planned':>11}")  # fmt: skip
    calm = None
    for r in runs:
        if not r["chaos"]:
            calm = r["seconds_total"]  # the baseline of the crash run right after it
        after = r["seconds_after_healthy"]
        ratio = after / calm if r["chaos"] and after and calm else None
        print(
            f"{'crash' if r['chaos'] else 'calm':<8} {', '.join(r['events']) or '-':<55.55} "
            f"{r['seconds_total']:>8} {after if r['chaos'] else '-':>16} "
            f"{f'{ratio:.2f}' if ratio else '-':>6} {r['undecided_at_bound']:>15} {r['stream_copies']:>6} "
            f"{r['outcomes_as_planned']!s:>11}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"crash-{time.strftime('%Y%m%dT%H%M%S')}.json"
    text = json.dumps({"args": vars(args), "expected": expected, "runs": runs}, indent=2)
    out.write_text(text)
    (RESULTS / "crash-latest.json").write_text(text)  # the one kept in git
    print(f"\nwritten {out.relative_to(ROOT)} and bench/results/crash-latest.json")


if __name__ == "__main__":
    main()
