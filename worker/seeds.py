"""Load the seed articles into the dedup index (idempotent: a loaded seed is left alone)."""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from worker.dedup import DedupIndex
from worker.errors import ConfigError
from worker.logs import get_logger

log = get_logger(__name__)
META_FILE = "seeds.toml"


@dataclass(frozen=True)
class Seed:
    name: str
    path: Path
    outlet: str | None
    title: str | None
    date: str | None

    def text(self) -> str:
        return self.path.read_text("utf-8")


def read_seeds(seeds_dir: Path) -> list[Seed]:
    meta = seeds_dir / META_FILE
    if not meta.is_file():
        raise ConfigError(f"seed metadata {meta} not found (seeds_dir = {seeds_dir})")
    try:
        entries = tomllib.loads(meta.read_text("utf-8")).get("seed", [])
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{meta}: {exc}") from None
    seeds = []
    for e in entries:
        path = seeds_dir / e["file"]
        if not path.is_file():
            raise ConfigError(f"{meta}: seed file {path} not found")
        seeds.append(Seed(path.stem, path, e.get("outlet"), e.get("title"), e.get("date")))
    return seeds


def load_seeds(index: DedupIndex, seeds_dir: Path) -> dict[str, str]:
    """Index every seed; returns seed name -> ``seeded`` | ``seen`` | ``duplicate``."""
    result = {}
    for seed in read_seeds(seeds_dir):
        v = index.add_seed(seed.name, seed.text(), now=int(time.time()))
        result[seed.name] = v.status
    log.info("seeds_loaded", **result)
    return result
