"""Plugins register entries through the `workbench.plugins` entry-point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from workbench.core import plugins
from workbench.core.strategies import STRATEGIES, StrategyInfo, register_strategy


def register_demo_strategy() -> None:
    register_strategy(StrategyInfo("plugin_demo", "Plugin demo", "Added by a plugin."))


def broken() -> None:
    raise RuntimeError("boom")


def test_plugins_are_loaded_and_broken_ones_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    found = [
        EntryPoint("good", f"{__name__}:register_demo_strategy", plugins.GROUP),
        EntryPoint("bad", f"{__name__}:broken", plugins.GROUP),
    ]
    monkeypatch.setattr(plugins, "entry_points", lambda group: found if group == plugins.GROUP else [])
    monkeypatch.setattr(plugins, "_loaded", {})
    status = plugins.load_plugins()
    assert status["good"] == "ok" and "boom" in status["bad"]
    assert "plugin_demo" in STRATEGIES
    STRATEGIES.pop("plugin_demo")
