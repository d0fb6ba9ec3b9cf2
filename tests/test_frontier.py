"""The polite frontier (worker/frontier.py) on a real Redis: order, concurrency, turns, leases.

Nothing here waits on a clock to decide a verdict: a site's "turn not come yet" is
made with delays of minutes, and a lease's expiry with leases of a few ms.
"""

from __future__ import annotations

import time
from dataclasses import replace

import redis

from worker.feeds import Item
from worker.frontier import Entry, Frontier, next_delay
from worker.keys import Keys
from worker.settings import FetchSettings

FAST = {"per_domain_requests_per_second": 1000.0}  # a 1 ms delay: a site's next turn comes at once
SLOW = {"per_domain_requests_per_second": 1 / 600}  # a 10 min delay: it does not come during a test


def frontier(r: redis.Redis, prefix: str, lease_seconds: float = 30.0, **fetch: object) -> Frontier:
    return Frontier(r, Keys(prefix, f"{prefix}articles"), FetchSettings(**fetch), lease_seconds)  # type: ignore[arg-type]


def entry(site: str, n: int, **kw: object) -> Entry:
    url = f"http://{site}/story-{n}.html"
    return Entry(Item(url=url, canonical_url=url, source="test"), **kw)  # type: ignore[arg-type]


def take_all(f: Frontier, n: int = 100, taker: str = "w/1") -> list[str]:
    taken, _ = f.take(n, taker)
    return [t.entry.item.url for t in taken]


def drain_site(f: Frontier, rounds: int) -> list[str]:
    """Take and settle, one at a time, as a worker would; the URLs in the order taken."""
    urls = []
    for _ in range(rounds):
        deadline = time.monotonic() + 5
        while not (taken := f.take(1, "w/1")[0]) and time.monotonic() < deadline:
            time.sleep(0.002)  # the 1 ms delay of FAST
        for t in taken:
            urls.append(t.entry.item.url)
            f.fetched(t)
            f.done(t)
    return urls


def test_a_sites_articles_leave_in_the_order_they_were_queued(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **FAST)
    order = [7, 3, 9, 1, 5, 2, 8]
    f.push([entry("a.example", n) for n in order])

    assert drain_site(f, len(order)) == [f"http://a.example/story-{n}.html" for n in order]


def test_a_site_has_one_request_in_flight_until_the_first_is_over(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **FAST)
    f.push([entry("a.example", n) for n in range(3)])
    [first], _ = f.take(10, "w/1")
    time.sleep(0.01)  # well past the 1 ms delay: only the request in flight holds the site

    assert take_all(f) == []
    f.fetched(first)  # the request is over; the article is not decided yet
    time.sleep(0.01)
    assert take_all(f) == ["http://a.example/story-1.html"]


def test_per_domain_concurrency_lets_that_many_requests_go_to_a_site(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, per_domain_concurrency=2, **FAST)
    f.push([entry("a.example", n) for n in range(5)])

    got = []
    for _ in range(4):  # 1 ms apart at least, by the site's delay
        time.sleep(0.01)
        got += take_all(f)
    assert len(got) == 2


def test_a_site_waiting_for_its_turn_does_not_hold_back_other_sites(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **SLOW)
    f.push([entry("slow.example", 0), entry("slow.example", 1), entry("b.example", 0), entry("c.example", 0)])

    taken, _ = f.take(100, "w/1")
    for t in taken:
        f.fetched(t)  # every request over: only slow.example's pace holds its next article
    first = [t.entry.item.url for t in taken]
    second = take_all(f)

    assert sorted(first) == [
        "http://b.example/story-0.html",
        "http://c.example/story-0.html",
        "http://slow.example/story-0.html",
    ]
    assert second == []  # slow.example's next turn is 10 min away; nothing else waits
    ready_in = f.next_ready_in()
    assert ready_in is not None and ready_in > 500


