"""The locked test set: every use recorded with time and hashes, counted, and warned about after a change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.core.eval_fixtures import *  # noqa: F403
from tests.core.eval_fixtures import copy_run
from workbench.core.config import load_config, save_config
from workbench.core.evaluation import storage
from workbench.core.evaluation.evaluate import evaluate_run
from workbench.core.evaluation.test_lock import LEDGER_NAME, read_ledger, summarize_test_uses
from workbench.core.runs import read_json

FAST = {"gallery": 0, "bootstrap_samples": 50}


def test_each_test_use_is_recorded_counted_and_warned_about(eval_run: Path) -> None:
    first = evaluate_run(eval_run, "test", **FAST)
    assert first["test_uses"] == 1 and first["warning"] == "" and first["settings_changed"] is False
    uses = read_json(eval_run / "run.json")["test_evaluations"]
    assert len(uses) == 1
    record = uses[0]
    for key in ("time", "config_sha256", "checkpoint_sha256", "test_set_sha256", "checkpoint_epoch", "accuracy"):
        assert record[key] not in (None, ""), key
    assert len(record["config_sha256"]) == 64 and len(record["checkpoint_sha256"]) == 64

    second = evaluate_run(eval_run, "test", **FAST)
    assert second["test_uses"] == 2 and second["settings_changed"] is False
    assert "used 2 times" in second["warning"]
    assert (eval_run / "test_metrics.json").exists() and storage.metrics_path(eval_run, "test").exists()
    assert len(read_ledger(eval_run.parent)) == 2


def test_a_settings_change_between_uses_is_flagged(eval_run: Path) -> None:
    evaluate_run(eval_run, "test", **FAST)
    config = load_config(eval_run / "config.toml")
    config.training.lr = config.training.lr / 2  # as if the run were redone with a tuned setting
    save_config(config, eval_run / "config.toml")
    changed = evaluate_run(eval_run, "test", **FAST)
    assert changed["settings_changed"] is True
    assert "settings or weights changed" in changed["warning"] and "use 2" in changed["warning"]
    summary = summarize_test_uses(eval_run)
    assert summary["run_uses"] == 2 and summary["distinct_configs"] == 2


def test_new_weights_between_uses_are_flagged(eval_run: Path) -> None:
    evaluate_run(eval_run, "test", **FAST)
    path = eval_run / "checkpoints" / "best.pt"
    saved = torch.load(path, weights_only=True)
    saved["model"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in saved["model"].items()}
    torch.save(saved, path)
    assert evaluate_run(eval_run, "test", **FAST)["settings_changed"] is True


def test_validation_evaluations_are_not_test_uses(eval_run: Path) -> None:
    result = evaluate_run(eval_run, "val", **FAST)
    assert "test_uses" not in result
    assert not read_json(eval_run / "run.json").get("test_evaluations")
    assert not (eval_run.parent / LEDGER_NAME).exists()
    assert storage.load_metrics(eval_run, "val")["split"] == "val"


def test_uses_by_other_runs_on_the_same_test_images_count(eval_run: Path, tmp_path: Path,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    evaluate_run(eval_run, "test", **FAST)
    # A second run in the same runs folder with the same split, but another setting (a retrained variant).
    from tests.core.eval_fixtures import template_runs

    other = copy_run(template_runs(tmp_path_factory)["grey_run"], tmp_path / "elsewhere")
    target = eval_run.parent / (other.name + "-b")
    other.rename(target)
    config = load_config(target / "config.toml")
    config.training.epochs = 3
    save_config(config, target / "config.toml")
    result = evaluate_run(target, "test", **FAST)
    assert result["test_uses"] == 1  # the run's own first use ...
    assert result["project_test_uses"] == 2  # ... but the test images' second
    assert result["settings_changed"] is True and eval_run.name in result["warning"]


def test_stored_predictions_are_plain_arrays(eval_run: Path) -> None:
    evaluate_run(eval_run, "val", **FAST)
    stored = storage.load_predictions(eval_run, "val")
    assert stored is not None and stored["probs"].shape[0] == stored["labels"].shape[0] == stored["rows"].shape[0]
    assert json.loads(storage.metrics_path(eval_run, "val").read_text())["images"] == len(stored["labels"])
