"""Shared fixtures: generated datasets and quick configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if "WORKBENCH_CACHE_DIR" not in os.environ:  # stored data checks of test datasets never reach the user's cache
    import atexit
    import shutil
    import tempfile

    os.environ["WORKBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="workbench-test-cache-")
    atexit.register(shutil.rmtree, os.environ["WORKBENCH_CACHE_DIR"], ignore_errors=True)

from tests.helpers import tiny_config, write_shapes_dataset


@pytest.fixture(scope="session")
def shapes_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes × 30 greyscale 16×16 PNGs; treat as read-only."""
    return write_shapes_dataset(tmp_path_factory.mktemp("shapes"))


@pytest.fixture
def tiny_project(shapes_dataset: Path, tmp_path: Path):
    return tiny_config(shapes_dataset, tmp_path / "runs")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, shapes_dataset: Path) -> Path:
    """One finished tiny run, shared by tests that only read it."""
    from workbench.core.training.engine import train

    result = train(tiny_config(shapes_dataset, tmp_path_factory.mktemp("runs"), epochs=3))
    assert result.status == "completed", result.reason
    assert result.run_dir is not None
    return result.run_dir


@pytest.fixture(autouse=True)
def private_test_ledger(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test counts test-set uses in its own ledger, never in the user's real one."""
    path = tmp_path_factory.mktemp("ledger") / "test_set_ledger.jsonl"
    monkeypatch.setenv("WORKBENCH_TEST_LEDGER", str(path))
    return path


@pytest.fixture(autouse=True)
def headless_unless_a_window_says_otherwise():
    """Each test starts headless: a window's runner declares the process interactive (core/host.py), and that
    must not follow into the next test and change where its end-of-run checks run."""
    from workbench.core.host import set_interactive_host

    set_interactive_host(False)
    yield
    set_interactive_host(False)


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Empty weight caches, and every connection refused (as on a computer with no network)."""
    import socket

    import torch
    from huggingface_hub import constants

    attempts: list[object] = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("Network is unreachable")

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    old_hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "torch-hub"))
    yield attempts
    torch.hub.set_dir(old_hub)


@pytest.fixture(autouse=True)
def collect_garbage_on_the_main_thread():
    """Once a window has turned automatic collection off (workbench/qt/gui_gc.py), its timer only runs while an event
    loop does: collect after every test, here on the main thread, so memory stays bounded between tests."""
    yield
    import gc

    if not gc.isenabled():
        _collections[0] += 1
        gc.collect(2 if _collections[0] % 25 == 0 else 1)  # a full collection costs tens of ms with torch loaded


_collections = [0]
