"""What `pip install .` must give: a trafilatura that imports and extracts, and the `ingest` command."""

from __future__ import annotations

import importlib.metadata
import subprocess

from tests.conftest import INGEST


def test_package_declares_the_html_cleaner_trafilatura_imports() -> None:
    # lxml >= 5.2 no longer ships lxml.html.clean; without this requirement trafilatura fails to import
    requires = importlib.metadata.requires("news-ingest-worker") or []
    assert any(r.startswith("lxml_html_clean") for r in requires)


def test_trafilatura_imports_and_extracts_in_this_environment() -> None:
    import trafilatura
    from lxml.html.clean import Cleaner

    html = (
        "<html><body><article><p>"
        + "Minsk and Beijing discussed joint drills. " * 20
        + "</p></article></body></html>"
    )
    assert Cleaner is not None
    assert len((trafilatura.extract(html) or "").split()) == 120


def test_ingest_command_is_installed() -> None:
    res = subprocess.run([INGEST, "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    for command in ("run", "worker", "beat", "fetch", "status", "tail", "explain", "consume"):
        assert f"  {command} " in res.stdout
