"""Load the seed articles into the dedup index (idempotent: a loaded seed is left alone)."""

from __future__ import annotations

import time
import tomllib
from collections import Counter
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

    @property
    def label(self) -> str:
        """How a person names it: its title and outlet, else its opening words and date (the
        file names are hashes)."""
        if self.title:
            return f"“{self.title}”" + (f", {self.outlet}" if self.outlet else "")
        opening = " ".join(self.text().split()[:8])
        return f"“{opening}…”" + (f", {self.date}" if self.date else "")


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
    result, named = {}, []
    for seed in read_seeds(seeds_dir):
        v = index.add_seed(seed.name, seed.text(), now=int(time.time()))
        result[seed.name] = v.status
        named.append(f"{seed.label}: {v.status}")
    log.info("seeds_loaded", count=len(result), **Counter(result.values()), seeds=" | ".join(named[:10]))
    return result
