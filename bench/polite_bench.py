"""Politeness and varied-markup benchmark: the service against baselines measured in the same run.

    .venv/bin/python -m bench.polite_bench [--scenario polite20 --scenario polite200 --scenario lifted]
        [--repeat N] [--latency 0.05-0.3] [--crawl-delay 1] [--config 1:prefork:4]
        [--lifted-articles 970] [--templates varied] [--keep]
    .venv/bin/python -m bench.polite_bench --check-templates     # each template: words, on topic

Every outlet of the simulated newsroom (:mod:`bench.newsroom_server`, ``--templates
varied``: twenty outlet shapes from :mod:`harness.templates`, outlet k in template
k % 20, pages in UTF-8, GBK, windows-1251, Shift_JIS, ISO-8859-2 and Big5) has its
own loopback address, a feed, and a robots.txt that says ``Crawl-delay: 1``; every
response waits a draw from ``--latency``. Scenarios:

* **polite20** (20 hosts x 48 articles) and **polite200** (200 hosts x 5): the
  service at its shipped politeness (``fetch.per_domain_requests_per_second = 1``,
  Crawl-delay honoured). The floor is the *bound*, articles per host x the delay;
  the baseline, measured in the same round, a *polite naive script*: one thread per
  host that reads robots.txt first, then fetches the host's pages one after the
  other with at least the Crawl-delay (and at least ``--crawl-delay``) between
  request starts, handing each page to 2 processes running
  ``trafilatura.extract(html)``. Reported: ours / bound and ours / naive (wall).
* **lifted** (20 hosts, ``--lifted-articles`` 970, 10 % syndicated copies and 10 %
  off-topic pages): politeness lifted (``per_domain_requests_per_second = 1000``,
  ``max_crawl_delay_seconds = 0``: the Crawl-delay ignored, and
  ``per_domain_concurrency = 8``, Scrapy's default per domain, for 1). Baselines of the same
  round: (a) a naive script, 32 fetch threads (httpx) feeding 2 processes running
  ``trafilatura.extract(html)`` with default options, its wall; (b)
  ``trafilatura.extract`` with default options over the same page bytes in memory,
  in 2 processes, its CPU per article; (c) our own extraction (``decode_html`` +
  :func:`worker.extract.extract`) the same way. Targets: ours wall / (a) <= 1.0,
  ours CPU per article (worker process trees + the ``ingest fetch`` client) / (b)
  <= 1.2, largest worker process peak RSS (VmHWM) <= 150 MB.

Ours: :class:`bench.e2e_bench.Service` (a redis-server of its own, ``ingest worker``
processes, default 1 worker, prefork x 4), sources from ``INGEST_SOURCES``, then one
timed ``ingest fetch --all --wait --json``: its wall, from its start to its end.
Correctness, from the newsroom's counters: each page served exactly once,
robots.txt once per host, the outcomes as planned (queued / duplicate / off_topic, 0
failed), and the least gap between two requests to one host. With ``--repeat N``
each scenario runs N rounds (baselines, then ours); rows are medians (by wall) and
the ratios are the medians of each round's paired ratios. If the service fails (it
does not start, ``ingest fetch`` errors or times out) its row says why and the
baselines are still measured and reported. Results: printed, and written to
``bench/results/polite-<time>.json`` and ``bench/results/polite-latest.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import queue
import resource
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

SCENARIOS: dict[str, dict[str, Any]] = {
    "polite20": {"hosts": 20, "per_host": 48, "polite": True},
    "polite200": {"hosts": 200, "per_host": 5, "polite": True},
    "lifted": {"hosts": 20, "polite": False},
}
TARGETS = {"wall_vs_naive": 1.0, "cpu_vs_trafilatura": 1.2, "max_rss_mb": 150.0}


# ---- extraction functions, run in spawned processes (cheap to import: stdlib only above) ----
def _traf_default(page: tuple[bytes, str, str | None]) -> int:
    """``trafilatura.extract(html)`` as a user calls it: default options, the page as downloaded."""
    import trafilatura

    out = trafilatura.extract(page[0])
    return len(out or "")


def _ours_extract(page: tuple[bytes, str, str | None]) -> int:
    """Our worker's extraction step: the page decoded as the worker decodes it, then extracted."""
    from worker.errors import NotAnArticle
    from worker.extract import decode_html, extract

    raw, url, charset = page
    try:
        return len(extract(decode_html(raw, charset), url).text)
    except NotAnArticle:
        return 0


