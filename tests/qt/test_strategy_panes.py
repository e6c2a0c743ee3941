"""Every training strategy chosen and set up through the Strategy pane's forms, then trained through the Train pane;
and the pane's "Trainable layers" table for transfer learning and fine-tuning."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.qt.helpers import prepared_window, set_option
from workbench.core.strategies import STRATEGIES

TIMEOUT = 60_000

# Small settings per strategy, entered through the strategy options form.
OPTIONS: dict[str, dict[str, object]] = {
    "transfer": {"weights": "run"},
    "fine_tune": {"weights": "run", "unfreeze_blocks": 1},
    "feature_extraction": {"weights": "run", "classifier": "logistic"},
    "curriculum": {"bootstrap_epochs": 1, "step_length": 1},
    "self_supervised": {"pretrain_epochs": 1, "pretrain_batch_size": 16, "projection_dim": 16},
    "autoencoder": {"pretrain_epochs": 1, "pretrain_batch_size": 16},
    "metric_learning": {"neighbours": 3},
}
NEEDS_SOURCE_RUN = {"transfer", "fine_tune", "feature_extraction"}
# Strategies that do not train every block at the training rate, so the pane shows which blocks train.
LAYER_TABLE = {"transfer", "fine_tune", "feature_extraction", "self_supervised", "autoencoder"}


@pytest.fixture(scope="module")
def source_run(tmp_path_factory, shapes_dataset, engine_loaded) -> Path:
    """A one-epoch scratch run trained by the engine, whose weights transfer and fine-tuning start from."""
    from workbench.core.config import ProjectConfig
    from workbench.core.training.engine import train

    config = ProjectConfig(name="source", runs_dir=str(tmp_path_factory.mktemp("source_runs")))
    config.data.source = str(shapes_dataset)
    config.preprocessing.image_size = 16
    config.model.small_cnn.width = 8
    config.model.small_cnn.depth = 2
    config.training.epochs = 1
    config.training.batch_size = 16
    config.training.device = "cpu"
    config.export.onnx = False
    config.evaluation.gallery_size = 0
    config.evaluation.bootstrap_samples = 50
    result = train(config)
    assert result.status == "completed", result.reason
    assert result.run_dir is not None
    return result.run_dir


def choose_strategy(pane, name: str) -> None:
    """Pick the strategy in its combo box as a user would."""
    combo = pane.strategy_form.editor("name")
    index = combo.findData(name)
    assert index >= 0, name
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_each_strategy_trains_through_the_panes(qtbot, make_window, shapes_dataset, engine_loaded, request, name) -> None:
    window = prepared_window(qtbot, make_window, shapes_dataset)
    pane = window.panes["strategy"]
    choose_strategy(pane, name)
    assert window.project.config.strategy.name == name
    assert pane.layers_group.isVisibleTo(pane) == (name in LAYER_TABLE)
    if name in NEEDS_SOURCE_RUN:
        set_option(pane.strategy_options, "weights_path", str(request.getfixturevalue("source_run")))
    for option, value in OPTIONS.get(name, {}).items():
        assert pane.strategy_options.rows[option].container.isVisibleTo(pane), option
        set_option(pane.strategy_options, option, value)
    set_option(pane.optim_form, "epochs", 1)
    config = window.project.config
    assert config.training.epochs == 1
    for option, value in OPTIONS.get(name, {}).items():
        assert getattr(config.strategy, option) == value

    window.show_step("train")
    train = window.panes["train"]
    with qtbot.waitSignal(window.runner.run_finished, timeout=TIMEOUT) as finished:
        train.start_button.click()
    assert finished.args[0].status == "completed", train.failure
    assert finished.args[0].epochs_run == 1
    qtbot.waitUntil(lambda: not window.runner.is_running, timeout=TIMEOUT)
    assert train.phase == "completed", train.failure


def test_layer_table_shows_frozen_blocks_for_transfer_and_more_for_fine_tuning(qtbot, make_window, shapes_dataset,
                                                                               engine_loaded) -> None:
    window = prepared_window(qtbot, make_window, shapes_dataset)
    pane = window.panes["strategy"]
    table = pane.layer_table
    choose_strategy(pane, "transfer")
    assert pane.layers_group.isVisibleTo(pane)
    qtbot.waitUntil(lambda: table.rowCount() > 1 and not window.tasks.is_running("strategy-layers"), timeout=TIMEOUT)
    rows = pane.layer_rows
    assert rows[-1]["name"] == "head" and rows[-1]["trainable_start"]
    assert all(not r["trainable_start"] and not r["trainable_end"] for r in rows[:-1])
    assert table.trainable_counts() == (1, 1)
    assert table.item(0, 2).text() == "frozen" and table.item(0, 4).text() == "–"
    assert table.item(table.rowCount() - 1, 2).text() == "yes"

    choose_strategy(pane, "fine_tune")
    set_option(pane.strategy_options, "unfreeze_blocks", 0)  # all blocks
    qtbot.waitUntil(lambda: table.trainable_counts()[0] > 1 and not window.tasks.is_running("strategy-layers"),
                    timeout=TIMEOUT)
    assert table.trainable_counts() == (len(pane.layer_rows), len(pane.layer_rows))
    lrs = [r["lr"] for r in pane.layer_rows]
    assert lrs == sorted(lrs)  # rates shrink towards the input

    set_option(pane.strategy_options, "unfreeze_every", 1)  # gradual: head alone in the first epoch
    set_option(pane.optim_form, "epochs", 5)
    qtbot.waitUntil(lambda: table.trainable_counts()[0] == 1 and not window.tasks.is_running("strategy-layers"),
                    timeout=TIMEOUT)
    assert table.trainable_counts()[1] == len(pane.layer_rows)
    assert "from epoch 2" in table.item(len(pane.layer_rows) - 2, 2).text()

    choose_strategy(pane, "scratch")
    assert not pane.layers_group.isVisibleTo(pane)


def test_autoencoder_fine_tuning_shows_its_layer_table(qtbot, make_window, shapes_dataset, engine_loaded) -> None:
    """The Strategy pane's table follows the strategy registry's capabilities, so autoencoder + fine-tune has one."""
    window = prepared_window(qtbot, make_window, shapes_dataset)
    pane = window.panes["strategy"]
    choose_strategy(pane, "autoencoder")
    set_option(pane.strategy_options, "downstream", "fine_tune")
    set_option(pane.strategy_options, "unfreeze_blocks", 1)
    assert pane.layers_group.isVisibleTo(pane)
    qtbot.waitUntil(lambda: pane.layer_table.rowCount() > 1 and not window.tasks.is_running("strategy-layers"),
                    timeout=TIMEOUT)
    assert pane.layer_table.trainable_counts()[0] == 2  # the top block and the head
    assert "Pretraining trains every block first." in pane.layers_note.text()
