"""Each training strategy end to end through the engine on the tiny shapes dataset (and the CLI for one)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import strategy_config, tiny_config
from workbench.core.callbacks import Callback, CollectingCallback
from workbench.core.config import ProjectConfig, load_config
from workbench.core.data.pipeline import prepare_data
from workbench.core.data.splits import read_manifest
from workbench.core.events import (
    BatchEnded,
    EngineEvent,
    EpochEnded,
    FindingRaised,
    LogMessage,
    ProjectionReady,
    RunStarted,
    StageProgress,
)
from workbench.core.strategies.inference import build_run_model
from workbench.core.training.checkpoints import load_checkpoint
from workbench.core.training.control import RunControl
from workbench.core.training.engine import train


def messages(events: CollectingCallback) -> list[str]:
    return [e.message for e in events.of_type(LogMessage)]


def model_state(run_dir: Path, which: str = "best") -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "checkpoints" / f"{which}.pt")["model"]


def reloaded_predictions(run_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of the run's validation images from the model in memory-free form: rebuilt, then loaded."""
    config = load_config(run_dir / "config.toml")
    data = prepare_data(config, manifest=run_dir / "split.csv",
                        class_names=json.loads((run_dir / "classes.json").read_text()))
    model = build_run_model(config, data.in_channels, len(data.class_names))
    model.load_state_dict(model_state(run_dir))
    from workbench.core.strategies.common import source_for

    idx = data.indices("val")
    x, y = source_for(_Ctx(config, data), idx).load(idx, augment=False)
    with torch.no_grad():
        return model.eval()(x), y


class _Ctx:
    """The two fields `source_for` reads."""

    def __init__(self, config: ProjectConfig, data) -> None:
        self.config, self.data, self.device = config, data, torch.device("cpu")


# --- transfer and fine-tuning ---------------------------------------------------------------------


def test_transfer_from_an_earlier_run_trains_only_the_new_head(shapes_dataset: Path, trained_run: Path,
                                                               tmp_path: Path) -> None:
    config = strategy_config(shapes_dataset, tmp_path / "runs", "transfer", weights="run", weights_path=str(trained_run))
    config.model.small_cnn.width = 16  # ignored: the architecture comes from the source run
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    report = json.loads((result.run_dir / "weights_report.json").read_text())
    assert report["share"] == 1.0 and report["head"] == ["classifier.weight", "classifier.bias"]
    assert any(f.code == "weights-loaded" for f in events.of_type(FindingRaised))
    assert load_config(result.run_dir / "config.toml").model.small_cnn.width == 8, "config.toml records the real network"
    source, trained = model_state(trained_run), model_state(result.run_dir)
    frozen = [k for k in source if not k.startswith("classifier")]
    assert all(torch.equal(source[k], trained[k]) for k in frozen), "backbone weights and BN statistics unchanged"
    assert not torch.equal(source["classifier.weight"], trained["classifier.weight"])
    assert result.best_metrics["accuracy"] >= 0.8

    from workbench.core.evaluation.run_loading import load_run

    assert load_run(result.run_dir).model is not None, "evaluation rebuilds the transferred network as is"