def test_the_turn_a_feed_or_robots_request_reserved_is_respected(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **FAST)
    keys = Keys(prefix)
    r.set(keys.pace("a.example"), int(time.time() * 1000) + 600_000)  # as reserve_slot would
    f.push([entry("a.example", 0)])

    assert take_all(f) == []


def test_an_article_held_by_a_taker_is_not_queued_a_second_time(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **FAST)
    e = entry("a.example", 0)
    f.push([e])
    [t], _ = f.take(1, "w/1")

    assert f.push([e]) == 0
    f.fetched(t)
    time.sleep(0.01)
    assert take_all(f) == []
    assert f.counts() == {"waiting": 0, "leased": 1, "sites": 0}


def test_an_article_already_waiting_keeps_its_place(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **FAST)
    f.push([entry("a.example", n) for n in range(3)])
    f.push([entry("a.example", 0)])  # e.g. the sweep's lost-item check

    assert drain_site(f, 3) == [f"http://a.example/story-{n}.html" for n in range(3)]
    assert f.counts()["waiting"] == 0


def test_a_dead_takers_article_goes_back_first_in_line_when_its_lease_runs_out(
    r: redis.Redis, prefix: str
) -> None:
    f = frontier(r, prefix, lease_seconds=0.001, **FAST)
    f.push([entry("a.example", n) for n in range(3)])
    [_dead], _ = f.take(1, "dead/1")  # its taker dies with the request in flight
    time.sleep(0.01)

    assert f.requeue_expired() == 1
    assert drain_site(f, 3)[:1] == ["http://a.example/story-0.html"]


def test_a_late_release_by_a_taker_whose_lease_was_taken_back_changes_nothing(
    r: redis.Redis, prefix: str
) -> None:
    f = frontier(r, prefix, lease_seconds=0.001, **FAST)
    f.push([entry("a.example", 0)])
    [old], _ = f.take(1, "slow/1")
    time.sleep(0.01)
    f.requeue_expired()
    time.sleep(0.01)
    [new], _ = f.take(1, "w/2")

    assert f.done(old) is None  # the first taker wakes up: its token holds nothing now
    assert f.counts()["leased"] == 1
    assert f.done(new) == []
    assert f.counts() == {"waiting": 0, "leased": 0, "sites": 0}


def test_a_leased_article_whose_taker_renews_is_not_taken_back(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, lease_seconds=60, **FAST)
    f.push([entry("a.example", 0)])
    [t], _ = f.take(1, "w/1")
    f.renew([t.key])

    assert f.requeue_expired() == 0
    assert f.counts()["leased"] == 1


def test_a_retry_waits_its_backoff_in_the_queue_behind_no_one(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **FAST)
    f.push([entry("a.example", 0), entry("a.example", 1)])
    [t], _ = f.take(1, "w/1")
    f.fetched(t)
    f.back(t, Entry(t.entry.item, retries=1), not_before=600)  # back off 10 min
    time.sleep(0.01)

    assert take_all(f) == ["http://a.example/story-1.html"]


def test_the_entry_carries_its_attempts_and_force_through_the_queue(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **FAST)
    f.push([entry("a.example", 0, run_id="run1", retries=2, force=True, heal_round=1)])
    [t], _ = f.take(1, "w/1")

    assert (t.entry.run_id, t.entry.retries, t.entry.force, t.entry.heal_round) == ("run1", 2, True, 1)


def test_the_sites_adapted_delay_is_used_for_its_next_turn(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **FAST)
    f.push([entry("a.example", n) for n in range(2)])
    [t], _ = f.take(1, "w/1")
    f.fetched(t, delay=600.0)  # it answered 429: ten minutes
    f.done(t)

    assert take_all(f) == []
    ready_in = f.next_ready_in()
    assert ready_in is not None and ready_in > 500


