"""What runs print is true to what they do (issue 18, item 7): a single fit is not an epoch, a phase without
validation does not print nan, predict counts each image once, and 'all_blocks' says which blocks it used."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.helpers import tiny_config
from workbench.core.callbacks import CollectingCallback
from workbench.core.events import EpochEnded, LogMessage
from workbench.core.training.engine import train
from workbench.progress import ConsoleProgress


def _printed(event: EpochEnded, capsys: pytest.CaptureFixture[str]) -> str:
    ConsoleProgress(live_bars=False).on_event(event)
    return capsys.readouterr().out


def test_a_pretraining_epoch_prints_no_nan(capsys: pytest.CaptureFixture[str]) -> None:
    event = EpochEnded(3, 20, 0.8123, math.nan, math.nan, {}, 1e-3, 1.5, False, phase="pretraining")
    line = _printed(event, capsys)
    assert "nan" not in line and "pretraining epoch   3/20" in line and "train loss 0.8123" in line
    knn = EpochEnded(2, 5, 0.4, 0.5, math.nan, {"knn_accuracy": 0.75}, 1e-3, 1.0, False, phase="metric_learning")
    assert "kNN acc 0.7500" in _printed(knn, capsys)


def test_feature_extraction_prints_one_fit_not_an_epoch(trained_run: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import write_shapes_dataset

    data = write_shapes_dataset(tmp_path / "data")
    config = tiny_config(data, tmp_path / "runs", epochs=15)
    config.strategy.name = "feature_extraction"
    config.strategy.weights, config.strategy.weights_path = "run", str(trained_run)
    config.strategy.feature_layers = "all_blocks"
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    (epoch,) = events.of_type(EpochEnded)
    assert epoch.single_fit and epoch.epochs == 1
    line = _printed(epoch, capsys)
    assert line.startswith("fit: ") and "epoch" not in line and "lr" not in line and "1/15" not in line
    notes = [e.message for e in events.of_type(LogMessage) if "all_blocks" in e.message]
    assert notes and "features.0, features.1" in notes[0], "all_blocks names the blocks it used"


def test_predict_counts_each_image_once(eval_run_dir: Path, tmp_path: Path) -> None:
    from workbench.core.evaluation.predict import predict_folder

    calls: list[tuple[int, int]] = []
    stages: list[str] = []
    folder = tmp_path / "six"
    folder.mkdir()
    for path in sorted((Path(eval_run_dir["data"]) / "square").glob("*.png"))[:6]:
        (folder / path.name).write_bytes(path.read_bytes())
    count, _ = predict_folder(eval_run_dir["run"], folder, tmp_path / "out.csv",
                              progress=lambda d, t: calls.append((d, t)), stage=stages.append)
    assert count == 6 and stages == ["reading images", "predicting"]
    assert calls and all(total == 6 and 0 <= done <= 6 for done, total in calls), calls


@pytest.fixture
def eval_run_dir(trained_run: Path, shapes_dataset: Path) -> dict[str, Path]:
    return {"run": trained_run, "data": shapes_dataset}