def test_weights_file_loads_and_a_mismatched_one_is_refused(shapes_dataset: Path, trained_run: Path,
                                                            tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file(model_state(trained_run), tmp_path / "w.safetensors")
    config = strategy_config(shapes_dataset, tmp_path / "runs", "transfer", epochs=1, weights="file",
                             weights_path=str(tmp_path / "w.safetensors"))
    assert train(config).status == "completed"
    config.model.small_cnn.depth = 3  # another network: the weights cover too little of it
    config.model.small_cnn.width = 12
    refused = train(config)
    assert refused.status == "failed" and "do not fit this architecture" in refused.reason


def test_transfer_from_timm_weights_in_the_local_cache(shapes_dataset: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import timm
    from huggingface_hub import constants
    from safetensors.torch import save_file

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    config = strategy_config(shapes_dataset, tmp_path / "runs", "transfer", epochs=1, weights="timm")
    config.model.architecture = "test_resnet"
    config.preprocessing.image_size = 32
    missing = train(config)
    assert missing.status == "failed" and "not on this computer" in missing.reason and "hub" in missing.reason
    repo = tmp_path / "hub" / "models--timm--test_resnet.r160_in1k"
    (repo / "snapshots" / "r1").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("r1")
    save_file(timm.create_model("test_resnet").state_dict(), repo / "snapshots" / "r1" / "model.safetensors")
    result = train(config)
    assert result.status == "completed", result.reason
    report = json.loads((result.run_dir / "weights_report.json").read_text())
    assert report["share"] == 1.0 and report["source"].endswith("model.safetensors")


def test_fine_tuning_unfreezes_blocks_gradually_from_a_project_file(shapes_dataset: Path, trained_run: Path,
                                                                     tmp_path: Path) -> None:
    """Selected in a project file and run by `workbench train`."""
    from workbench.cli import main

    project = tmp_path / "project.toml"
    project.write_text(f"""
name = "fine"
runs_dir = "runs"
[data]
source = "{shapes_dataset.as_posix()}"
[preprocessing]
image_size = 16
[model.small_cnn]
width = 8
depth = 2
[training]
epochs = 3
batch_size = 16
lr = 0.003
[strategy]
name = "fine_tune"
weights = "run"
weights_path = "{trained_run.as_posix()}"
unfreeze_blocks = 1
unfreeze_every = 1
finetune_lr = 0.001
""")
    assert main(["train", str(project)]) == 0
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    source, tuned = model_state(trained_run), model_state(run_dir, "last")
    assert all(torch.equal(source[k], tuned[k]) for k in source if k.startswith("features.0."))
    assert not torch.equal(source["features.1.0.weight"], tuned["features.1.0.weight"])
    assert "epoch 2: unfroze features.1" in (run_dir / "log.txt").read_text()


# --- feature extraction ---------------------------------------------------------------------------


@pytest.mark.parametrize(("classifier", "layers", "pca"), [
    ("logistic", "all_blocks", 4), ("linear_svm", "penultimate", 0), ("rbf_svm", "penultimate", 0),
    ("knn", "features.0", 0), ("random_forest", "penultimate", 3),
])
def test_feature_extraction_with_each_classifier(shapes_dataset: Path, trained_run: Path, tmp_path: Path,
                                                 classifier: str, layers: str, pca: int) -> None:
    config = strategy_config(shapes_dataset, tmp_path / "runs", "feature_extraction", epochs=5, weights="run",
                             weights_path=str(trained_run), classifier=classifier, feature_layers=layers,
                             pca_components=pca, trees=20)
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    assert result.epochs_run == 1 and result.best_metrics["accuracy"] >= 0.8
    report = json.loads((result.run_dir / "feature_extraction.json").read_text())
    assert report["classifier"] == classifier and report["pca_components"] == pca
    logits, labels = reloaded_predictions(result.run_dir)
    accuracy = float((logits.argmax(1) == labels).float().mean())
    assert accuracy == pytest.approx(result.best_metrics["accuracy"]), "the checkpoint alone reproduces the model"


def test_feature_extraction_run_is_evaluated_like_a_network(shapes_dataset: Path, trained_run: Path, tmp_path: Path) -> None:
    """Evaluation rebuilds the strategy's own structure (backbone + fitted head) from the run folder."""
    from workbench.core.evaluation import evaluate

    config = strategy_config(shapes_dataset, tmp_path / "runs", "feature_extraction", weights="run",
                             weights_path=str(trained_run))
    result = train(config)
    metrics = evaluate.evaluate_run(result.run_dir, "test", bootstrap_samples=0)
    assert metrics["accuracy"] >= 0.8


# --- curriculum -----------------------------------------------------------------------------------


def test_curriculum_uses_the_easiest_share_of_every_class(shapes_dataset: Path, tmp_path: Path) -> None:
    from workbench.core.strategies.base import StrategyContext
    from workbench.core.strategies.curriculum import CurriculumStrategy

    config = strategy_config(shapes_dataset, tmp_path / "runs", "curriculum", epochs=3, start_fraction=0.3,
                             pacing="linear", step_length=1, bootstrap_epochs=1)
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    assert [m for m in messages(events) if "uses the easiest" in m][:2] == [
        "curriculum: epoch 1 uses the easiest 30% of each class (21 of 66 images)",
        "curriculum: epoch 2 uses the easiest 60% of each class (42 of 66 images)"]
    saved = json.loads((result.run_dir / "curriculum.json").read_text())
    assert saved["scoring"] == "bootstrap" and len(saved["difficulty"]) == 66

    data = prepare_data(config, manifest=result.run_dir / "split.csv", class_names=["square", "hbar", "vbar"])
    context = StrategyContext(config, data, torch.device("cpu"), result.run_dir, lambda e: None, RunControl())
    strategy = CurriculumStrategy()
    order = np.random.default_rng(0).permutation(data.indices("train"))
    chosen = strategy.select_indices(1, order, context)  # reads curriculum.json: no rescoring
    assert len(chosen) == len(order), "as many steps as a full epoch"
    used = np.unique(chosen)
    assert np.bincount(data.labels[used]).tolist() == [7, 7, 7]
    difficulty = dict(zip(saved["indices"], saved["difficulty"], strict=True))
    for c in range(3):
        members = [i for i in saved["indices"] if data.labels[i] == c]
        easiest = sorted(members, key=difficulty.__getitem__)[:7]
        assert set(easiest) == {i for i in used if data.labels[i] == c}


def test_curriculum_with_a_teacher_run(shapes_dataset: Path, trained_run: Path, tmp_path: Path) -> None:
    config = strategy_config(shapes_dataset, tmp_path / "runs", "curriculum", scoring="teacher",
                             teacher_run=str(trained_run))
    result = train(config)
    assert result.status == "completed", result.reason
    assert json.loads((result.run_dir / "curriculum.json").read_text())["scoring"] == "teacher"


def test_stop_while_scoring_then_resume(shapes_dataset: Path, tmp_path: Path) -> None:
    control = RunControl()

    class StopWhileScoring(Callback):
        def on_event(self, event: EngineEvent) -> None:
            if isinstance(event, StageProgress) and event.stage == "curriculum scoring":
                control.request_stop()

    config = strategy_config(shapes_dataset, tmp_path / "runs", "curriculum", bootstrap_epochs=1)
    stopped = train(config, StopWhileScoring(), control)
    assert stopped.status == "stopped"
    resumed = train(None, resume=stopped.run_dir)
    assert resumed.status == "completed" and resumed.epochs_run == 2


# --- self-supervised and autoencoder pretraining --------------------------------------------------


@pytest.mark.parametrize("method", ["simclr", "byol", "simsiam", "barlow_twins"])
def test_self_supervised_pretraining_is_shown_like_a_run(shapes_dataset: Path, tmp_path: Path, method: str) -> None:
    config = strategy_config(shapes_dataset, tmp_path / "runs", "self_supervised", epochs=1, ssl_method=method,
                             pretrain_epochs=2, pretrain_batch_size=32, unfreeze_blocks=0)
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    kinds = events.events
    first_pretraining = next(i for i, e in enumerate(kinds) if getattr(e, "phase", "") == "pretraining")
    assert kinds.index(events.of_type(RunStarted)[0]) < first_pretraining, "pretraining runs after RunStarted"
    pre_epochs = [e for e in events.of_type(EpochEnded) if e.phase == "pretraining"]
    assert [e.epoch for e in pre_epochs] == [1, 2] and "knn_accuracy" in pre_epochs[0].metrics
    assert all(np.isfinite(e.train_loss) for e in pre_epochs)
    assert [e.batch for e in events.of_type(BatchEnded) if e.phase == "pretraining"] == [1, 2, 1, 2]
    assert len(events.of_type(ProjectionReady)) >= 2
    assert [e.phase for e in events.of_type(EpochEnded)][-1] == "supervised"
    assert load_checkpoint(result.run_dir / "checkpoints" / "pretrain_ssl.pt")["done"]


def test_pretraining_on_an_unlabelled_folder_leaves_out_held_out_images(shapes_dataset: Path, tmp_path: Path) -> None:
    config = strategy_config(shapes_dataset, tmp_path / "runs", "self_supervised", epochs=1, pretrain_epochs=1,
                             pretrain_batch_size=32, unlabelled_dir=str(shapes_dataset), downstream="transfer")
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    assert any("validation or test images of the labelled dataset" in m for m in messages(events))
    _, splits = read_manifest(result.run_dir / "split.csv")
    report = json.loads((result.run_dir / "pretraining.json").read_text())
    assert report["images"].startswith(f"{splits.count('train')} unlabelled images")


def test_stop_during_pretraining_then_resume_where_it_stopped(shapes_dataset: Path, tmp_path: Path) -> None:
    control = RunControl()

    class StopAfterFirstPretrainingEpoch(Callback):
        def on_epoch_ended(self, event: EpochEnded) -> None:
            if event.phase == "pretraining" and event.epoch == 1:
                control.request_stop()

    config = strategy_config(shapes_dataset, tmp_path / "runs", "self_supervised", epochs=1, pretrain_epochs=2,
                             pretrain_batch_size=32)
    stopped = train(config, StopAfterFirstPretrainingEpoch(), control)
    assert stopped.status == "stopped"
    events = CollectingCallback()
    resumed = train(None, events, resume=stopped.run_dir)
    assert resumed.status == "completed", resumed.reason
    assert "pretraining continues at epoch 2 of 2" in messages(events)
    assert [e.epoch for e in events.of_type(EpochEnded) if e.phase == "pretraining"] == [2]


def test_autoencoder_warm_up(shapes_dataset: Path, tmp_path: Path) -> None:
    from workbench.core.strategies.autoencoder import ConvDecoder

    decoder = ConvDecoder(32, 1, 4, 16)
    kernels = [m.kernel_size for m in decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert kernels and all(k[0] % 2 == 0 and k[0] % m.stride[0] == 0 for k, m in
                           zip(kernels, [m for m in decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)],
                               strict=True))
    assert decoder(torch.randn(2, 32, 4, 4)).shape == (2, 1, 16, 16)
    config = strategy_config(shapes_dataset, tmp_path / "runs", "autoencoder", epochs=1, pretrain_epochs=3,
                             pretrain_batch_size=16, pretrain_lr=3e-3)
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    losses = [e.train_loss for e in events.of_type(EpochEnded) if e.phase == "pretraining"]
    assert len(losses) == 3 and losses[-1] < losses[0]


# --- metric learning ------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["triplet", "contrastive"])
def test_metric_learning_retrieval(shapes_dataset: Path, tmp_path: Path, loss: str) -> None:
    config = strategy_config(shapes_dataset, tmp_path / "runs", "metric_learning", epochs=3, metric_loss=loss)
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    per_epoch = [e for e in events.of_type(EpochEnded) if e.phase == "metric_learning"]
    assert len(per_epoch) == 3 and {"knn_accuracy", "recall_at_1", "recall_at_5"} <= set(per_epoch[-1].metrics)
    assert per_epoch[-1].metrics["recall_at_5"] >= 0.9 and result.best_metrics["accuracy"] >= 0.8
    logits, labels = reloaded_predictions(result.run_dir)
    assert float((logits.argmax(1) == labels).float().mean()) == pytest.approx(result.best_metrics["accuracy"])


# --- k-fold cross-validation ----------------------------------------------------------------------


def test_k_fold_runs_each_fold_and_never_touches_the_test_set(shapes_dataset: Path, tmp_path: Path) -> None:
    from workbench.core.strategies.kfold import run_k_fold

    config = tiny_config(shapes_dataset, tmp_path / "runs", epochs=1)
    config.data.k_folds = 3
    result = run_k_fold(config)
    assert result.status == "completed" and len(result.folds) == 3
    mean, std = result.metrics["accuracy"]
    assert 0.0 <= mean <= 1.0 and std >= 0.0 and "±" in result.summary()
    splits = [read_manifest(f.run_dir / "split.csv") for f in result.folds]
    paths = [s.path for s in splits[0][0]]
    tests = [{p for p, s in zip(paths, split, strict=True) if s == "test"} for _, split in splits]
    vals = [{s.path for s, part in zip(samples, split, strict=True) if part == "val"} for samples, split in splits]
    assert tests[0] == tests[1] == tests[2] and len(tests[0]) > 0
    assert not (vals[0] & vals[1]) and not (vals[1] & vals[2]) and not (vals[0] & tests[0])
    assert vals[0] | vals[1] | vals[2] == set(paths) - tests[0]
    summary = json.loads(result.summary_path.read_text())
    assert [f["fold"] for f in summary["folds"]] == [0, 1, 2] and "accuracy" in summary["metrics"]


def test_cli_cross_validates_a_project_file(shapes_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    from workbench.cli import main
    from workbench.core.config import save_config

    project = tmp_path / "project.toml"
    save_config(tiny_config(shapes_dataset, tmp_path / "runs", epochs=1), project)
    assert main(["train", str(project), "--k-fold", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 folds: accuracy" in out and "±" in out
    assert len(list((tmp_path / "runs").glob("kfold-*.json"))) == 1


def test_a_stopped_k_fold_continues_where_it_stopped(shapes_dataset: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.core.events import BatchEnded, RunStarted
    from workbench.core.strategies.kfold import run_k_fold
    from workbench.core.training.control import RunControl

    class StopInSecondFold(Callback):
        def __init__(self, control: RunControl) -> None:
            self.control, self.started = control, 0

        def on_event(self, event) -> None:
            self.started += isinstance(event, RunStarted)
            if self.started == 2 and isinstance(event, BatchEnded):
                self.control.request_stop()

    config = tiny_config(shapes_dataset, tmp_path / "runs", epochs=2)
    config.data.k_folds = 3
    control = RunControl()
    stopped = run_k_fold(config, StopInSecondFold(control), control)
    assert stopped.status == "stopped" and [f.status for f in stopped.folds] == ["completed", "stopped"]
    assert "1 of 3 folds" in stopped.summary()

    from workbench.cli import main

    assert main(["train", "--resume", str(stopped.summary_path)]) == 0  # the CLI continues it
    assert "3 of 3 folds" in capsys.readouterr().out
    resumed = run_k_fold(None, resume=stopped.summary_path)  # all folds done: kept as they are
    assert resumed.status == "completed" and resumed.summary_path == stopped.summary_path
    assert [f.run_id for f in resumed.folds[:2]] == [f.run_id for f in stopped.folds]  # kept, and continued
    assert resumed.folds[1].status == "completed" and resumed.folds[1].best_epoch >= 1
    assert resumed.folds[2].run_id not in {f.run_id for f in stopped.folds}
    vals = [{s.path for s, part in zip(*read_manifest(f.run_dir / "split.csv"), strict=True) if part == "val"}
            for f in resumed.folds]
    assert not (vals[0] & vals[1]) and not (vals[1] & vals[2]) and not (vals[0] & vals[2])
    summary = json.loads(resumed.summary_path.read_text())
    assert summary["status"] == "completed" and len(summary["folds"]) == 3 and "accuracy" in summary["metrics"]
