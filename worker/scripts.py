"""The Lua scripts of the service (``worker/lua/*.lua``), registered once per client.

Each script is a file with a header saying what it takes and returns; a call
sends ``EVALSHA`` (redis-py loads the script the first time a server lacks it).
No other module holds Lua source.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import redis
from redis.commands.core import Script


@cache
def source(name: str) -> str:
    """The text of ``worker/lua/<name>.lua``."""
    return resources.files("worker").joinpath(f"lua/{name}.lua").read_text("utf-8")


class Scripts:
    """The scripts bound to one Redis client: ``scripts.claim(keys=..., args=...)``."""

    def __init__(self, client: redis.Redis):
        self.decide: Script = client.register_script(source("decide"))
        self.mark: Script = client.register_script(source("mark"))
        self.claim: Script = client.register_script(source("claim"))
        self.release: Script = client.register_script(source("release"))
        self.reserve_slot: Script = client.register_script(source("reserve_slot"))
        self.frontier_push: Script = client.register_script(source("frontier_push"))
        self.frontier_take: Script = client.register_script(source("frontier_take"))
        self.frontier_release: Script = client.register_script(source("frontier_release"))
