"""The image and the compose stack on a real Docker engine: built, started, healthy, working.

Skipped, with the reason, where no engine answers or no compose command is installed.
No registry need be reachable: the base image is ``INGEST_TEST_BASE_IMAGE`` (default
``ingest-base:bookworm``), built by ``scripts/docker-base`` (debootstrap) when absent, and
serves as the Redis image too (Debian's redis-server). Building needs the package index
(pip) through the host's network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.support.compose import compose_command

BASE = os.environ.get("INGEST_TEST_BASE_IMAGE", "ingest-base:bookworm")
IMAGE = "news-ingest-worker:latest"  # docker-compose.yml's image
FLOWER_IMAGE = "news-ingest-worker-flower:latest"  # its flower profile's
BOUND_SECONDS = 240
SITE_PORT = 8088
PAGE = ROOT / "tests" / "fixtures" / "site" / "on-topic-1.html"
Stack = tuple[list[str], dict[str, str]]  # the compose command for this project, its environment


def _run(
    *cmd: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def _engine() -> str | None:
    """Why the engine tests cannot run here, or None when they can."""
    if not shutil.which("docker"):
        return "no docker command"
    if _run("docker", "info", timeout=30).returncode != 0:
        return "no Docker engine answers (start one: dockerd --iptables=false --bridge=none)"
    if compose_command() is None:
        return "neither 'docker compose' nor 'docker-compose' is installed"
    if _run("docker", "image", "inspect", BASE, timeout=30).returncode != 0:
        if os.geteuid() != 0 or not shutil.which("debootstrap"):
            return f"base image {BASE} absent, and scripts/docker-base needs root and debootstrap"
        built = _run(str(ROOT / "scripts" / "docker-base"), BASE, timeout=900)
        if built.returncode != 0:
            return f"scripts/docker-base failed: {built.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    why = _engine()
    if why:
        pytest.skip(why)
    built = _run(
        "docker",
        "build",
        "--network",
        "host",
        "--build-arg",
        f"BASE_IMAGE={BASE}",
        "-t",
        IMAGE,
        ".",
        timeout=900,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    compose = [*(compose_command() or []), "-p", f"ingesttest{uuid.uuid4().hex[:8]}"]
    env = os.environ | {
        "INGEST_BASE_IMAGE": BASE,
        "INGEST_REDIS_IMAGE": BASE,
        # the page of the fetch test is served on the compose network, from the worker's container
        "INGEST_ALLOW_PRIVATE": f"worker:{SITE_PORT}",
    }
    up = _run(*compose, "up", "-d", "--no-build", env=env)
    try:
        assert up.returncode == 0, up.stderr[-2000:]
        yield compose, env
    finally:
        _run(*compose, "--profile", "flower", "down", "-v", "--remove-orphans", env=env)


def _health(compose: list[str], env: dict[str, str]) -> dict[str, str]:
    """Each service's health, by the service label both compose v1 and v2 set (their container
    names differ: ``p_worker_1`` and ``p-worker-1``)."""
    ids = _run(*compose, "ps", "-q", env=env).stdout.split()
    form = '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Health.Status}}'
    out = {}
    for cid in ids:
        res = _run("docker", "inspect", "--format", form, cid, timeout=30)
        service, _, status = res.stdout.strip().partition(" ")
        out[service] = status
    return out


def test_the_stack_comes_up_with_redis_worker_and_beat_healthy(
    stack: Stack,
) -> None:
    compose, env = stack
    deadline = time.monotonic() + BOUND_SECONDS
    health: dict[str, str] = {}
    while time.monotonic() < deadline:
        health = _health(compose, env)
        if len(health) == 3 and set(health.values()) == {"healthy"}:
            break
        time.sleep(2)
    assert health and set(health.values()) == {"healthy"}, health


def test_in_the_stack_a_seeds_own_text_is_its_duplicate(stack: Stack) -> None:
    compose, env = stack
    seed = sorted(p.name for p in (ROOT / "seeds").glob("*.txt"))[0]
    explain = ["ingest", "explain", "--json", f"/app/seeds/{seed}"]
    deadline = time.monotonic() + BOUND_SECONDS
    while True:  # the worker loads the seeds at its start
        res = _run(*compose, "exec", "-T", "worker", *explain, env=env)
        verdict = json.loads(res.stdout.splitlines()[-1]) if res.returncode == 0 and res.stdout else {}
        if verdict.get("verdict") == "duplicate" or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert verdict.get("verdict") == "duplicate", res.stdout[-1000:] + res.stderr[-1000:]


def test_in_the_stack_the_liveness_probe_finds_its_worker(stack: Stack) -> None:
    compose, env = stack
    deadline = time.monotonic() + BOUND_SECONDS
    while (res := _run(*compose, "exec", "-T", "worker", "ingest", "check", env=env)).returncode != 0:
        assert time.monotonic() < deadline, res.stderr[-1000:]
        time.sleep(2)
    assert res.stdout.startswith("alive: ")


def test_a_fetch_through_compose_exec_queues_the_article_on_the_stream(stack: Stack) -> None:
    compose, env = stack
    # a site on the compose network: our page, served from the worker's container (tests/
    # is not in the image: the page goes in on stdin)
    put = subprocess.run(
        [*compose, "exec", "-T", "worker", "sh", "-c", "mkdir -p /tmp/site && cat > /tmp/site/story.html"],
        input=PAGE.read_bytes(),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert put.returncode == 0, put.stderr[-1000:]
    serve = ["python3", "-m", "http.server", str(SITE_PORT), "--directory", "/tmp/site"]
    assert _run(*compose, "exec", "-d", "worker", *serve, env=env).returncode == 0
    url = f"http://worker:{SITE_PORT}/story.html"

    res = _run(*compose, "exec", "-T", "worker", "ingest", "fetch", "--url", url, "--wait", "--json", env=env)

    assert res.returncode == 0, res.stdout[-1500:] + res.stderr[-1500:]
    assert json.loads(res.stdout)["queued"] == 1
    stream = _run(
        *compose, "exec", "-T", "redis", "redis-cli", "--raw", "XRANGE", "ingest:articles", "-", "+", env=env
    )
    assert url in stream.stdout


def test_in_the_stack_the_workers_metrics_count_the_fetched_article(stack: Stack) -> None:
    """After the fetch test above (this module's tests share one stack, in file order)."""
    compose, env = stack
    scrape = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9108/metrics').read().decode())"
    res = _run(*compose, "exec", "-T", "worker", "python3", "-c", scrape, env=env)
    assert res.returncode == 0, res.stderr[-1500:]
    queued = [
        line for line in res.stdout.splitlines() if line.startswith('ingest_articles_total{outcome="queued"')
    ]
    assert queued and float(queued[0].rsplit(" ", 1)[1]) >= 1, res.stdout[-1500:]


def test_the_flower_profile_builds_and_shows_the_stacks_workers(stack: Stack) -> None:
    compose, env = stack
    built = _run(
        "docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE}",
        "--target", "flower", "-t", FLOWER_IMAGE, ".", timeout=900,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    up = _run(*compose, "--profile", "flower", "up", "-d", "--no-build", "flower", env=env)
    assert up.returncode == 0, up.stderr[-2000:]
    metrics = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:5555/metrics').read().decode())"
    deadline = time.monotonic() + BOUND_SECONDS
    while True:  # flower's own metrics: a worker it sees online through its events
        res = _run(*compose, "exec", "-T", "flower", "python3", "-c", metrics, env=env)
        online = [line for line in res.stdout.splitlines() if line.startswith("flower_worker_online{")]
        if any(line.endswith(" 1.0") for line in online) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert any(line.endswith(" 1.0") for line in online), res.stdout[-1500:] + res.stderr[-1500:]


def test_the_stack_scales_out_to_more_workers_on_its_one_redis(stack: Stack) -> None:
    compose, env = stack
    up = _run(*compose, "up", "-d", "--no-build", "--scale", "worker=2", env=env)
    assert up.returncode == 0, up.stderr[-2000:]
    deadline = time.monotonic() + BOUND_SECONDS
    while True:  # each container is a host of its own; both report to the one Redis
        res = _run(*compose, "exec", "-T", "beat", "ingest", "status", "--json", env=env)
        status = json.loads(res.stdout) if res.returncode == 0 and res.stdout.strip() else {}
        hosts = {w["host"] for w in status.get("workers", [])}
        if len(hosts) == 2 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert len(hosts) == 2, res.stdout[-1500:] + res.stderr[-1500:]