def test_the_sites_next_turn_counts_from_when_its_request_went_not_when_it_was_taken(
    r: redis.Redis, prefix: str
) -> None:
    f = frontier(r, prefix, **FAST)
    f.push([entry("a.example", n) for n in range(2)])
    [t], _ = f.take(1, "w/1")
    taken_long_ago = replace(t, taken_at=t.taken_at - 300)  # its request went 5 min after the take
    f.fetched(taken_long_ago, delay=600.0, sent_at=time.monotonic())
    f.done(t)

    ready_in = f.next_ready_in()
    assert ready_in is not None and ready_in > 590  # 600 s after the request, not 300 s


# ---- the adaptive delay ----------------------------------------------------------------------


def test_429_doubles_the_delay() -> None:
    assert next_delay(2.0, 1.0, latency=None, rate_limited=True, max_delay=60) == 4.0


def test_a_retry_after_longer_than_double_wins() -> None:
    assert next_delay(1.0, 1.0, latency=None, rate_limited=True, retry_after=30, max_delay=60) == 30.0


def test_the_delay_never_passes_its_maximum() -> None:
    assert next_delay(50.0, 1.0, latency=None, rate_limited=True, retry_after=600, max_delay=60) == 60.0


def test_a_slow_answer_moves_the_delay_half_way_towards_its_latency() -> None:
    assert next_delay(1.0, 1.0, latency=5.0, max_delay=60) == 3.0


def test_with_more_requests_allowed_in_flight_the_delay_follows_latency_over_concurrency() -> None:
    # a site answering in 0.2 s with 8 requests allowed at once is asked every 0.025 s,
    # as AutoThrottle's target delay (latency / target concurrency) would have it
    delay = 0.0001
    for _ in range(30):
        delay = next_delay(delay, 0.0001, latency=0.2, max_delay=60, concurrency=8)
    assert 0.0249 < delay <= 0.025


def test_a_recovered_site_comes_back_down_to_its_base() -> None:
    delay = 16.0
    for _ in range(20):
        delay = next_delay(delay, 1.0, latency=0.1, max_delay=60)
    assert 1.0 <= delay < 1.001


def test_an_error_with_no_answer_leaves_the_delay_as_it_was() -> None:
    assert next_delay(4.0, 1.0, latency=None, max_delay=60) == 4.0


def test_the_delay_never_goes_below_the_sites_crawl_delay() -> None:
    assert next_delay(5.0, 5.0, latency=0.05, max_delay=60) == 5.0


def test_a_run_asking_for_an_article_already_taken_is_told_its_decision(r: redis.Redis, prefix: str) -> None:
    f = frontier(r, prefix, **FAST)
    f.push([entry("a.example", 0, run_id="poll")])
    [t], _ = f.take(1, "w/1")

    assert f.push([entry("a.example", 0, run_id="adhoc")]) == 0  # not queued a second time
    assert f.done(t) == ["adhoc"]


def test_a_run_asking_for_an_article_already_waiting_is_told_its_decision(
    r: redis.Redis, prefix: str
) -> None:
    f = frontier(r, prefix, **FAST)
    f.push([entry("a.example", 0, run_id="poll")])
    f.push([entry("a.example", 0, run_id="adhoc")])
    [t], _ = f.take(10, "w/1")

    assert t.entry.run_id == "poll"
    assert f.done(t) == ["adhoc"]
    assert f.counts() == {"waiting": 0, "leased": 0, "sites": 0}


# ---- how many drains a worker runs ------------------------------------------------------------


def test_drains_leave_a_slot_to_polls_and_use_one_slot_per_core_while_polls_wait() -> None:
    from worker.dispatch import drain_slots, most_drain_slots, slots_now

    assert drain_slots(pool=4, cpus=2) == 2 and most_drain_slots(4) == 3
    assert slots_now(2, 3, polls_waiting=True) == 2
    assert slots_now(2, 3, polls_waiting=False) == 3
    assert drain_slots(pool=1, cpus=2) == most_drain_slots(1) == 1  # a solo pool still drains
