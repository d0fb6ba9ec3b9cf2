"""The ``ingest`` command: run the service, send ad-hoc fetches, look at its state."""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import click
import kombu.exceptions
import redis

from worker.errors import ConfigError, IngestError
from worker.keys import Keys
from worker.logs import configure_logging, get_logger
from worker.redisconn import as_str
from worker.settings import LANG_CODE, SEARCH_KINDS, Settings, get_settings

log = get_logger("worker.cli")


def _settings(*, need_redis: bool = True) -> Settings:
    """Settings with the Redis URL resolved: REDIS_URL, else a running embedded server."""
    s = get_settings()
    configure_logging(s.log_level, s.log_format)
    if s.redis_url or not need_redis:
        return s
    from worker.embedded_redis import running_url

    url = running_url(s.data_dir)
    if not url:
        raise ConfigError(
            "REDIS_URL is not set and no embedded Redis is running here "
            f"(start the service with 'ingest run', or set REDIS_URL); data_dir = {s.data_dir}"
        )
    _use_redis_url(url)
    return get_settings()


def _service_sources(*, need_redis: bool = False) -> tuple[list[Any], str]:
    """The sources the running service polls (its record in Redis), else this shell's
    config's; and where they come from, to say so. ``need_redis``: an unreachable Redis
    is the command's error (``fetch``), not a reason to fall back to this shell's config."""
    from worker import service_record
    from worker.settings import config_path

    s = _settings(need_redis=False)
    url = s.redis_url
    if not url:
        from worker.embedded_redis import running_url

        url = running_url(s.data_dir)
    if url:
        from worker.redisconn import redis_client

        try:
            found = service_record.service_sources(redis_client(url), s)
        except redis.RedisError as exc:
            if need_redis:
                raise
            return service_record.shells_sources(s, f"Redis unreachable ({type(exc).__name__})")
        if found is not None:
            differ = service_record.source_differences(found[0], list(s.sources))
            if differ:
                click.echo(
                    f"this shell's config ({config_path()}) lists other sources than the running"
                    f" service, whose are used ({'; '.join(differ)})",
                    err=True,
                )
            return list(found[0]), found[1]
    return service_record.shells_sources(s, "no running service found")


def _use_redis_url(url: str) -> None:
    os.environ["REDIS_URL"] = url
    get_settings.cache_clear()


class Cli:
    """What a command needs, built once on first use: settings, Redis, the stages."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._client: redis.Redis | None = None
        self._ctx: Any = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = _settings()
        return self._settings

    @property
    def redis(self) -> redis.Redis:
        if self._client is None:
            from worker.redisconn import redis_client

            assert self.settings.redis_url
            self._client = redis_client(self.settings.redis_url)
        return self._client

    @property
    def keys(self) -> Any:
        from worker.keys import Keys

        return Keys(self.settings.redis.key_prefix, self.settings.redis.stream_key)

    @property
    def context(self) -> Any:
        """The worker's own resources (HTTP client, index ...), for commands that use them."""
        if self._ctx is None:
            from worker.context import Context

            self._ctx = Context(self.settings, self.redis)
        return self._ctx

    def adopt(self, settings: Settings) -> None:
        """Use ``settings`` from here on (before the stages are built)."""
        assert self._ctx is None, "the stages were built with the earlier settings"
        self._settings = settings

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()


pass_cli = click.make_pass_decorator(Cli, ensure=True)


