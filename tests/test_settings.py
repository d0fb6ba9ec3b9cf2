"""Settings: read from a TOML file and the environment, validated, errors that name the setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.errors import ConfigError
from worker.settings import cpu_cores, get_settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
INGEST = str(Path(sys.executable).with_name("ingest"))

MINIMAL = """
[topic]
name = "test topic"
[topic.groups]
a = ["alpha"]
b = ["beta"]
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No INGEST_* or REDIS_URL from the outer environment, and no cached settings."""
    for name in list(os.environ):
        if name.startswith("INGEST_") or name == "REDIS_URL":
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def use_config(monkeypatch: pytest.MonkeyPatch, path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("INGEST_CONFIG", str(path))
    return path


def config_error(**overrides: object) -> str:
    with pytest.raises(ConfigError) as exc:
        load_settings(**overrides)
    return str(exc.value)


def bad_settings() -> dict[str, str]:
    """The settings a ConfigError names, one ``  <setting>: <problem>`` line each."""
    lines = config_error().splitlines()[1:]
    return dict(line.strip().split(": ", 1) for line in lines)


# ---- errors name the setting --------------------------------------------------------


def test_unknown_setting_key_stops_startup_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[fetch]\ntimout_seconds = 3\n")

    assert bad_settings() == {"fetch.timout_seconds": "Extra inputs are not permitted"}


def test_unknown_top_level_key_in_file_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", 'log_levle = "DEBUG"\n' + MINIMAL)

    assert list(bad_settings()) == ["log_levle"]


def test_unknown_nested_key_from_environment_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL)
    monkeypatch.setenv("INGEST_FETCH__TIMOUT_SECONDS", "3")

    assert list(bad_settings()) == ["fetch.timout_seconds"]


def test_out_of_range_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[fetch]\nmax_redirects = -1\n")

    assert bad_settings() == {"fetch.max_redirects": "Input should be greater than or equal to 0"}


def test_redis_url_with_wrong_scheme_names_redis_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL)
    monkeypatch.setenv("REDIS_URL", "http://x")

    problems = bad_settings()

    assert list(problems) == ["REDIS_URL"]
    assert "redis://" in problems["REDIS_URL"]


def test_every_bad_setting_is_listed_in_one_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_config(
        monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[fetch]\nmax_redirects = -1\nmax_retries = 99\n"
    )

    assert sorted(bad_settings()) == ["fetch.max_redirects", "fetch.max_retries"]


def test_error_message_names_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[fetch]\nmax_redirects = -1\n")

    assert str(path) in config_error()


def test_missing_config_file_is_an_error_naming_the_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "ingest.toml"
    monkeypatch.setenv("INGEST_CONFIG", str(missing))

    message = config_error()

    assert str(missing) in message
    assert "not found" in message


def test_toml_syntax_error_is_a_config_error_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[fetch\nmax_retries = 1\n")

    assert str(path) in config_error()


def test_topic_is_required(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", 'log_level = "INFO"\n')

    assert bad_settings() == {"topic": "Field required"}


# ---- environment over file ----------------------------------------------------------


def test_nested_environment_variable_overrides_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[fetch]\nmax_retries = 3\n")
    monkeypatch.setenv("INGEST_FETCH__MAX_RETRIES", "7")

    assert load_settings().fetch.max_retries == 7


def test_environment_override_keeps_the_other_keys_of_that_section_from_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(
        monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[fetch]\nmax_retries = 3\nmax_redirects = 2\n"
    )
    monkeypatch.setenv("INGEST_FETCH__MAX_RETRIES", "7")

    fetch = load_settings().fetch

    assert (fetch.max_retries, fetch.max_redirects) == (7, 2)


def test_worker_concurrency_0_means_two_tasks_per_core(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[worker]\nconcurrency = 0\n")

    assert load_settings().worker.tasks_at_once == 2 * cpu_cores()


def test_worker_concurrency_given_is_taken_as_it_is(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[worker]\nconcurrency = 5\n")

    assert load_settings().worker.tasks_at_once == 5


def test_file_values_are_used_when_no_environment_variable_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + "[fetch]\nmax_retries = 3\n")

    assert load_settings().fetch.max_retries == 3


def test_allow_private_from_environment_is_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL)
    monkeypatch.setenv("INGEST_ALLOW_PRIVATE", "127.0.0.1:8000, localhost:9")

    assert load_settings().allow_private == ["127.0.0.1:8000", "localhost:9"]


def test_allow_private_entry_without_port_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL)
    monkeypatch.setenv("INGEST_ALLOW_PRIVATE", "127.0.0.1:8000,nohostport")

    problems = bad_settings()

    assert list(problems) == ["allow_private"]
    assert "'nohostport' is not host:port" in problems["allow_private"]


def test_get_settings_reads_once_until_the_cache_is_cleared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL)
    monkeypatch.setenv("INGEST_FETCH__MAX_RETRIES", "1")
    first = get_settings()
    monkeypatch.setenv("INGEST_FETCH__MAX_RETRIES", "2")

    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().fetch.max_retries == 2


# ---- paths --------------------------------------------------------------------------


def test_relative_seeds_dir_is_resolved_against_the_config_files_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = use_config(monkeypatch, tmp_path / "conf" / "ingest.toml", 'seeds_dir = "my-seeds"\n' + MINIMAL)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert load_settings().seeds_dir == conf.parent.resolve() / "my-seeds"


def test_relative_data_dir_in_file_is_resolved_against_the_config_files_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = use_config(monkeypatch, tmp_path / "conf" / "ingest.toml", 'data_dir = "../state"\n' + MINIMAL)
    monkeypatch.chdir(tmp_path / "conf")

    assert load_settings().data_dir == (conf.parent / ".." / "state").resolve()


def test_relative_data_dir_from_environment_is_resolved_against_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "conf" / "ingest.toml", MINIMAL)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("INGEST_DATA_DIR", "run-data")

    assert load_settings().data_dir == cwd.resolve() / "run-data"


# ---- sources ------------------------------------------------------------------------


def test_duplicate_source_names_are_rejected_naming_the_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sources = """
[[sources]]
name = "wire"
url = "https://a.example/rss"
[[sources]]
name = "wire"
url = "https://b.example/rss"
"""
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + sources)

    problems = bad_settings()

    assert list(problems) == ["(top level)"]
    assert "source names must be unique; repeated: wire" in problems["(top level)"]


def test_search_source_without_query_placeholder_in_url_is_rejected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sources = """
[[sources]]
name = "news-search"
kind = "search"
url = "https://search.example/rss?q=fixed"
query = "china belarus"
"""
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + sources)

    problems = bad_settings()

    assert list(problems) == ["sources.0"]
    assert "'news-search'" in problems["sources.0"] and "{query}" in problems["sources.0"]


def test_feed_source_without_url_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + '[[sources]]\nname = "bare"\n')

    assert "source 'bare': kind 'feed' needs 'url'" in bad_settings()["sources.0"]


def test_search_source_fills_the_url_encoded_query_into_its_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sources = """
[[sources]]
name = "news-search"
kind = "search"
url = "https://search.example/rss?q={query}&lang=en"
query = "China & Belarus"
"""
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL + sources)

    feed_url = load_settings().source("news-search").feed_url

    assert feed_url == "https://search.example/rss?q=China+%26+Belarus&lang=en"


def test_sources_can_be_given_as_json_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL)
    monkeypatch.setenv("INGEST_SOURCES", json.dumps([{"name": "local", "url": "http://127.0.0.1:1/f.rss"}]))

    assert [s.name for s in load_settings().sources] == ["local"]


# ---- the shipped configuration -------------------------------------------------------


def test_default_config_in_the_repo_loads_with_valid_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # INGEST_CONFIG unset: config/ingest.toml of the working directory

    s = load_settings()

    assert s.sources, "the default config defines sources"
    assert len({src.name for src in s.sources}) == len(s.sources)
    for src in s.sources:
        assert src.feed_url.startswith("https://"), src.name
        assert "{query}" not in src.feed_url, src.name
    assert s.seeds_dir == ROOT / "seeds"
    assert (s.seeds_dir / "seeds.toml").is_file()
    assert s.topic.groups and all(s.topic.groups.values())


def test_default_config_searches_google_news_and_gdelt_in_the_topics_languages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)

    s = load_settings()

    for kind in ("google_news", "gdelt"):
        langs = {lang for src in s.sources if src.kind == kind for lang, _ in src.searches}
        assert {"en", "ru", "zh", "uk", "pl", "de", "fr"} <= langs, kind


def test_default_config_polls_outlets_feeds_or_sitemaps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)

    outlets = [src for src in load_settings().sources if src.kind in ("feed", "sitemap")]

    assert len(outlets) >= 8


# ---- secrets -------------------------------------------------------------------------


def test_masked_settings_hide_the_redis_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL)
    monkeypatch.setenv("REDIS_URL", "redis://worker:s3cr3t-pw@redis.internal:6380/2")

    s = load_settings()
    masked = s.masked()

    assert s.redis_url == "redis://worker:s3cr3t-pw@redis.internal:6380/2"
    assert masked["redis_url"] == "redis://***@redis.internal:6380/2"
    assert "s3cr3t-pw" not in json.dumps(masked)


def test_masked_settings_keep_a_redis_url_without_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path / "ingest.toml", MINIMAL)
    monkeypatch.setenv("REDIS_URL", "redis://redis.internal:6380/2")

    assert load_settings().masked()["redis_url"] == "redis://redis.internal:6380/2"


# ---- the command line ------------------------------------------------------------------


def test_cli_with_a_bad_setting_exits_2_naming_it_without_a_traceback(tmp_path: Path) -> None:
    conf = tmp_path / "ingest.toml"
    conf.write_text(MINIMAL + "[fetch]\nmax_redirects = -1\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_") and k != "REDIS_URL"}
    env["INGEST_CONFIG"] = str(conf)

    res = subprocess.run(
        [INGEST, "status"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )

    assert res.returncode == 2
    assert "fetch.max_redirects" in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == ""


def test_misspelt_top_level_environment_setting_stops_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_CONFIG", str(ROOT / "config" / "ingest.toml"))
    monkeypatch.setenv("INGEST_LOG_LEVLE", "DEBUG")
    with pytest.raises(ConfigError, match="INGEST_LOG_LEVLE"):
        load_settings()


def test_the_start_up_settings_line_counts_terms_and_names_sources_instead_of_listing_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INGEST_CONFIG", str(ROOT / "config" / "ingest.toml"))
    summary = load_settings().summary()
    assert summary["topic"]["terms"]["china"] > 50 and summary["topic"]["languages"] >= 10
    assert "google-news:google_news" in summary["sources"]
    assert len(json.dumps(summary)) < 4000  # the full settings are ~30 KB with the topic's terms


def test_the_start_up_line_names_the_settings_changed_from_their_defaults_and_no_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INGEST_CONFIG", str(ROOT / "config" / "ingest.toml"))
    monkeypatch.setenv("INGEST_FETCH__MAX_RETRIES", "5")

    line = load_settings().start_up_line()

    assert line["changed"]["fetch.max_retries"] == 5
    assert "fetch.connect_timeout_seconds" not in line["changed"]  # as shipped: the default
    assert line["config"].endswith("ingest.toml") and line["topic"]["fingerprint"]
    assert len(json.dumps(line, ensure_ascii=False)) < 1500


def test_a_changed_topic_term_shows_as_a_verdict_setting_that_differs() -> None:
    from worker.service_record import policy_differences
    from worker.settings import Settings

    s = Settings()
    changed = s.model_copy(deep=True)
    changed.topic.groups["china"]["en"].append("middle kingdom")

    diffs = policy_differences(s.summary(), changed.summary())

    assert [d.split(":")[0] for d in diffs] == ["topic.fingerprint", "topic.terms.china"]