def _init_child() -> None:
    import trafilatura  # noqa: F401  (imported before the clock starts)


# ---- the naive scripts (run as a subprocess of their own: their rusage is theirs) ---------------
def naive_main(args: argparse.Namespace) -> None:
    """What a user would script: httpx threads feeding a pool of trafilatura.extract processes.

    ``polite``: one thread per host, robots.txt first, then the host's pages one after the
    other, request starts at least max(Crawl-delay, ``spacing``) apart. ``lifted``:
    ``threads`` threads taking URLs from one queue as fast as they can.
    """
    import multiprocessing
    import urllib.robotparser

    import httpx

    mod = importlib.import_module("bench.polite_bench")  # picklable by name in the children
    urls: list[str] = json.loads(Path(args.naive_urls).read_text())
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(args.naive_procs, initializer=_init_child)
    results: list[Any] = []
    lock = threading.Lock()
    errors: list[str] = []
    fetched = Counter[str]()
    gaps: list[float] = []
    # one client shared by the threads (thread-safe; each httpx.Client() costs ~22 ms of CPU
    # to build its SSL context: 200 of them were 4 s of the polite script's CPU)
    shared = httpx.Client(
        timeout=60, headers={"User-Agent": "naive-script/1.0"}, limits=httpx.Limits(max_connections=None)
    )

    def submit(url: str, body: bytes) -> None:
        r = pool.apply_async(mod._traf_default, ((body, url, None),))
        with lock:
            results.append(r)
            fetched["pages"] += 1

    def fetch_and_submit(client: httpx.Client, url: str) -> None:
        """One page: downloaded, then handed to the extraction processes (an error is kept)."""
        try:
            resp = client.get(url)
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            with lock:
                errors.append(f"{url}: {exc}")
            return
        submit(url, resp.content)

    def polite_host(origin: str, pages: list[str]) -> None:
        client = shared
        start = time.monotonic()
        robots = client.get(origin + "/robots.txt")
        rp = urllib.robotparser.RobotFileParser()
        rp.parse(robots.text.splitlines())
        delay = max(float(rp.crawl_delay("naive-script") or 0), args.naive_spacing)
        with lock:
            fetched["robots"] += 1
        last = start
        for url in pages:
            wait = last + delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            now = time.monotonic()
            with lock:
                gaps.append(now - last)
            last = now
            fetch_and_submit(client, url)

    def lifted_worker(q: queue.Queue[str]) -> None:
        client = shared
        while True:
            try:
                url = q.get_nowait()
            except queue.Empty:
                return
            fetch_and_submit(client, url)

    threads: list[threading.Thread] = []
    if args.naive == "polite":
        by_host: dict[str, list[str]] = defaultdict(list)
        for u in urls:
            p = urlsplit(u)
            by_host[f"{p.scheme}://{p.netloc}"].append(u)
        threads = [threading.Thread(target=polite_host, args=(o, ps)) for o, ps in by_host.items()]
    else:
        q: queue.Queue[str] = queue.Queue()
        for u in urls:
            q.put(u)
        threads = [threading.Thread(target=lifted_worker, args=(q,)) for _ in range(args.naive_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_fetched = time.perf_counter() - t0
    shared.close()
    sizes = [r.get() for r in results]
    pool.close()
    pool.join()
    wall = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {
        "wall_seconds_inside": wall,
        "fetch_done_seconds": t_fetched,
        "pages": fetched["pages"],
        "robots": fetched["robots"],
        "extracted": sum(1 for s in sizes if s),
        "errors": errors[:10],
        "error_count": len(errors),
        "cpu_main_seconds": me.ru_utime + me.ru_stime,  # fetch threads, pickling to the pool
        "cpu_extract_seconds": kids.ru_utime + kids.ru_stime,  # the extraction processes
        "min_gap_seconds": min(gaps) if gaps else None,
    }
    Path(args.naive_out).write_text(json.dumps(out))


def run_naive(
    mode: str, urls: list[str], work: Path, room: Any, *, threads: int, procs: int, spacing: float
) -> dict[str, Any]:
    from bench.e2e_bench import loadavg, run_timed

    work.mkdir(parents=True, exist_ok=True)
    (work / "urls.json").write_text(json.dumps(urls))
    out = work / "naive.json"
    cmd = [sys.executable, "-m", "bench.polite_bench", "--naive", mode,
           "--naive-urls", str(work / "urls.json"), "--naive-threads", str(threads),
           "--naive-procs", str(procs), "--naive-spacing", str(spacing), "--naive-out", str(out)]  # fmt: skip
    room.take_counts()
    room.take_requests()
    load0 = loadavg()
    res = run_timed(cmd, cwd=ROOT, stderr=work / "naive.err")
    page_counts = room.page_counts()
    served = room.take_counts()
    requests = room.take_requests()
    if res["returncode"] != 0 or not out.exists():
        err = (work / "naive.err").read_text(errors="replace")[-1500:]
        return {"name": f"naive {mode}", "error": f"naive script failed (rc {res['returncode']}): {err}"}
    inner = json.loads(out.read_text())
    name = (
        f"naive polite: {len(room.hosts)} threads + {procs} procs traf"
        if mode == "polite"
        else f"naive: {threads} threads + {procs} procs traf"
    )
    return {
        "name": name,
        "articles": len(urls),
        "wall_seconds": res["wall_seconds"],
        "cpu_seconds": res["cpu_seconds"],  # the script and its (waited-for) extraction processes
        "peak_rss_mb_per_process": res["peak_rss_mb"],  # the largest of the script and its children
        "pss_mb_total": None,
        "inner": inner,
        "served": served,
        "pages_served_once": _served_once(page_counts, len(urls)),
        "host_gaps": host_gaps(requests),
        "load_before": load0,
    }


# ---- helpers ---------------------------------------------------------------------------------
def _served_once(page_counts: dict[str, int], expected: int) -> bool:
    return len(page_counts) == expected and all(v == 1 for v in page_counts.values())


def host_gaps(requests: list[tuple[float, int, str]]) -> dict[str, Any]:
    """The least gap between two request arrivals at one host (any kind), and robots per host."""
    by_host: dict[int, list[float]] = defaultdict(list)
    robots: Counter[int] = Counter()
    for t, outlet, kind in requests:
        by_host[outlet].append(t)
        if kind == "robots":
            robots[outlet] += 1
    gaps = []
    for ts in by_host.values():
        ts.sort()
        gaps += [b - a for a, b in pairwise(ts)]
    return {
        "min_gap_seconds": round(min(gaps), 3) if gaps else None,
        "p1_gap_seconds": round(sorted(gaps)[len(gaps) // 100], 3) if gaps else None,
        "hosts": len(by_host),
        "robots_per_host_max": max(robots.values()) if robots else 0,
        "hosts_with_robots": len(robots),
    }


def run_floor(pages: list[tuple[bytes, str, str | None]], procs: int, kind: str) -> dict[str, Any]:
    """e2e_bench's floor runner (spawned pool, warm, CPU of the pool's processes) with our functions."""
    from bench import e2e_bench

    mod = importlib.import_module("bench.polite_bench")
    e2e_bench.FLOORS.setdefault(
        "traf_default", ("trafilatura.extract defaults (in memory)", mod._traf_default)
    )
    e2e_bench.FLOORS.setdefault("ours_extract", ("our extraction: decode+extract", mod._ours_extract))
    return e2e_bench.run_floor(pages, procs, kind)  # type: ignore[arg-type]


def run_service(
    room: Any,
    stories: list[Any],
    hosts: int,
    polite: bool,
    config: tuple[int, str, int],
    work: Path,
    timeout: float,
    max_per_host: int,
) -> dict[str, Any]:
    """The service as a user runs it, one timed ``ingest fetch --all --wait``; a dict with
    ``error`` (and the log's tail) when it fails, never an exception."""
    import psutil

    from bench.e2e_bench import (
        Service,
        cpu_seconds,
        expected_outcomes,
        loadavg,
        proc_status_mb,
        pss_mb,
    )

    workers, pool, conc = config
    name = f"ours: {workers} worker{'s' if workers > 1 else ''}, {pool} x {conc}"
    svc = None
    try:
        svc = Service(work, room, hosts, max_items=max_per_host)
        if polite:  # the shipped politeness: the defaults (config/ingest.toml), nothing raised
            svc.env["INGEST_FETCH__PER_DOMAIN_REQUESTS_PER_SECOND"] = "1"
            svc.env.pop("INGEST_FETCH__MAX_CRAWL_DELAY_SECONDS", None)
        else:
            # politeness lifted: 1,000 requests/s, Crawl-delay ignored, and 8 requests in flight
            # per site at once (Scrapy's default per domain) instead of 1
            svc.env["INGEST_FETCH__PER_DOMAIN_REQUESTS_PER_SECOND"] = "1000"
            svc.env["INGEST_FETCH__MAX_CRAWL_DELAY_SECONDS"] = "0"
            svc.env["INGEST_FETCH__PER_DOMAIN_CONCURRENCY"] = "8"
        svc.start_workers(workers, pool, conc)
        procs = svc.processes()
        rproc = psutil.Process(svc.redis.proc.pid) if svc.redis.proc else None
        room.take_counts()
        room.take_requests()
        load0 = loadavg()
        cpu0 = cpu_seconds(procs)
        per0 = {p.pid: cpu_seconds([p]) for p in procs}
        rcpu0 = cpu_seconds([rproc]) if rproc else 0.0
        res = svc.fetch_all(timeout=timeout, name="run")
        procs_now = svc.processes()
        worker_cpu = cpu_seconds(procs_now) - cpu0
        # the workers' main processes (broker, dispatcher, heartbeats) apart from the pool
        mains = {w.pid for w in svc.workers}
        per = {p.pid: cpu_seconds([p]) - per0.get(p.pid, 0.0) for p in procs_now}
        main_cpu = sum(v for pid, v in per.items() if pid in mains)
        redis_cpu = (cpu_seconds([rproc]) if rproc else 0.0) - rcpu0
        page_counts = room.page_counts()
        served = room.take_counts()
        requests = room.take_requests()
        hwm = {p.pid: proc_status_mb(p.pid, "VmHWM") for p in procs_now}
        pss = pss_mb(procs_now)
        s = res["summary"]
        got = {k: s.get(k) for k in ("queued", "duplicate", "off_topic", "failed")}
        expected = expected_outcomes(stories)
        gaps = host_gaps(requests)
        once = _served_once(page_counts, len(stories))
        return {
            "name": name,
            "workers": workers,
            "pool": pool,
            "concurrency": conc,
            "processes": len(procs_now),
            "articles": len(stories),
            "wall_seconds": res["wall_seconds"],
            # worker process trees + the `ingest fetch --wait` client (redis-server apart)
            "cpu_seconds": worker_cpu + res["cpu_seconds"],
            "cpu_breakdown": {
                "workers": worker_cpu,
                "worker_main_processes": main_cpu,
                "pool_processes": worker_cpu - main_cpu,
                "fetch_client": res["cpu_seconds"],
                "redis": redis_cpu,
            },
            "peak_rss_mb_per_process": max(hwm.values()) if hwm else 0.0,
            "peak_rss_mb_by_process": {str(k): round(v, 1) for k, v in hwm.items()},
            "pss_mb_total": pss,
            "outcomes": got,
            "expected": expected,
            "complete": bool(s.get("complete")),
            "failures": (s.get("failures") or [])[:10],
            "served": served,
            "pages_served_once": once,
            "page_counts_over_1": {k: v for k, v in page_counts.items() if v != 1},
            "pages_never_served": len(stories) - len(page_counts),
            "host_gaps": gaps,
            "correct": got == expected and once and bool(s.get("complete")),
            "worker_log": svc.log_counts(),
            "fetch_returncode": res["returncode"],
            "load_before": load0,
        }
    except Exception as exc:
        tail = svc.log_tail(25) if svc else ""
        return {
            "name": name,
            "error": f"{type(exc).__name__}: {str(exc)[:1500]}",
            "traceback": traceback.format_exc()[-3000:],
            "worker_log_tail": tail,
        }
    finally:
        if svc is not None:
            try:
                svc.stop()
            except Exception as exc:  # a broken service must not stop the baselines
                print(f"  (stopping the service: {type(exc).__name__}: {exc})")


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return dict(runs[-1]) | {"errors": [r["error"] for r in runs]}
    ordered = sorted(ok, key=lambda r: r["wall_seconds"])
    med = dict(ordered[(len(ordered) - 1) // 2])
    med["rounds"] = [{"wall_seconds": r["wall_seconds"], "cpu_seconds": r["cpu_seconds"]} for r in ok]
    if len(ok) < len(runs):
        med["errors"] = [r["error"] for r in runs if "error" in r]
    if "correct" in med:
        med["correct"] = all(r.get("correct") for r in runs)
    return med


def per_article(r: dict[str, Any]) -> tuple[float, float]:
    return r["articles"] / r["wall_seconds"], r["cpu_seconds"] / r["articles"] * 1000


def paired(ours: list[dict[str, Any]], base: list[dict[str, Any]], what: str) -> list[float]:
    """ours / baseline of the same round, for every round where both ran."""
    out = []
    for o, b in zip(ours, base, strict=False):
        if "error" in o or "error" in b:
            continue
        if what == "wall":
            out.append(o["wall_seconds"] / b["wall_seconds"])
        else:
            out.append(per_article(o)[1] / per_article(b)[1])
    return out


def fmt_r(xs: list[float]) -> str:
    return "[" + ", ".join(f"{x:.2f}" for x in xs) + "]"


# ---- a scenario --------------------------------------------------------------------------------
def run_scenario(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from bench.e2e_bench import expected_outcomes
    from bench.newsroom_server import NewsroomServer, parse_range, plan_stories

    spec = SCENARIOS[name]
    hosts = spec["hosts"]
    polite = spec["polite"]
    if polite:
        stories = plan_stories(hosts * spec["per_host"], hosts, 0.0, 0.0)
    else:
        stories = plan_stories(args.lifted_articles, hosts, args.dup_share, args.offtopic_share)
    per_host = Counter(s.outlet for s in stories)
    max_per_host = max(per_host.values())
    delay = args.crawl_delay
    bound = max_per_host * delay
    config = args.config
    result: dict[str, Any] = {
        "scenario": name,
        "hosts": hosts,
        "articles": len(stories),
        "articles_per_host_max": max_per_host,
        "polite": polite,
        "crawl_delay": delay,
        "expected": expected_outcomes(stories),
    }
    with NewsroomServer(
        hosts, parse_range(args.latency), templates=args.templates, crawl_delay=delay
    ) as room:
        t = time.perf_counter()
        room.publish(stories)
        bodies = room.bodies(stories)
        kb = sum(len(b) for b, _ in bodies.values()) / len(bodies) / 1024
        print(
            f"\n[{name}] {len(stories)} pages on {hosts} hosts ({max_per_host} max per host), "
            f"{kb:.0f} KB/page, robots Crawl-delay {delay:g}, expected {result['expected']} "
            f"({time.perf_counter() - t:.1f}s to render)"
        )
        urls = [room.url(s) for s in stories]
        from harness.templates import charset_of

        pages = [(bodies[u][0], u, charset_of(bodies[u][1])) for u in urls]
        timeout = args.fetch_timeout or (3 * bound + 120 if polite else max(240.0, len(stories) * 0.25))
        rounds: dict[str, list[dict[str, Any]]] = {"naive": [], "traf": [], "own": [], "ours": []}
        for k in range(args.repeat):
            tag = f"{name}-{k}"
            if polite:
                base = run_naive(
                    "polite", urls, work / f"naive-{tag}", room,
                    threads=hosts, procs=args.procs, spacing=delay,
                )  # fmt: skip
                rounds["naive"].append(base)
            else:
                rounds["traf"].append(run_floor(pages, args.procs, "traf_default"))
                rounds["own"].append(run_floor(pages, args.procs, "ours_extract"))
                rounds["naive"].append(
                    run_naive(
                        "lifted",
                        urls,
                        work / f"naive-{tag}",
                        room,
                        threads=args.naive_threads,
                        procs=args.procs,
                        spacing=0.0,
                    )
                )
            for key in ("traf", "own", "naive"):
                if rounds[key] and len(rounds[key]) == k + 1:
                    print(f"  round {k + 1}: {describe(rounds[key][-1])}")
            ours = run_service(
                room, stories, hosts, polite, config, work / f"ours-{tag}", timeout, max_per_host
            )
            rounds["ours"].append(ours)
            print(f"  round {k + 1}: {describe(ours)}")
    result["rounds"] = {k: v for k, v in rounds.items() if v}
    result["rows"] = {key: median_run(rs) for key, rs in rounds.items() if rs}
    result["bound_seconds"] = bound if polite else None
    result["paired"] = {
        "wall_vs_naive": paired(rounds["ours"], rounds["naive"], "wall"),
        **(
            {"wall_vs_bound": [o["wall_seconds"] / bound for o in rounds["ours"] if "error" not in o]}
            if polite
            else {
                "cpu_vs_trafilatura": paired(rounds["ours"], rounds["traf"], "cpu"),
                "cpu_vs_own_extraction": paired(rounds["ours"], rounds["own"], "cpu"),
                "naive_wall_vs_bound": [],
            }
        ),
    }
    if polite:
        result["paired"]["naive_wall_vs_bound"] = [
            b["wall_seconds"] / bound for b in rounds["naive"] if "error" not in b
        ]
    return result


def describe(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['name']}: ERROR {r['error'][:300]}"
    extra = ""
    if "outcomes" in r:
        extra = f", outcomes {r['outcomes']}{'' if r['correct'] else ' (NOT AS PLANNED)'}"
        extra += f", pages once: {r['pages_served_once']}, gaps {r['host_gaps']}"
        extra += f", cpu { ({k: round(v, 1) for k, v in r['cpu_breakdown'].items()}) }"
    if "inner" in r:
        i = r["inner"]
        extra = (
            f", extracted {i['extracted']}/{r['articles']}, CPU main {i['cpu_main_seconds']:.1f}s"
            f" + extraction {i['cpu_extract_seconds']:.1f}s, errors {i['error_count']}, gaps {r['host_gaps']}"
        )
    if "extracted" in r and "inner" not in r:
        extra = f", extracted {r['extracted']}/{r['articles']}"
    return f"{r['name']}: {r['wall_seconds']:.1f}s wall, {r['cpu_seconds']:.1f} CPU s{extra}"


# ---- the table and the targets -----------------------------------------------------------------
def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'run':<46}{'wall s':>8}{'art/s':>8}{'CPU ms/art':>11}{'max RSS MB':>11}{'PSS MB':>8}  ratios "
        "(median of the rounds' paired ratios)"
    )
    lines = [head, "-" * len(head)]
    for res in results:
        rows = res["rows"]
        lines.append(f"[{res['scenario']}] {res['hosts']} hosts, {res['articles']} articles")
        if res["polite"]:
            b = res["bound_seconds"]
            label = f"bound: {res['articles_per_host_max']} art/host x {res['crawl_delay']:g} s"
            lines.append(f"  {label:<44}{b:>8.1f}")
        for key in ("naive", "traf", "own", "ours"):
            r = rows.get(key)
            if r is None:
                continue
            if "error" in r:
                lines.append(f"  {r['name'][:44]:<44}  ERROR: {r['error'][:140]}")
                continue
            aps, cpu = per_article(r)
            pss = f"{r['pss_mb_total']:.0f}" if r.get("pss_mb_total") else "-"
            ratios = ""
            p = res["paired"]
            if key == "ours":
                parts = []
                if p.get("wall_vs_bound"):
                    parts.append(f"wall/bound {statistics.median(p['wall_vs_bound']):.2f}")
                if p.get("wall_vs_naive"):
                    parts.append(f"wall/naive {statistics.median(p['wall_vs_naive']):.2f}")
                if p.get("cpu_vs_trafilatura"):
                    parts.append(f"CPU/traf {statistics.median(p['cpu_vs_trafilatura']):.2f}")
                if p.get("cpu_vs_own_extraction"):
                    parts.append(f"CPU/own-extract {statistics.median(p['cpu_vs_own_extraction']):.2f}")
                ratios = "  ".join(parts)
            elif key == "naive" and p.get("naive_wall_vs_bound"):
                ratios = f"wall/bound {statistics.median(p['naive_wall_vs_bound']):.2f}"
            lines.append(
                f"  {r['name'][:44]:<44}{r['wall_seconds']:>8.1f}{aps:>8.1f}{cpu:>11.1f}"
                f"{r['peak_rss_mb_per_process']:>11.0f}{pss:>8}  {ratios}"
            )
    return "\n".join(lines)


def targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(scn: str, name: str, value: Any, limit: str, met: bool | None, note: str = "") -> None:
        out.append(
            {"scenario": scn, "target": name, "value": value, "limit": limit, "met": met, "note": note}
        )

    for res in results:
        scn = res["scenario"]
        ours = res["rows"].get("ours", {})
        p = res["paired"]
        if "error" in ours:
            add(scn, "service ran", None, "ingest fetch completes", False, ours["error"][:200])
            continue
        rounds = res["rounds"]["ours"]
        ok = [r for r in rounds if "error" not in r]
        correct = all(r["correct"] for r in ok) and len(ok) == len(rounds)
        note = "; ".join(
            f"outcomes {r['outcomes']}, pages once {r['pages_served_once']}, complete {r['complete']}"
            for r in ok
        )
        add(scn, "correct (every round)", None, "each page once, outcomes as planned", correct, note)
        if res["polite"]:
            gaps = [
                r["host_gaps"]["min_gap_seconds"] for r in ok if r["host_gaps"]["min_gap_seconds"] is not None
            ]
            g = min(gaps) if gaps else None
            met = g is not None and g >= res["crawl_delay"] * 0.95
            add(scn, "politeness kept: least gap at one host", g, f">= {res['crawl_delay']:g} s (-5%)", met)
            w = statistics.median(p["wall_vs_bound"]) if p.get("wall_vs_bound") else None
            add(
                scn,
                "ours wall / bound",
                _r(w),
                "(no target; 1.0 = the bound)",
                None,
                fmt_r(p.get("wall_vs_bound", [])),
            )
            w = statistics.median(p["wall_vs_naive"]) if p.get("wall_vs_naive") else None
            add(
                scn, "ours wall / naive polite", _r(w), "(no target)", None, fmt_r(p.get("wall_vs_naive", []))
            )
        else:
            w = statistics.median(p["wall_vs_naive"]) if p.get("wall_vs_naive") else None
            add(
                scn,
                "ours wall / naive",
                _r(w),
                f"<= {TARGETS['wall_vs_naive']}",
                w is not None and w <= TARGETS["wall_vs_naive"],
                fmt_r(p.get("wall_vs_naive", [])),
            )
            c = statistics.median(p["cpu_vs_trafilatura"]) if p.get("cpu_vs_trafilatura") else None
            own = p.get("cpu_vs_own_extraction") or []
            note = fmt_r(p.get("cpu_vs_trafilatura", [])) + (
                f"; {statistics.median(own):.2f}x our extraction alone" if own else ""
            )
            add(
                scn,
                "ours CPU/article / trafilatura.extract",
                _r(c),
                f"<= {TARGETS['cpu_vs_trafilatura']}",
                c is not None and c <= TARGETS["cpu_vs_trafilatura"],
                note,
            )
            rss = max(r["peak_rss_mb_per_process"] for r in ok)
            add(
                scn,
                "largest worker process peak RSS MB",
                round(rss, 1),
                f"<= {TARGETS['max_rss_mb']:.0f}",
                rss <= TARGETS["max_rss_mb"],
            )
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def format_targets(ts: list[dict[str, Any]]) -> str:
    lines = ["targets:"]
    for t in ts:
        state = "info" if t["met"] is None else ("met" if t["met"] else "not met")
        v = "" if t["value"] is None else str(t["value"])
        lines.append(
            f"  [{t['scenario']}] {t['target']:<42}{v:>8}  {t['limit']:<36} {state:<8} {t['note'][:150]}"
        )
    return "\n".join(lines)


# ---- the templates' check ---------------------------------------------------------------------
def check_templates() -> None:
    """Each template: the words our extraction finds and the relevance verdict, on and off topic."""
    from harness.newsroom import article_paragraphs, offtopic_paragraphs
    from harness.templates import TEMPLATES, charset_of, render_page
    from worker.errors import NotAnArticle
    from worker.extract import decode_html, extract
    from worker.relevance import score_normalized
    from worker.settings import get_settings
    from worker.textsig import normalize

    topic = get_settings().topic
    print(
        f"{'k':>2} {'template':<22}{'charset':<14}{'KB':>5}"
        f"{'words on':>9}{'topic':>7}{'words off':>10}{'topic':>7}"
    )
    bad = 0
    for k, tpl in enumerate(TEMPLATES):
        cells = []
        for topical in (True, False):
            n = 1000 + k
            paras = article_paragraphs(n) if topical else offtopic_paragraphs(n)
            title = (
                f"Report {n}: China and Belarus widen military ties"
                if topical
                else f"Local bakery wins ({n})"
            )
            raw, ctype, _ = render_page(paras, n=n, title=title, outlet=k, topical=topical)
            try:
                e = extract(decode_html(raw, charset_of(ctype)), f"http://127.0.0.1/{n}")
                words = len(e.text.split())
                on = score_normalized(f"{normalize(e.title or '')} {normalize(e.text)}", topic).on_topic
            except NotAnArticle:
                words, on = 0, False
            bad += (words < 300) or (on != topical)
            cells.append(f"{words:>9}{on!s:>7}")
        print(f"{k:>2} {tpl.name:<22}{tpl.charset + ('' if tpl.declare == 'header' else '*'):<14}"
              f"{len(raw) // 1024:>5}{cells[0]}{cells[1]:>17}")  # fmt: skip
    print(
        "(* charset declared in the page only)" + (f"; {bad} NOT AS EXPECTED" if bad else "; all as expected")
    )


# ---- main ----------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all")
    ap.add_argument("--repeat", type=int, default=1, help="rounds per scenario (baselines, then ours)")
    ap.add_argument("--latency", default="0.05-0.3", help="seconds, LO-HI: each response waits a draw")
    ap.add_argument("--crawl-delay", type=float, default=1.0, help="the Crawl-delay in every robots.txt")
    ap.add_argument(
        "--config", default="1:prefork:4", metavar="W:POOL:C", help="ours: workers, pool, concurrency"
    )
    ap.add_argument("--templates", default="varied", choices=["varied", "classic"])
    ap.add_argument("--lifted-articles", type=int, default=970)
    ap.add_argument("--dup-share", type=float, default=0.1, help="lifted scenario's syndicated copies")
    ap.add_argument("--offtopic-share", type=float, default=0.1, help="lifted scenario's off-topic pages")
    ap.add_argument("--procs", type=int, default=2, help="extraction processes of the baselines")
    ap.add_argument("--naive-threads", type=int, default=32, help="fetch threads of the lifted naive script")
    ap.add_argument(
        "--fetch-timeout", type=float, default=0.0, help="ingest fetch --timeout (0: by scenario)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the work folder (worker logs, ...)")
    ap.add_argument(
        "--check-templates", action="store_true", help="check the templates' pages, measure nothing"
    )
    # the naive script's own run (internal)
    ap.add_argument("--naive", choices=["polite", "lifted"], help=argparse.SUPPRESS)
    ap.add_argument("--naive-urls", help=argparse.SUPPRESS)
    ap.add_argument("--naive-procs", type=int, default=2, help=argparse.SUPPRESS)
    ap.add_argument("--naive-spacing", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--naive-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.naive:
        naive_main(args)
        return
    if args.check_templates:
        check_templates()
        return
    w, pool, c = args.config.split(":")
    args.config = (int(w), pool, int(c))
    scenarios = args.scenario or ["polite20", "polite200", "lifted"]
    from bench.e2e_bench import loadavg

    work = Path(tempfile.mkdtemp(prefix="polite-bench-"))
    command = shlex.join([".venv/bin/python", "-m", "bench.polite_bench", *sys.argv[1:]])
    print(f"polite benchmark: {command}\n  work folder {work}, load {loadavg()}, {os.cpu_count()} cpus")
    load_start = loadavg()
    results = []
    t0 = time.perf_counter()
    try:
        for name in scenarios:
            results.append(run_scenario(name, args, work))
    finally:
        if args.keep:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    out = table(results)
    ts = targets(results)
    summary = format_targets(ts)
    print()
    print(out)
    print(summary)
    for res in results:
        p = res["paired"]
        print(
            f"  [{res['scenario']}] paired ratios by round: "
            + ", ".join(f"{k} {fmt_r(v)}" for k, v in p.items() if v)
        )
    import trafilatura

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    params = {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in vars(args).items()
        if not k.startswith("naive") or k == "naive_threads"
    }
    result = {
        "benchmark": "polite",
        "when": stamp,
        "command": command,
        "total_seconds": round(time.perf_counter() - t0, 1),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "trafilatura": trafilatura.__version__,
            "load_at_start": load_start,
            "load_at_end": loadavg(),
        },
        "params": params,
        "scenarios": results,
        "targets": ts,
        "table": out + "\n" + summary,
    }
    for name in (f"polite-{stamp}.json", "polite-latest.json"):
        (RESULTS / name).write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwrote {RESULTS / f'polite-{stamp}.json'} and polite-latest.json ({result['total_seconds']}s)")


if __name__ == "__main__":
    main()
