"""``ingest explain``: the verdict and its evidence, changing nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import redis

from tests.conftest import INGEST, ROOT, Service
from tests.support.webserver import FixtureServer
from worker.dedup import DedupIndex
from worker.seeds import load_seeds
from worker.settings import DedupSettings

REPUBLISHED = ROOT / "tests" / "fixtures" / "site" / "republished-seed.html"


def _seeded(r: redis.Redis, prefix: str) -> None:
    load_seeds(DedupIndex(r, DedupSettings(), prefix, f"{prefix}articles"), ROOT / "seeds")


def _explain(service: Service, *inputs: str) -> list[dict]:  # type: ignore[type-arg]
    res = service.ingest("explain", "--json", *inputs)
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_explain_names_the_seed_a_republication_copies(service: Service, r: redis.Redis, prefix: str) -> None:
    _seeded(r, prefix)
    [e] = _explain(service, str(REPUBLISHED))
    assert e["verdict"] == "duplicate" and e["match"] == "near"
    assert e["duplicate_of"]["kind"] == "seed" and e["duplicate_of"]["name"] == "000_663d425c6dff775c"
    assert e["similarity"] >= e["thresholds"]["jaccard"]
    assert 0.5 < e["duplicate_of"]["exact_similarity"] <= 1.0
    assert e["relevance"]["on_topic"] is True


def test_explain_takes_a_txt_file_as_extracted_text(
    service: Service, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    _seeded(r, prefix)
    seed = (ROOT / "seeds" / "004_06fa49a5c750834e.txt").read_text()
    f = tmp_path / "copy.txt"
    f.write_text(seed.replace("(with AP inputs)", ""))
    [e] = _explain(service, str(f))
    assert e["verdict"] == "duplicate" and e["duplicate_of"]["name"] == "004_06fa49a5c750834e"


def test_explain_of_a_distinct_article_is_new_with_its_nearest_seed(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    _seeded(r, prefix)
    [e] = _explain(service, str(ROOT / "tests" / "fixtures" / "site" / "on-topic-4.html"))
    assert e["verdict"] == "new" and e["duplicate_of"] is None
    assert e["nearest_seed"]["kind"] == "seed" and e["nearest_seed"]["similarity"] < 0.5


def test_explain_of_an_ingested_url_says_duplicate_by_url(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    service.start_worker()
    url = web.url("/news/on-topic-2.html")
    service.fetch_wait("--url", url)
    [e] = _explain(service, url + "?utm_source=x")
    assert (e["verdict"], e["match"], e["prior_decision"]) == ("duplicate", "url", "queued")
    text = service.ingest("explain", url).stdout
    assert "verdict: ALREADY DECIDED: this URL was queued as article #" in text
    assert "DUPLICATE" not in text


def test_explain_changes_nothing_in_redis(service: Service, r: redis.Redis, prefix: str) -> None:
    _seeded(r, prefix)
    before = {k: r.dump(k) for k in r.scan_iter(match=f"{prefix}*")}
    _explain(service, str(REPUBLISHED), str(ROOT / "tests" / "fixtures" / "site" / "on-topic-1.html"))
    assert {k: r.dump(k) for k in r.scan_iter(match=f"{prefix}*")} == before


def test_explain_prints_verdict_thresholds_and_relevance(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    _seeded(r, prefix)
    out = service.ingest("explain", str(REPUBLISHED)).stdout
    assert "verdict: DUPLICATE by near of seed 000_663d425c6dff775c" in out
    assert "thresholds: similarity >= 0.5 or containment >= 0.8" in out
    assert "relevance: 1.00 >= threshold 0.50: ON TOPIC (language en; terms matched in en" in out
    assert "    china: " in out and "China (lead 2 body 25)" in out
    assert "    nearest seed or description: seed Chinese defense minister visits Belarus" in out
    # seeds named by their title too, similarities rounded
    assert (
        "seed 000_663d425c6dff775c (“Chinese defense minister visits Belarus to enhance ties”, Global Times)"
        in out
    )
    assert not any(len(x) > 5 for x in __import__("re").findall(r"similarity (0\.\d+)", out))


def test_explain_names_a_seed_without_a_title_by_its_opening_words_and_date(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    _seeded(r, prefix)
    out = service.ingest("explain", str(ROOT / "seeds" / "004_06fa49a5c750834e.txt")).stdout
    assert (
        "seed 004_06fa49a5c750834e (“During his visit to Russian ally Belarus, Chinese…”, 2023-08-17)" in out
    )


OFF_TOPIC_TRADE = (
    "Belarus and China signed deals on potash, tractors and dairy exports in Minsk on Tuesday.\n"
    "The Chinese side will buy more Belarusian milk powder and beef, the ministry said.\n"
    "Beijing and Minsk also agreed to open a second direct flight and to expand the industrial park."
)


def test_explain_calls_an_off_topic_text_off_topic_not_new(
    service: Service, r: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    _seeded(r, prefix)
    f = tmp_path / "trade.txt"
    f.write_text(OFF_TOPIC_TRADE)
    [e] = _explain(service, str(f))
    assert e["verdict"] == "off_topic" and e["dedup_verdict"] == "new"
    assert e["relevance"]["on_topic"] is False and e["relevance"]["why"] == "no mention of military"
    out = service.ingest("explain", str(f)).stdout
    assert "verdict: OFF TOPIC (as a text, dedup alone would say new)" in out
    assert "OFF TOPIC" in out and "military: -" in out


def test_explain_json_carries_score_threshold_terms_seed_and_language(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    _seeded(r, prefix)
    [e] = _explain(service, str(ROOT / "tests" / "fixtures" / "site" / "on-topic-4.html"))
    rel = e["relevance"]
    assert rel["on_topic"] is True and rel["score"] >= rel["threshold"] == 0.5
    assert rel["language"] == "en" and rel["term_languages"].get("en", 0) > 0
    assert set(rel["terms"]) == {"china", "belarus", "military"}
    assert all(set(where) <= {"title", "lead", "body"} for t in rel["terms"].values() for where in t.values())
    assert rel["nearest_seed"]["name"] and 0 < rel["nearest_seed"]["similarity"] <= 1


def test_explain_of_a_missing_file_is_an_error_for_that_input(service: Service, r: redis.Redis) -> None:
    res = service.ingest("explain", "--json", "/nonexistent/file.txt", check=False)
    assert res.returncode == 1
    assert json.loads(res.stdout)["verdict"] == "error"


def _service_recorded(service: Service, r: redis.Redis, **env: str) -> None:
    """What a worker started in the service's environment (plus ``env``) writes at start-up
    (worker.service_record.record)."""
    from worker import service_record
    from worker.settings import Settings

    with pytest.MonkeyPatch.context() as mp:
        for k, v in (service.env | env).items():
            if k.startswith(("INGEST_", "REDIS_URL")):
                mp.setenv(k, v)
        service_record.record(r, Settings())


def test_explain_judges_with_the_running_services_verdict_settings_and_names_where_its_shell_differs(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    _service_recorded(service, r, INGEST_DEDUP__CONTAINMENT_THRESHOLD="0.6")

    res = service.ingest("explain", "--json", str(REPUBLISHED))

    assert res.stderr.startswith("explain: judging with the running service's settings (recorded by ")
    assert "dedup.containment_threshold: here 0.8, service 0.6" in res.stderr
    assert json.loads(res.stdout)["thresholds"]["containment"] == 0.6


def test_explain_fetches_an_intranet_page_the_service_allows_from_a_shell_that_allows_none(
    service: Service, web: FixtureServer, r: redis.Redis
) -> None:
    _service_recorded(service, r)  # INGEST_ALLOW_PRIVATE set where the worker runs
    shell = {k: v for k, v in service.env.items() if k != "INGEST_ALLOW_PRIVATE"}
    url = web.url("/news/on-topic-2.html")

    res = subprocess.run(
        [INGEST, "explain", "--json", url], env=shell, capture_output=True, text=True, timeout=120
    )

    assert res.returncode == 0, res.stderr
    e = json.loads(res.stdout)
    assert e["verdict"] == "new" and e["relevance"]["on_topic"] is True
    assert f"allow_private: here [], service ['{web.hostport}']" in res.stderr


def test_explain_in_a_shell_without_the_services_allowance_alone_refuses_the_intranet_page(
    service: Service, web: FixtureServer
) -> None:
    shell = {k: v for k, v in service.env.items() if k != "INGEST_ALLOW_PRIVATE"}  # and no service

    res = subprocess.run(
        [INGEST, "explain", "--json", web.url("/news/on-topic-2.html")],
        env=shell,
        capture_output=True,
        text=True,
        timeout=120,
    )

    e = json.loads(res.stdout)
    assert e["verdict"] == "error" and e["reason"] == "private_address"


def test_explain_says_nothing_more_when_the_running_service_is_set_as_its_shell(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    _service_recorded(service, r)

    res = service.ingest("explain", "--json", str(REPUBLISHED))

    assert "warning" not in res.stderr and "no running service" not in res.stderr


def test_explain_without_a_running_service_says_it_judges_with_its_shells_settings(service: Service) -> None:
    res = service.ingest("explain", "--json", str(REPUBLISHED))

    assert "no running service found; judging with this shell's settings" in res.stderr


def test_explain_judges_with_its_shells_settings_when_the_services_policy_is_unreadable(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    _service_recorded(service, r, INGEST_DEDUP__CONTAINMENT_THRESHOLD="0.6")
    key = f"{prefix}service"
    doc = json.loads(r.get(key) or "{}")
    doc["policy"]["dedup"] = {"a_setting_of_another_version": 1}
    r.set(key, json.dumps(doc))

    res = service.ingest("explain", "--json", str(REPUBLISHED))

    assert "explain judges with this shell's" in res.stderr and "Traceback" not in res.stderr
    assert json.loads(res.stdout)["thresholds"]["containment"] == 0.8