class _Group(click.Group):
    """Every command's errors end as one clear line (exit 2); ``--debug`` adds the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IngestError as exc:
            _fail(str(exc), ctx)
        except redis.RedisError as exc:
            _fail(f"cannot reach Redis at {_masked_redis_url()}: {exc}", ctx)
        except kombu.exceptions.OperationalError as exc:  # the broker (the same Redis) is away
            _fail(f"cannot reach the broker at {_masked_redis_url()}: {exc}", ctx)


def _masked_redis_url() -> str:
    from worker.settings import mask_url

    url = os.environ.get("REDIS_URL")
    return mask_url(url) if url else "(REDIS_URL not set)"


def _fail(message: str, ctx: click.Context) -> NoReturn:
    if (ctx.obj is not None and getattr(ctx.obj, "debug", False)) or os.environ.get("INGEST_DEBUG_CLI"):
        import traceback

        traceback.print_exc()
    click.echo(f"ingest: error: {message}", err=True)
    sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="On an error, show the traceback too.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """News ingest worker: poll sources, fetch and extract articles, dedup, queue them."""
    ctx.obj = Cli()
    ctx.obj.debug = debug
    ctx.call_on_close(ctx.obj.close)


def _json_shutdown_notices() -> None:
    """Celery prints its shutdown notices ("worker: Warm shutdown (MainProcess)") with a
    ``safe_say`` of its own, past the logging system: log them as events instead."""
    import celery.apps.worker as celery_worker

    def say(msg: str, f: Any = None) -> None:
        log.info("celery_notice", message=str(msg).strip())

    celery_worker.safe_say = say


# seconds before a worker that stopped by itself is started again
RESTART_DELAY_SECONDS = 5.0


def _start_worker(s: Settings, *, beat: bool, concurrency: int | None, pool: str | None) -> bool:
    """Run a Celery worker until it stops; True when it stopped by itself, unasked.

    Celery gives a worker up for good on any exception in its consumer ("Unrecoverable
    error"), and kombu's Redis transport raises some now and then while the broker is
    away (seen here: an AttributeError closing a lost connection); a signal (SIGTERM,
    SIGINT, SIGQUIT) is the only stop that was asked for.
    """
    from celery.signals import worker_shutting_down

    from worker.celery_app import QUEUE_ARTICLES, QUEUE_POLL, app
    from worker.dedup import DedupIndex
    from worker.redisconn import redis_client
    from worker.seeds import load_seeds

    s.data_dir.mkdir(parents=True, exist_ok=True)
    log.info("settings", **s.start_up_line())
    assert s.redis_url
    from worker import metrics

    metrics.start(s.data_dir, s.worker.metrics_port, s.redis_url, s)  # before any metric exists
    client = redis_client(s.redis_url)
    from worker import service_record

    service_record.record(client, s)  # what `ingest sources` and `fetch --all` read
    load_seeds(DedupIndex(client, s.dedup, s.redis.key_prefix, s.redis.stream_key), s.seeds_dir)
    argv = [
        "worker",
        "-Q",
        f"{QUEUE_POLL},{QUEUE_ARTICLES}",
        "-c",
        str(concurrency or s.worker.tasks_at_once),
        "-P",
        pool or s.worker.pool,
        "-n",
        f"ingest-{os.getpid()}@%h",
        "-l",
        s.log_level,
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        argv += ["-B", "-s", str(s.data_dir / "celerybeat-schedule")]
    # Celery's banner is not printed: it is no log line (with JSON logs every line must be
    # JSON) and its transport line masks a password even when the URL has none; ours says it
    argv = ["--quiet", *argv]
    from worker.settings import mask_url

    log.info(
        "worker_starting",
        transport=mask_url(s.redis_url),
        queues=f"{QUEUE_POLL},{QUEUE_ARTICLES}",
        pool=pool or s.worker.pool,
        concurrency=concurrency or s.worker.tasks_at_once,
        beat=beat,
        metrics_port=s.worker.metrics_port or None,
    )
    if s.log_format == "json":  # with JSON logs every line is JSON, Celery's own words too
        _json_shutdown_notices()
    asked: list[str] = []
    worker_shutting_down.connect(lambda sig, **_: asked.append(sig), weak=False)
    app.worker_main(argv)
    return not asked


def _start_again() -> NoReturn:
    """Replace this process by a fresh one with the same command line (same pid).

    A worker that stopped by itself takes no work until someone starts it again; this
    does, after a pause, so one that keeps failing does not spin. Its tasks in flight
    go back to the queue (kombu hands them back, or the sweep of worker.liveness does
    once its heartbeat is gone), so nothing is lost.
    """
    log.error("worker_stopped_unexpectedly", action="start_again", in_seconds=RESTART_DELAY_SECONDS)
    time.sleep(RESTART_DELAY_SECONDS)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


@main.command()
@click.option("--concurrency", "-c", type=int, help="Worker processes (default: settings).")
@click.option("--pool", "-P", type=click.Choice(["prefork", "threads", "solo"]))
def run(concurrency: int | None, pool: str | None) -> None:
    """Run worker and scheduler in one process (on an embedded Redis if REDIS_URL is unset)."""
    s = _settings(need_redis=False)
    embedded = None
    if not s.redis_url:
        from worker.embedded_redis import EmbeddedRedis

        embedded = EmbeddedRedis(s.data_dir)
        _use_redis_url(embedded.start())
        s = get_settings()
    try:
        stopped_by_itself = _start_worker(s, beat=True, concurrency=concurrency, pool=pool)
    finally:
        if embedded:
            embedded.stop()
            del os.environ["REDIS_URL"]  # the fresh process starts its embedded Redis again
    if stopped_by_itself:
        _start_again()


@main.command()
@click.option("--concurrency", "-c", type=int, help="Worker processes (default: settings).")
@click.option("--pool", "-P", type=click.Choice(["prefork", "threads", "solo"]))
@pass_cli
def worker(cli: Cli, concurrency: int | None, pool: str | None) -> None:
    """Run a worker (no scheduler); start as many as you like, on any machine."""
    if _start_worker(cli.settings, beat=False, concurrency=concurrency, pool=pool):
        _start_again()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the sources as JSON.")
def sources(as_json: bool) -> None:
    """List the sources the running service polls and the URLs each poll requests (paste them
    in a browser); without a running service, those of this shell's config."""
    from worker.sources import requests_of

    srcs, origin = _service_sources()
    click.echo(f"sources of {origin}", err=True)
    listed: list[dict[str, Any]] = [
        {
            "name": src.name,
            "kind": src.kind,
            "enabled": src.enabled,
            "interval_seconds": src.interval_seconds,
            "interval_bounds": list(src.interval_bounds),
            "requests": [{"lang": r.lang, "url": r.url} for r in requests_of(src)],
        }
        for src in srcs
    ]
    if as_json:
        click.echo(json.dumps(listed, indent=2, ensure_ascii=False))
        return
    if not listed:
        click.echo("(no sources: only ad-hoc fetches)")
    for src in listed:
        off = "" if src["enabled"] else "  (disabled)"
        lo, hi = src["interval_bounds"]
        click.echo(f"{src['name']}  {src['kind']}  every {src['interval_seconds']}s ({lo:g}-{hi:g}s){off}")
        for r in src["requests"]:
            click.echo(f"  {r['lang'] or '-':<8} {r['url']}")


@main.command()
@pass_cli
def beat(cli: Cli) -> None:
    """Run the scheduler that polls every configured source on its interval. Run exactly one."""
    s = cli.settings
    from worker.celery_app import app
    from worker.settings import mask_url

    s.data_dir.mkdir(parents=True, exist_ok=True)
    schedule = s.data_dir / "celerybeat-schedule"
    # no banner (as for the worker): it is no log line, and it masks a password there is none of
    log.info("beat_starting", transport=mask_url(s.redis_url or ""), schedule=str(schedule))
    app.start(["--quiet", "beat", "-l", s.log_level, "-s", str(schedule)])


@main.command()
@click.option("--feed", "feeds", multiple=True, metavar="URL", help="Poll this feed now (repeatable).")
@click.option("--url", "urls", multiple=True, metavar="URL", help="Ingest this article page (repeatable).")
@click.option("--all", "all_sources", is_flag=True, help="Poll every configured source now.")
@click.option("--query", metavar="TEXT", help="Search Google News, Bing News and GDELT for this now.")
@click.option("--lang", metavar="CODE", help="--query's language (en, ru, zh ...; default en).")
@click.option("--wait", is_flag=True, help="Block until every article found is decided; print a summary.")
@click.option("--timeout", type=float, default=900.0, show_default=True, help="Seconds --wait waits at most.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--force", is_flag=True, help="--url pages that failed or were off topic are decided again.")
@pass_cli
def fetch(
    cli: Cli,
    feeds: tuple[str, ...],
    urls: tuple[str, ...],
    all_sources: bool,
    query: str | None,
    lang: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
    force: bool,
) -> None:
    """Send an ad-hoc fetch through the broker to the running workers."""
    if not (feeds or urls or all_sources or query):
        raise click.UsageError("give --feed URL, --url URL, --query TEXT or --all")
    if lang and not query:
        raise click.UsageError("--lang applies to --query only")
    if query is not None and not query.strip():
        raise click.BadParameter("the query is empty", param_hint="--query")
    if lang and not re.match(LANG_CODE, lang):
        raise click.BadParameter(
            f"{lang!r} is not a language code (en, ru, zh, pt-BR ...)", param_hint="--lang"
        )
    if force and not urls:
        raise click.UsageError("--force applies to --url pages only")
    if urls or feeds:  # (worker.feeds brings courlan: a fifth of this command's start-up)
        from worker.feeds import Item, canonical_url, is_fetchable
    for option, values in (("--url", urls), ("--feed", feeds)):
        for u in values:  # every argument checked before anything is sent
            if not is_fetchable(u):
                raise click.BadParameter(f"{u!r} is not an http(s) URL", param_hint=option)
    cli.settings  # noqa: B018  (resolves the Redis URL, as every command does)
    # tasks are sent by name: importing worker.tasks would load the whole pipeline
    # (trafilatura, numpy), most of this command's start-up time
    from worker.celery_app import app

    run_id = uuid.uuid4().hex
    if urls:
        from worker.handoff import HandOff

        items = [Item(url=u, canonical_url=canonical_url(u), source="adhoc") for u in urls]
        HandOff(cli.context).hand_on(items, run_id, force=force)
    from worker.polls import PollLedger

    ledger = PollLedger(cli.redis, cli.keys)
    sends: list[tuple[str, list[Any]]] = [("worker.tasks.poll_feed", [f, run_id]) for f in feeds]
    if all_sources:  # the service's sources: the workers look each one up by name
        srcs, origin = _service_sources(need_redis=True)
        click.echo(f"polling the sources of {origin}", err=True)
        sends += [("worker.tasks.poll_source", [src.name, run_id]) for src in srcs if src.enabled]
    if query:
        sends += [("worker.tasks.poll_search", [kind, query.strip(), lang, run_id]) for kind in SEARCH_KINDS]
    for task, args in sends:
        task_id = uuid.uuid4().hex
        ledger.note_poll(task_id, task, args)  # sent again by the workers' sweep if the broker loses it
        app.send_task(task, args, task_id=task_id)
    polls = len(sends)
    _finish_run(cli, run_id, polls, wait, timeout, as_json)


# ``ingest fetch --wait`` / ``retry --wait`` exit codes (README: Commands)
EXIT_COMPLETE = 0  # every item decided, none failed
EXIT_TIMED_OUT = 1  # --timeout passed before every item was decided
EXIT_ERROR = 2  # the command could not run (Redis unreachable, a bad setting, ...)
EXIT_WITH_FAILURES = 3  # every item decided, some failed (or a poll failed, or pages were walls)
PROGRESS_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal


class _Progress:
    """What ``--wait`` is waiting for, on stderr: a line updated in place on a terminal, a
    plain line every PROGRESS_EVERY seconds otherwise (logs, CI)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = -PROGRESS_EVERY
        self.shown = False

    def __call__(self, state: RunProgress) -> None:
        if not self.tty and state.waited - self.last < PROGRESS_EVERY:
            return
        if self.tty and state.waited - self.last < 0.5:
            return
        self.last = state.waited
        line = format_progress(state, state.retrying(), time.time())
        if self.tty:  # one line, rewritten: never longer than the terminal is wide
            width = _terminal_width() - 1
            line = line if len(line) <= width else line[: width - 1] + "…"
            click.echo("\r" + line.ljust(width), nl=False, err=True)
        else:
            click.echo(line, err=True)
        self.shown = True

    def done(self) -> None:
        if self.tty and self.shown:
            click.echo("", err=True)


def _terminal_width() -> int:
    """stderr's width: the progress line's terminal, whatever stdout is (a file, a pipe)."""
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        columns = 0
    return columns if columns > 20 else 80  # a terminal that says no width (a new pty) gets 80


NAMED_RETRIES = 2  # retried articles named in the progress line; more are counted by reason


def format_progress(state: RunProgress, retrying: list[dict[str, Any]], now: float) -> str:
    """``waiting 12s: 2/3 polls done, 40 articles not yet decided; retrying URL (reason, ...)``."""
    parts = [f"{state.polls}/{state.expected_polls} polls done"] if state.expected_polls else []
    parts.append(f"{state.pending} article{'' if state.pending == 1 else 's'} not yet decided")
    line = f"waiting {state.waited:.0f}s: " + ", ".join(parts)
    if len(retrying) > NAMED_RETRIES:
        reasons = Counter(str(n.get("reason")) for n in retrying)
        line += f"; {len(retrying)} retrying (" + ", ".join(f"{r} {c}" for r, c in reasons.most_common(3))
        line += ", …)" if len(reasons) > 3 else ")"
    for n in retrying if len(retrying) <= NAMED_RETRIES else []:
        due = float(n.get("at", now)) - now
        line += (
            f"; retrying {n.get('url')} ({n.get('reason')}, attempt {n.get('attempt')} of"
            f" {n.get('attempts')}, " + (f"in {due:.0f}s)" if due >= 0.5 else "now)")
        )
    return line


def _finish_run(cli: Cli, run_id: str, polls: int, wait: bool, timeout: float, as_json: bool) -> None:
    """Print the run's id, or with ``wait`` its summary once done; the exit code says how it
    ended (EXIT_COMPLETE, EXIT_WITH_FAILURES, EXIT_TIMED_OUT)."""
    if not wait:
        click.echo(f"sent run {run_id}")
        return
    progress = _Progress()
    summary = wait_for_run(cli.redis, cli.keys, run_id, polls, timeout, progress=progress)
    progress.done()
    click.echo(json.dumps(summary, indent=2) if as_json else format_summary(summary))
    if not summary["complete"]:
        sys.exit(EXIT_TIMED_OUT)
    poll_errors = any(p.get("error") for p in summary["polls"])
    if summary["failed"] or summary.get("partial") or poll_errors:
        sys.exit(EXIT_WITH_FAILURES)


@main.command()
@click.argument("urls", nargs=-1, metavar="URL...")
@click.option("--reason", "reasons", multiple=True, metavar="R", help="Every failed item with this reason.")
@click.option("--wait", is_flag=True, help="Block until every item sent is decided; print a summary.")
@click.option("--timeout", type=float, default=900.0, show_default=True, help="Seconds --wait waits at most.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_cli
def retry(
    cli: Cli, urls: tuple[str, ...], reasons: tuple[str, ...], wait: bool, timeout: float, as_json: bool
) -> None:
    """Try failed (or off-topic) items again now, whatever their reason.

    Each URL is retried (as it was found, when it failed before; else as an ad-hoc page);
    --reason R retries every failed item of the live epochs failed for R. An article
    queued, or a duplicate, is never decided again.
    """
    if not (urls or reasons):
        raise click.UsageError("give URL... or --reason R")
    from worker.feeds import Item, canonical_url, is_fetchable

    for u in urls:
        if not is_fetchable(u):
            raise click.BadParameter(f"{u!r} is not an http(s) URL", param_hint="URL")
    from worker.context import item_keys
    from worker.handoff import HandOff

    ctx = cli.context
    items: dict[bytes, Item] = {}
    for u in urls:
        fresh = Item(url=u, canonical_url=canonical_url(u), source="adhoc")
        key = item_keys(fresh)[0]
        record = ctx.index.failed_record(key)
        items[key] = Item.from_dict(record["item"]) if record else fresh
    if reasons:
        _, hashes = ctx.index.failed_hashes()
        for h in hashes:
            for field, raw in cli.redis.hscan_iter(h, count=500):
                record = json.loads(raw)
                if record.get("reason") in reasons:
                    items.setdefault(bytes.fromhex(as_str(field)), Item.from_dict(record["item"]))
    if not items:
        click.echo("nothing to retry: no failed item with reason " + ", ".join(reasons))
        return
    run_id = uuid.uuid4().hex
    HandOff(ctx).hand_on(list(items.values()), run_id, force=True)
    click.echo(f"sent {len(items)} to retry", err=as_json)
    _finish_run(cli, run_id, 0, wait, timeout, as_json)


def run_summary(client: redis.Redis, keys: Keys, run_id: str, expected_polls: int) -> dict[str, Any]:
    polls = [json.loads(v) for v in client.hvals(keys.run_polls(run_id))]
    items = [json.loads(v) for v in client.hvals(keys.run_items(run_id))]
    counts: Counter[str] = Counter()
    for it in items:
        counts["seen" if it.get("prior") else it["outcome"]] += 1
    adhoc = len(items) - sum(p.get("new", 0) for p in polls)  # --url items
    found = sum(p.get("found", 0) for p in polls) + adhoc
    already_seen = sum(p.get("seen", 0) for p in polls) + counts["seen"]
    summary: dict[str, Any] = {
        "run_id": run_id,
        "complete": len(polls) >= expected_polls and counts["pending"] == 0,
        "polls": polls,
        "found": found,
        "new": found - already_seen,
        "already_seen": already_seen,
        **{
            k: counts[k]
            for k in ("queued", "duplicate", "off_topic", "stale", "partial", "failed", "pending")
        },
        "failures": [
            {"url": it.get("url"), "reason": it.get("reason"), "error": it.get("error")}
            for it in items
            if it["outcome"] == "failed"
        ],
        # pages that were not the article (worker/page_check.py)
        "partials": [
            {"url": it.get("url"), "reason": it.get("reason")} for it in items if it["outcome"] == "partial"
        ],
    }
    return summary


NEARLY_DONE = 64  # articles still pending


@dataclass
class RunProgress:
    """Where a run stands while ``--wait`` waits: its counts, and on demand (one more round
    trip) why its undecided articles that failed an attempt are being tried again."""

    client: redis.Redis
    keys: Keys
    run_id: str
    polls: int
    expected_polls: int
    pending: int
    waited: float

    def retrying(self, at_most: int = 500) -> list[dict[str, Any]]:
        """The last retry note of each undecided article retried so far (at most ``at_most``)."""
        if not self.pending:
            return []
        notes = dict(
            itertools.islice(
                self.client.hscan_iter(self.keys.run_retrying(self.run_id), count=at_most), at_most
            )
        )
        if not notes:
            return []
        still = self.client.smismember(self.keys.run_pending(self.run_id), list(notes))
        return [json.loads(raw) for raw, pending in zip(notes.values(), still, strict=True) if pending]


def wait_for_run(
    client: redis.Redis,
    keys: Keys,
    run_id: str,
    expected_polls: int,
    timeout: float,
    progress: Callable[[RunProgress], None] | None = None,
) -> dict[str, Any]:
    """Wait until every poll of the run is done and every item decided (or the timeout).

    ``progress`` is called with where the run stands each time it is looked at."""
    started = time.monotonic()
    deadline = started + timeout
    full_every, last_full = 5.0, started
    while True:
        # two counters each round; the whole summary only when they say "done", or now and
        # then in case a worker of an older version does not keep the pending set
        pipe = client.pipeline(transaction=False)
        pipe.hlen(keys.run_polls(run_id))
        pipe.scard(keys.run_pending(run_id))
        polls, pending = pipe.execute()
        now = time.monotonic()
        if progress is not None:
            progress(
                RunProgress(client, keys, run_id, int(polls), expected_polls, int(pending), now - started)
            )
        if (polls >= expected_polls and pending == 0) or now > deadline or now - last_full > full_every:
            last_full = now
            summary = run_summary(client, keys, run_id, expected_polls)
            if summary["complete"] or now > deadline:
                return summary
        # looked at more often in a run's last moments: the answer is due any time then
        time.sleep(0.05 if polls >= expected_polls and pending <= NEARLY_DONE else 0.2)


def format_summary(s: dict[str, Any]) -> str:
    lines = [
        ("complete" if s["complete"] else "INCOMPLETE (timed out)")
        + f": found={s['found']} new={s['new']} already_seen={s['already_seen']}"
        f" queued={s['queued']} duplicate={s['duplicate']} off_topic={s['off_topic']}"
        f" stale={s.get('stale', 0)} partial={s.get('partial', 0)} failed={s['failed']}"
        + (f" pending={s['pending']}" if s["pending"] else "")
    ]
    for p in s["polls"]:
        state = p.get("error") or p.get("skipped") or ("not modified" if p.get("not_modified") else "ok")
        lines.append(f"  feed {p['feed_url']}: {state} found={p['found']} new={p['new']}")
    for f in s["failures"]:
        lines.append(f"  failed {f['url']}: {f['reason']}" + (f" ({f['error']})" if f.get("error") else ""))
    for f in s.get("partials", []):
        lines.append(f"  partial {f['url']}: {f['reason']}")
    return "\n".join(lines)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_cli
def status(cli: Cli, as_json: bool) -> None:
    """Queue length, articles indexed, last poll per source, recent failures."""
    from worker.status import collect_status, format_status

    st = collect_status(cli.redis, cli.settings)
    click.echo(json.dumps(st, indent=2) if as_json else format_status(st))


@main.command()
@click.option("-n", "count", type=int, default=10, show_default=True, help="How many articles.")
@click.option("--json", "as_json", is_flag=True, help="Print each article's document as a JSON line.")
@pass_cli
def tail(cli: Cli, count: int, as_json: bool) -> None:
    """Show the newest queued articles."""
    from worker.message import decode

    entries: Any = cli.redis.xrevrange(cli.settings.redis.stream_key, count=count)
    for raw_id, fields in reversed(entries):
        sid = as_str(raw_id)
        doc = decode(fields)
        if as_json:
            click.echo(json.dumps({"stream_id": sid, **doc}, ensure_ascii=False))
            continue
        if doc.get("type") == "copy":
            of = doc.get("of") or {}
            click.echo(f"{sid}  copy of {of.get('kind')} #{of.get('id')}: {doc['url']}")
            continue
        near = doc.get("dedup", {}).get("nearest") or {}
        click.echo(
            f"{sid}  {doc.get('published_at') or '-':<25} {doc['source']:<12} "
            f"{doc['word_count']:>5}w  {doc.get('title') or '(untitled)'}\n"
            f"    {doc['url']}"
            + (
                f"\n    nearest {near.get('kind')} {near.get('name') or near.get('id')}"
                f" similarity={near.get('similarity')}"
                if near
                else ""
            )
        )


@main.command(name="requeue-stale")
@click.option("--older-than", type=float, help="Seconds (default: worker.lost_task_seconds).")
@pass_cli
def requeue_stale_cmd(cli: Cli, older_than: float | None) -> None:
    """Queue again in the frontier articles handed on long ago and never decided. Workers do this too."""
    from worker.handoff import HandOff

    age = older_than if older_than is not None else cli.settings.worker.lost_task_seconds
    sent = HandOff(cli.context).send_again_stale(age)
    click.echo(f"sent again: {sent}")


@main.command()
@click.option("--group", "-g", required=True, help="Consumer group name (created if missing).")
@click.option(
    "--consumer", default=lambda: f"{socket.gethostname()}-{os.getpid()}", help="This consumer's name."
)
@click.option("--handler", metavar="MODULE:FUNCTION", help="Callable given each article (default: print it).")
@click.option(
    "--start",
    type=click.Choice(["0", "$"]),
    default="0",
    show_default=True,
    help="Where a new group starts: 0 = all history, $ = only new articles.",
)
@click.option("--count", type=int, default=10, show_default=True, help="Entries read at a time.")
@click.option(
    "--claim-idle",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds after which another consumer's pending entry is taken over.",
)
@click.option(
    "--max-deliveries",
    type=int,
    default=5,
    show_default=True,
    help="Failed deliveries after which an entry is parked in the consumer dead letters.",
)
@click.option("--until-idle", is_flag=True, help="Stop when there is nothing left to read.")
@pass_cli
def consume(
    cli: Cli, group: str, consumer: str, handler: str | None, start: str, count: int, claim_idle: float,
    max_deliveries: int, until_idle: bool,
) -> None:  # fmt: skip
    """Reference downstream consumer: read the stream with a consumer group, ack each article."""
    from worker.consume import Consumer, ensure_group, print_handler

    s = cli.settings
    fn = print_handler
    if handler:
        import importlib

        mod, _, attr = handler.partition(":")
        fn = getattr(importlib.import_module(mod), attr)
    ensure_group(cli.redis, s.redis.stream_key, group, start)
    c = Consumer(
        cli.redis, s.redis.stream_key, group, consumer, fn, prefix=s.redis.key_prefix, count=count,
        block_ms=1000, claim_idle_ms=int(claim_idle * 1000), max_deliveries=max_deliveries,
    )  # fmt: skip
    try:
        stats = c.run(until_idle=until_idle)
    except KeyboardInterrupt:
        stats = c.stats
    log.info("consumer_stopped", group=group, consumer=consumer, **vars(stats))


@main.command()
@click.option(
    "--group", "-g", "groups", multiple=True, required=True, help="Every group that must have read it."
)
@pass_cli
def trim(cli: Cli, groups: tuple[str, ...]) -> None:
    """Remove stream entries that every given group has read and acknowledged (never others)."""
    from worker.consume import safe_trim

    min_id, removed = safe_trim(cli.redis, cli.settings.redis.stream_key, list(groups))
    click.echo(f"removed {removed} entries; oldest kept id {min_id or '-'}")


def _listed(diffs: list[str]) -> str:
    return "; ".join(diffs[:8]) + ("; ..." if len(diffs) > 8 else "")


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="URL|FILE...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input, one per line.")
@pass_cli
def explain(cli: Cli, inputs: tuple[str, ...], as_json: bool) -> None:
    """Why each page or text would be judged new or a duplicate (changes nothing), with the
    running service's verdict settings.

    A .txt file is taken as extracted text; an .html file is extracted first.
    """
    from worker import service_record
    from worker.explain import explain_all, format_explanation

    doc = service_record.read(cli.redis, cli.settings)
    if doc is None:
        click.echo("explain: no running service found; judging with this shell's settings", err=True)
    else:
        where = f"recorded by {doc.get('host', '?')} at {doc.get('at', '?')}"
        diffs = service_record.policy_differences(doc.get("settings", {}), cli.settings.summary())
        adopted = service_record.adopt(cli.settings, doc["policy"]) if "policy" in doc else None
        if adopted is not None:  # judge as the service would
            cli.adopt(adopted)
            if diffs:
                click.echo(
                    f"explain: judging with the running service's settings ({where}); this shell's "
                    "differ where they change a verdict: " + _listed(diffs),
                    err=True,
                )
        elif diffs:  # a worker too old (or too new) to record a policy this shell can read
            click.echo(
                f"warning: this shell's settings differ from the running service's ({where}) where "
                "they change a verdict; explain judges with this shell's: " + _listed(diffs),
                err=True,
            )
    results = explain_all(cli.context, list(inputs))
    for res in results:
        if as_json:
            click.echo(json.dumps(res, ensure_ascii=False))
        elif res["verdict"] == "error":
            click.echo(f"{res['input']}\n  error: {res['error']}")
        else:
            click.echo(format_explanation(res))
    if any(res["verdict"] == "error" for res in results):
        sys.exit(1)


@main.command()
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for replies.")
@pass_cli
def check(cli: Cli, timeout: float) -> None:
    """Liveness probe: exit 0 when a worker on this host answers a ping through the broker."""
    cli.settings  # noqa: B018  (resolves the Redis URL, as every command does)
    from worker.celery_app import app

    host = socket.gethostname()
    replies = app.control.ping(timeout=timeout) or []
    mine = sorted(node for reply in replies for node in reply if node.endswith("@" + host))
    if not mine:
        click.echo(f"no worker on {host} answered within {timeout}s", err=True)
        sys.exit(1)
    click.echo("alive: " + " ".join(mine))


if __name__ == "__main__":  # pragma: no cover
    main()
