"""Every setting of the service, typed and validated in one place.

Values come, lowest priority first, from the defaults below, the TOML file
named by ``INGEST_CONFIG`` (default ``config/ingest.toml``), and environment
variables: ``REDIS_URL``, ``INGEST_ALLOW_PRIVATE``, ``INGEST_DATA_DIR`` and any
nested value as ``INGEST_<SECTION>__<KEY>`` (``INGEST_FETCH__READ_TIMEOUT_SECONDS=5``).

Unknown keys are an error, so a misspelt setting never passes silently.
Relative paths in the file are resolved against the file's own folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from worker.errors import ConfigError

DEFAULT_CONFIG = Path("config/ingest.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LANG_CODE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
SEARCH_KINDS = ("google_news", "bing_news", "gdelt")


class SourceSettings(_Section):
    """One news source polled on a schedule; each kind is a module of :mod:`worker.sources`.

    * ``feed``: an RSS/Atom feed at ``url``.
    * ``google_news``, ``bing_news``, ``gdelt``: a topic search, one request per entry of
      ``queries`` (language code -> query in that language), or one for ``query`` in
      ``lang``; ``url`` is the endpoint (default: the service's public one).
    * ``sitemap``: a news sitemap at ``url``, or the ones ``site``'s robots.txt lists.
    * ``search``: any search engine's RSS, ``url`` with ``{query}`` filled in.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    kind: Literal["feed", "search", "google_news", "bing_news", "gdelt", "sitemap"] = "feed"
    url: str | None = None
    query: str | None = None
    lang: str | None = Field(default=None, pattern=LANG_CODE)
    queries: dict[str, str] = Field(default_factory=dict)
    site: str | None = None  # sitemap: the site whose robots.txt lists its sitemaps
    interval_seconds: int = Field(default=900, ge=10)
    # the interval adapts to how often the source has news (worker/source_schedule.py),
    # within these; default: half and four times interval_seconds
    min_interval_seconds: int | None = Field(default=None, ge=10)
    max_interval_seconds: int | None = Field(default=None, ge=10)
    # the least time between two requests of this source to its host (GDELT asks for 5 s);
    # the host's shared pace (fetch.per_domain_requests_per_second, Crawl-delay) holds too
    request_interval_seconds: float | None = Field(default=None, gt=0, le=600)
    # sitemap, GDELT: entries older than this are not taken (on the first poll, and after
    # a long pause); later polls take what is newer than the last success
    max_age_seconds: int = Field(default=2 * 86400, ge=60)
    max_depth: int = Field(default=3, ge=0, le=10)  # sitemap index levels followed
    max_sitemaps: int = Field(default=20, ge=1, le=1000)  # sitemap documents fetched per poll
    enabled: bool = True

    @field_validator("queries")
    @classmethod
    def _query_per_language(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        for lang, q in v.items():
            if not re.match(LANG_CODE, lang):
                raise ValueError(f"{lang!r} is not a language code (en, ru, zh, pt-BR ...)")
            if not q.strip():
                raise ValueError(f"the query for {lang!r} is empty")
        return v

    @model_validator(mode="after")
    def _needs_url_or_query(self) -> SourceSettings:
        if self.kind == "feed" and not self.url:
            raise ValueError(f"source {self.name!r}: kind 'feed' needs 'url'")
        if self.kind == "search" and not (self.url and "{query}" in self.url and self.searches):
            raise ValueError(f"source {self.name!r}: kind 'search' needs 'query' and a 'url' with {{query}}")
        if self.kind in SEARCH_KINDS and not self.searches:
            raise ValueError(f"source {self.name!r}: kind {self.kind!r} needs 'query' or 'queries'")
        if self.kind == "sitemap" and not (self.url or self.site):
            raise ValueError(f"source {self.name!r}: kind 'sitemap' needs 'url' or 'site'")
        for u in (self.url, self.site):
            if u and not u.startswith(("http://", "https://")):
                raise ValueError(f"source {self.name!r}: {u!r} is not an http(s) URL")
        return self

    @property
    def interval_bounds(self) -> tuple[float, float]:
        lo = self.min_interval_seconds or max(10, self.interval_seconds // 2)
        hi = self.max_interval_seconds or self.interval_seconds * 4
        return float(min(lo, self.interval_seconds)), float(max(hi, self.interval_seconds))

    @property
    def searches(self) -> list[tuple[str | None, str]]:
        """(language, query) of each search request: ``queries``, else ``query`` in ``lang``."""
        if self.queries:
            return list(self.queries.items())
        return [(self.lang, self.query)] if self.query else []

    @property
    def feed_url(self) -> str:
        """The URL of its first request (every one: :func:`worker.sources.requests_of`)."""
        from worker.sources import requests_of

        reqs = requests_of(self)
        return reqs[0].url if reqs else (self.url or self.site or "")


class TopicWeights(_Section):
    """How the parts of the relevance score add up (worker/relevance.py): title and lead,
    sentences naming every group, paragraphs naming every group, similarity to the seeds."""

    head: float = Field(default=0.2, ge=0)
    together: float = Field(default=0.45, ge=0)
    focus: float = Field(default=0.2, ge=0)
    seed: float = Field(default=0.15, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> TopicWeights:
        if self.head + self.together + self.focus + self.seed <= 0:
            raise ValueError("topic.weights: at least one weight must be above 0")
        return self


class TopicSettings(_Section):
    """What "on topic" means, in every language (README: Relevance)."""

    name: str
    # short statements of the topic, in any languages: anchors for the similarity besides the seeds
    description: list[str] = Field(default_factory=list)
    # group -> language -> terms ("word", "prefix*", "two words"; CJK terms match anywhere);
    # a plain list of terms is taken as language "any"
    groups: dict[str, dict[str, list[str]]] = Field(min_length=1)
    # other parties (language -> terms): a sentence naming crowd_size of them is a list
    crowd: dict[str, list[str]] = Field(default_factory=dict)
    crowd_size: int = Field(default=3, ge=1)
    # an article whose sentences about the pair name this many other parties in all is a
    # multilateral story: its score is multiplied by crowd_article_factor
    crowd_article: int = Field(default=4, ge=1)
    crowd_article_factor: float = Field(default=0.6, ge=0, le=1)
    # the score is multiplied by this when the title and lead do not name every group
    lead_missing: float = Field(default=0.5, ge=0, le=1)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    weights: TopicWeights = TopicWeights()
    # an article polled from a source and published more than this many days ago is
    # recorded stale, not queued (an ad-hoc --url never is); 0: no limit
    max_age_days: int = Field(default=0, ge=0)
    presence_full: float = Field(default=2, gt=0)
    together_full: float = Field(default=3, gt=0)
    focus_full: float = Field(default=0.5, gt=0, le=1)
    # the similarity to the nearest seed or description counts from seed_zero, fully at seed_full
    seed_zero: float = Field(default=0.1, ge=0, lt=1)
    seed_full: float = Field(default=0.4, gt=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict):
            old = sorted({"min_mentions_per_group", "min_score"} & set(data))
            if old:
                raise ValueError(
                    f"topic.{', topic.'.join(old)}: replaced by topic.threshold and topic.weights "
                    "(README: Relevance)"
                )
            if float(data.get("seed_zero", 0.1)) >= float(data.get("seed_full", 0.4)):
                raise ValueError("topic.seed_zero must be below topic.seed_full")
            groups = data.get("groups")
            if isinstance(groups, dict):
                data = {
                    **data,
                    "groups": {g: {"any": t} if isinstance(t, list) else t for g, t in groups.items()},
                }
        return data

    @field_validator("groups")
    @classmethod
    def _no_empty_group(cls, v: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        for name, by_lang in v.items():
            terms = [t for ts in by_lang.values() for t in ts]
            if not terms or any(not t.strip() or t.strip() == "*" for t in terms):
                raise ValueError(f"topic group {name!r} needs at least one non-empty term")
            short = [t for t in terms if t.strip().endswith("*") and len(t.strip()) < 4]
            if short:
                raise ValueError(f"topic group {name!r}: prefix terms need 3 letters before the *: {short}")
        return v


class FetchSettings(_Section):
    """HTTP policy for feeds and article pages."""

    user_agent: str = "news-ingest-worker/0.1"
    contact_url: str = "https://example.org/news-ingest-worker"
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=10.0, gt=0)
    total_timeout_seconds: float = Field(default=30.0, gt=0)
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    # feedparser reads about 0.25 MB/s (a malformed feed's loose parser less): this bounds a poll's parse
    max_feed_bytes: int = Field(default=10_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    max_items_per_poll: int = Field(default=500, ge=1)
    max_retries: int = Field(default=4, ge=0, le=20)
    retry_backoff_seconds: float = Field(default=5.0, ge=0)
    # politeness (worker/politeness.py): robots.txt, per-domain pace, failing feeds
    respect_robots: bool = True
    robots_cache_seconds: int = Field(default=86_400, ge=1)
    # robots.txt answered 5xx or not at all: the site's pages wait this long before asking again
    robots_error_cache_seconds: int = Field(default=300, ge=1)
    # shared by every worker through Redis
    per_domain_requests_per_second: float = Field(default=1.0, gt=0)
    # a feed or robots.txt request waits at most this long for its site's turn (an article
    # page waits in the frontier, never in a worker: worker/frontier.py)
    rate_limit_max_wait_seconds: float = Field(default=10.0, ge=0)
    # a robots.txt Crawl-delay is honoured up to this
    max_crawl_delay_seconds: float = Field(default=30.0, ge=0)
    # requests in flight to one site at a time, across all workers (worker/frontier.py)
    per_domain_concurrency: int = Field(default=1, ge=1, le=64)
    # a site's delay adapts to its answers (429/503, slow responses), up to this
    adaptive_pace: bool = True
    max_delay_seconds: float = Field(default=60.0, gt=0)
    # a source that keeps failing is polled every interval * 2^(failures-1), at most this often
    feed_backoff_max_seconds: int = Field(default=86_400, ge=1)
    # an item that failed for a transient reason (worker/retries.py) is tried again after
    # each of these in turn, then left alone; [] = never by itself
    heal_after_seconds: list[int] = Field(default=[3600, 21_600, 86_400], max_length=20)

    @field_validator("heal_after_seconds")
    @classmethod
    def _positive_delays(cls, v: list[int]) -> list[int]:
        if any(d < 1 for d in v):
            raise ValueError("every delay must be at least 1 second")
        return v

    @property
    def user_agent_header(self) -> str:
        return f"{self.user_agent} (+{self.contact_url})"

    @property
    def robots_agent(self) -> str:
        """The product token robots.txt groups are matched against (``news-ingest-worker``)."""
        return self.user_agent.split("/", 1)[0].strip() or self.user_agent


class ExtractSettings(_Section):
    """What counts as an article page once its text is extracted."""

    # fewer words than this after extraction: "no_text", never queued
    min_words: int = Field(default=30, ge=1)


class DedupSettings(_Section):
    """Near-duplicate detection: MinHash over word shingles, LSH index in Redis."""

    shingle_words: int = Field(default=5, ge=2, le=12)
    num_perm: int = Field(default=128, ge=16, le=512)
    lsh_bands: int = Field(default=22, ge=1)
    lsh_rows: int = Field(default=3, ge=1)
    # two texts are copies when estimated Jaccard similarity reaches this ...
    jaccard_threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    # ... or when the shorter one is mostly contained in the longer one
    containment_threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    # below this many words only an exact (normalised) text match counts
    short_text_words: int = Field(default=60, ge=0)
    # buckets (of 8 entries) of a new table; a table doubles (incrementally) at 60% full
    lsh_base_buckets: int = Field(default=1024, ge=16, le=1 << 20)
    # articles leave the index after retention_days (+ at most one epoch); seeds never do
    retention_days: float = Field(default=90, gt=0)
    epoch_days: float = Field(default=30, gt=0)
    # also put a "copy" message on the stream when a duplicate is found
    publish_copies: bool = False
    # prose sentences indexed per article (a uniform sample: the smallest keys): they find
    # partial copies, excerpts and teasers that share too few shingles for the LSH bands
    sentence_anchors: int = Field(default=12, ge=0, le=64)
    # a text whose sentences are this share or more in an indexed article is a copy of it
    # (estimated from the anchors), even when its shingles say less
    sentence_containment_threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    # ... or whose containment falls short of containment_threshold by no more than this,
    # when half of its sentences are estimated to be in the other (two signals agreeing)
    corroborated_containment_margin: float = Field(default=0.1, ge=0.0, lt=1.0)
    # stories (worker/stories.py): an article joins the story of the indexed article it
    # shares story_min_shared or more of its 8 story keys with (names, numbers), among keys
    # at most story_max_df articles hold, indexed within story_window_days
    story_min_shared: int = Field(default=3, ge=1, le=8)
    story_max_df: int = Field(default=50, ge=1)
    story_window_days: float = Field(default=7, ge=0)

    @model_validator(mode="after")
    def _bands_fit(self) -> DedupSettings:
        if self.lsh_bands * self.lsh_rows > self.num_perm:
            raise ValueError("dedup.lsh_bands * dedup.lsh_rows must not exceed dedup.num_perm")
        return self


class RedisSettings(_Section):
    key_prefix: str = "ingest:"
    stream_key: str = "ingest:articles"


TASKS_PER_CORE = 2


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class WorkerSettings(_Section):
    # tasks at once per worker; 0: TASKS_PER_CORE per core (README: Pool and concurrency)
    concurrency: int = Field(default=0, ge=0, le=256)
    pool: Literal["prefork", "threads", "solo"] = "prefork"
    # Prometheus metrics of this worker and its pool children on this port (worker/metrics.py); 0: off
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # Celery's task events (received, started, succeeded ...), for Flower or `celery events`:
    # a few Redis PUBLISHes per task, nothing stored
    task_events: bool = False
    # kombu's own last resort: a message unacknowledged this long after its delivery (or
    # its holder's last heartbeat, worker/liveness.py) goes back to its queue; must exceed
    # the longest task
    visibility_timeout_seconds: int = Field(default=3600, ge=5)
    # a task running this long is interrupted (soft: an error it can record) or killed (hard)
    task_soft_time_limit_seconds: int = Field(default=300, ge=1)
    task_time_limit_seconds: int = Field(default=360, ge=2)
    poll_lock_seconds: int = Field(default=600, ge=10)
    # a new item a poll handed on is not handed out again by another poll for this long
    claim_seconds: int = Field(default=3600, ge=10)
    # liveness (worker/liveness.py): every worker refreshes its heartbeat this often ...
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    # ... and is taken for dead when it has not for this long: what it held is sent again
    dead_after_seconds: float = Field(default=30.0, gt=0)
    # how often a worker looks for the work of dead workers (one at a time does it)
    sweep_seconds: float = Field(default=15.0, gt=0)
    # an item handed on this long ago and not decided, held by no one, is sent again
    lost_task_seconds: int = Field(default=3600, ge=10)
    # articles one worker process has in flight from the frontier at once (their pages
    # downloaded side by side, each extracted as it arrives); 1: one at a time
    articles_per_task: int = Field(default=16, ge=1, le=100)
    # an article taken from the frontier goes back to its site's queue when the process
    # holding it has not renewed its lease for this long (it died)
    lease_seconds: float = Field(default=30.0, ge=2)

    @property
    def tasks_at_once(self) -> int:
        """``concurrency``, or two per core when it is 0: a task waits for the network for
        its first page, and a second task of the core extracts meanwhile; a third only
        added processes sharing the core's caches (more CPU per article, BENCHMARKS.md)."""
        return self.concurrency or TASKS_PER_CORE * cpu_cores()

    @model_validator(mode="after")
    def _limits_fit(self) -> WorkerSettings:
        if self.dead_after_seconds < 2 * self.heartbeat_seconds:
            raise ValueError("worker.dead_after_seconds must be at least twice worker.heartbeat_seconds")
        if (
            not self.task_soft_time_limit_seconds
            < self.task_time_limit_seconds
            < self.visibility_timeout_seconds
        ):
            raise ValueError(
                "need worker.task_soft_time_limit_seconds < worker.task_time_limit_seconds"
                " < worker.visibility_timeout_seconds"
            )
        return self


class Settings(BaseSettings):
    """The whole configuration; build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix="INGEST_",
        env_nested_delimiter="__",
        populate_by_name=True,
    )

    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url"))
    # host:port pairs, comma-separated in the environment
    allow_private: Annotated[list[str], NoDecode] = Field(default_factory=list)
    data_dir: Path = Path("data")
    seeds_dir: Path = Path("seeds")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["logfmt", "json"] = "logfmt"

    topic: TopicSettings
    sources: list[SourceSettings] = Field(default_factory=list)
    fetch: FetchSettings = FetchSettings()
    extract: ExtractSettings = ExtractSettings()
    dedup: DedupSettings = DedupSettings()
    redis: RedisSettings = RedisSettings()
    worker: WorkerSettings = WorkerSettings()

    @field_validator("allow_private", mode="before")
    @classmethod
    def _split_hostports(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("allow_private")
    @classmethod
    def _hostport_form(cls, v: list[str]) -> list[str]:
        for item in v:
            host, sep, port = item.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{item!r} is not host:port")
        return [i.lower() for i in v]

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v or None

    @model_validator(mode="after")
    def _unique_source_names(self) -> Settings:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_path()
        toml = TomlConfigSettingsSource(settings_cls, toml_file=path)
        return (init_settings, env_settings, toml)

    def source(self, name: str) -> SourceSettings:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def summary(self) -> dict[str, Any]:
        """The effective settings for the start-up log line, secrets hidden, and short: the
        topic's terms and the sources' queries are counted, not listed (``ingest sources``
        lists the sources; the config file holds the terms)."""
        data = self.masked()
        topic = data.pop("topic")
        data["topic"] = {
            "name": topic["name"],
            "threshold": topic["threshold"],
            "terms": {g: sum(len(t) for t in by_lang.values()) for g, by_lang in topic["groups"].items()},
            "languages": len({lang for by_lang in topic["groups"].values() for lang in by_lang}),
            # changes with any term, crowd term, weight or the description (ingest explain
            # warns when the running service's differs from its shell's)
            "fingerprint": hashlib.sha256(json.dumps(topic, sort_keys=True).encode()).hexdigest()[:12],
        }
        data["sources"] = [
            f"{src['name']}:{src['kind']}" for src in data["sources"] if src.get("enabled", True)
        ]
        return data

    def start_up_line(self) -> dict[str, Any]:
        """The start-up log line: where the settings come from, the sections' settings that
        differ from their defaults (dotted keys), the topic counted and the sources named.
        Short on purpose; the whole effective settings are in the service record (Redis) and
        ``ingest status --json``."""
        summary = self.summary()
        changed: dict[str, Any] = {}
        for name in ("fetch", "extract", "dedup", "redis", "worker"):
            section = getattr(self, name)
            default = type(section)().model_dump(mode="json")
            for key, value in section.model_dump(mode="json").items():
                if value != default.get(key):
                    changed[f"{name}.{key}"] = value
        return {
            "config": str(config_path()),
            "redis_url": summary["redis_url"],
            "data_dir": summary["data_dir"],
            "allow_private": summary["allow_private"],
            "log": f"{self.log_level}/{self.log_format}",
            "changed": changed,
            "topic": summary["topic"],
            "sources": summary["sources"],
        }

    def masked(self) -> dict[str, Any]:
        """The effective settings, secrets hidden."""
        data = self.model_dump(mode="json")
        if self.redis_url:
            data["redis_url"] = mask_url(self.redis_url)
        return data


def mask_url(url: str) -> str:
    """A Redis URL with its password (if any) hidden."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return scheme + sep + rest


def config_path() -> Path:
    return Path(os.environ.get("INGEST_CONFIG") or DEFAULT_CONFIG)


def _resolve(base: Path, p: Path) -> Path:
    return p if p.is_absolute() else (base / p).resolve()


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, or raise ConfigError naming the bad setting."""
    path = config_path()
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found (set INGEST_CONFIG to the TOML file to use)")
    known = set(Settings.model_fields) | {"config"}
    unknown = sorted(
        k for k in os.environ if k.startswith("INGEST_") and k[7:].split("__")[0].lower() not in known
    )
    if unknown:
        raise ConfigError(f"unknown setting in the environment: {', '.join(unknown)}")
    try:
        s = Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {loc}: {err['msg']}")
        raise ConfigError(f"invalid settings in {path} or environment:\n" + "\n".join(lines)) from None
    except (ValueError, OSError) as exc:  # e.g. a TOML syntax error
        raise ConfigError(f"cannot read settings from {path}: {exc}") from None
    base = path.resolve().parent
    # data_dir from the environment is relative to the working directory, not the file
    data_dir = s.data_dir if "INGEST_DATA_DIR" in os.environ else _resolve(base, s.data_dir)
    return s.model_copy(update={"data_dir": data_dir.resolve(), "seeds_dir": _resolve(base, s.seeds_dir)})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return load_settings()
