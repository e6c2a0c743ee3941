"""The locked test set: every use recorded with time and hashes, counted, and warned about after a change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.core.eval_fixtures import *  # noqa: F403
from tests.core.eval_fixtures import copy_run, with_own_dataset
from workbench.core.config import ConfigError, load_config, save_config
from workbench.core.evaluation import storage
from workbench.core.evaluation.evaluate import evaluate_run
from workbench.core.evaluation.test_lock import read_ledger, summarize_test_uses
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
    assert len(read_ledger()) == 2


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
    assert read_ledger() == []
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


def _test_paths(run_dir: Path) -> list[Path]:
    import csv

    with (run_dir / "split.csv").open(encoding="utf-8", newline="") as handle:
        return [Path(r["path"]) for r in csv.DictReader(handle) if r["split"] == "test"]


def test_the_ledger_counts_across_runs_folders_projects_and_deleted_runs(eval_run: Path, tmp_path: Path) -> None:
    import shutil

    first = evaluate_run(eval_run, "test", **FAST)
    assert first["project_test_uses"] == 1
    # The same test images, reached by a copy of the run in another runs folder under another project name.
    other = copy_run(eval_run, tmp_path / "another-runs-folder")
    config = load_config(other / "config.toml")
    config.name = "second-project"
    save_config(config, other / "config.toml")
    (other / "run.json").write_text(json.dumps({"status": "completed"}))  # a fresh run: no uses of its own
    second = evaluate_run(other, "test", **FAST)
    assert second["test_uses"] == 1 and second["project_test_uses"] == 2
    shutil.rmtree(eval_run)  # deleting a run does not delete its look at the test set
    third = evaluate_run(other, "test", **FAST)
    assert third["project_test_uses"] == 3 and "used 3 times" in third["warning"]
    summary = summarize_test_uses(other)
    assert summary["run_uses"] == 2 and summary["project_uses"] == 3
    assert summary["projects"] == ["second-project", "tiny"]
    assert summary["deleted_runs"] == [eval_run.name]
    assert [u["run_dir"] for u in summary["project_history"]] == [str(eval_run), str(other), str(other)]


def test_a_missing_test_image_stops_the_evaluation(eval_run: Path, tmp_path: Path) -> None:
    with_own_dataset(eval_run, tmp_path / "own-data")
    assert evaluate_run(eval_run, "test", **FAST)["project_test_uses"] == 1
    lost = _test_paths(eval_run)[0]
    lost.unlink()
    with pytest.raises(ConfigError, match=rf"1 of \d+ test image\(s\) are missing \({lost.name}\).*--allow-partial"):
        evaluate_run(eval_run, "test", **FAST)
    assert len(read_ledger()) == 1  # the refused evaluation was not a use
    partial = evaluate_run(eval_run, "test", allow_partial=True, **FAST)
    assert partial["partial_test_set"]["missing"] == 1
    assert partial["images"] == partial["partial_test_set"]["total"] - 1
    # What is left is another test set: it is not counted as a second look at the locked one.
    assert partial["project_test_uses"] == 1
    summary = summarize_test_uses(eval_run)
    assert summary["project_uses"] == 1 and len(summary["other_test_sets"]) == 1


def test_an_edited_or_relabelled_test_image_is_a_changed_test_set(eval_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    with_own_dataset(eval_run, tmp_path / "own-data")
    edited = _test_paths(eval_run)[1]
    with Image.open(edited) as image:
        pixels = image.copy()
    pixels.putpixel((0, 0), 255 - pixels.getpixel((0, 0)))
    pixels.save(edited)
    with pytest.raises(ConfigError, match=rf"1 test image\(s\) changed \(content or label\).*{edited.name}"):
        evaluate_run(eval_run, "test", **FAST)
    manifest = eval_run / "split.csv"
    text = manifest.read_text(encoding="utf-8")
    pixels.putpixel((0, 0), 255 - pixels.getpixel((0, 0)))
    pixels.save(edited)  # restored: the same content as when the run was made
    assert evaluate_run(eval_run, "test", **FAST)["test_uses"] == 1
    moved = _test_paths(eval_run)[2]
    old_label = moved.parent.name
    new_label = next(n for n in ("square", "hbar", "vbar") if n != old_label)
    manifest.write_text(text.replace(f"{moved},{old_label},test", f"{moved},{new_label},test"), encoding="utf-8")
    with pytest.raises(ConfigError, match="changed"):
        evaluate_run(eval_run, "test", **FAST)


def test_eval_on_the_command_line_refuses_or_marks_a_partial_test_set(eval_run: Path, tmp_path: Path, capsys) -> None:
    from workbench.cli import main

    with_own_dataset(eval_run, tmp_path / "own-data")
    _test_paths(eval_run)[0].unlink()
    assert main(["eval", str(eval_run), "--gallery", "0"]) != 0
    err = capsys.readouterr().err
    assert "test image(s) are missing" in err and "--allow-partial" in err and "unexpected" not in err
    assert main(["eval", str(eval_run), "--gallery", "0", "--allow-partial"]) == 0
    assert "PARTIAL: 1 of" in capsys.readouterr().out
