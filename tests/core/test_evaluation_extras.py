"""Test-time augmentation, robustness, the misclassified gallery, external validation, prediction and run comparison."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.core.eval_fixtures import *  # noqa: F403
from tests.core.eval_fixtures import write_rgb_dataset
from tests.helpers import write_shapes_dataset
from workbench.core.data.errors import DatasetError
from workbench.core.evaluation import storage
from workbench.core.evaluation.compare import compare_runs, flatten
from workbench.core.evaluation.evaluate import evaluate_run, load_split
from workbench.core.evaluation.external import evaluate_external
from workbench.core.evaluation.gallery import misclassified_gallery, worst_errors
from workbench.core.evaluation.inference import predict_set
from workbench.core.evaluation.perturbations import PERTURBATIONS, perturb
from workbench.core.evaluation.predict import predict_folder
from workbench.core.evaluation.robustness import evaluate_robustness, plot_robustness
from workbench.core.evaluation.run_loading import load_run
from workbench.core.evaluation.saliency import saliency_maps
from workbench.core.evaluation.tta import TTA_AUGMENTATIONS, combine, make_views
from workbench.core.evaluation.tta_eval import compare_tta


def _valid_probabilities(probs: np.ndarray, k: int) -> None:
    assert probs.ndim == 2 and probs.shape[1] == k
    assert np.all(probs >= 0) and np.all(probs <= 1)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


# --- test-time augmentation ------------------------------------------------------------------------


def test_views_keep_the_shape_and_start_with_the_original() -> None:
    x = torch.rand(2, 3, 16, 16)
    views = make_views(x, list(TTA_AUGMENTATIONS))
    assert views[0][0] == "original" and torch.equal(views[0][1], x)
    assert len(views) == 1 + sum(len(info.view_names) for info in TTA_AUGMENTATIONS.values())
    assert all(v.shape == x.shape for _, v in views)
    assert torch.equal(dict(views)["hflip"], x.flip(-1))


def test_majority_vote_counts_views_and_breaks_ties_by_mean_probability() -> None:
    views = torch.tensor([[[0.6, 0.4]], [[0.45, 0.55]], [[0.3, 0.7]]])  # votes: 1 for class 0, 2 for class 1
    vote = combine(views, "vote")
    assert vote.argmax(1).item() == 1 and torch.allclose(vote.sum(1), torch.ones(1))
    tie = combine(torch.tensor([[[0.9, 0.1]], [[0.45, 0.55]]]), "vote")  # one vote each; the mean favours class 0
    assert tie.argmax(1).item() == 0
    mean = combine(views, "mean")
    assert torch.allclose(mean, views.mean(0))


@pytest.mark.parametrize("rule", ["mean", "vote"])
def test_tta_on_and_off_both_give_valid_probabilities(eval_run: Path, rule: str) -> None:
    run = load_run(eval_run)
    images = load_split(run, "test")
    plain = predict_set(run, images)
    with_tta = predict_set(run, images, tta=["hflip", "shift"], rule=rule, keep_views=True)
    _valid_probabilities(plain["probs"], 3)
    _valid_probabilities(with_tta["probs"], 3)
    assert with_tta["view_probs"].shape == (6, len(images), 3)
    assert np.allclose(with_tta["view_probs"][0], plain["probs"], atol=1e-6)  # view 0 is the plain prediction


def test_tta_comparison_reports_plain_and_combined(eval_run: Path) -> None:
    run = load_run(eval_run)
    result = compare_tta(run, load_split(run, "test"), ["hflip", "rotate"], "mean")
    assert set(result["plain"]) >= {"accuracy", "balanced_accuracy"} and set(result["tta"]) >= {"accuracy"}
    assert result["views"] == 4 and set(result["per_view_accuracy"]) == {"original", "hflip", "rotate −10°", "rotate +10°"}
    assert result["fixed"] - result["broken"] == pytest.approx(
        round((result["tta"]["accuracy"] - result["plain"]["accuracy"]) * result["images"]))
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        predict_set(run, load_split(run, "test"), tta=["sideways"])


# --- robustness ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_perturbations_keep_shape_and_range(name: str) -> None:
    x = torch.rand(3, 3, 16, 16)
    for strength in PERTURBATIONS[name].strengths:
        y = perturb(x, name, strength)
        assert y.shape == x.shape and float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert torch.equal(perturb(x, name, PERTURBATIONS[name].strengths[-1], seed=1),
                       perturb(x, name, PERTURBATIONS[name].strengths[-1], seed=1))


def test_robustness_table_shape_plot_and_flags(eval_run: Path, tmp_path: Path) -> None:
    run = load_run(eval_run)
    images = load_split(run, "test")
    chosen = ["gaussian_noise", "blur", "jpeg"]
    table = evaluate_robustness(run, images, perturbations=chosen)
    assert len(table["rows"]) == sum(len(PERTURBATIONS[p].strengths) for p in chosen)
    assert {"perturbation", "setting", "strength", "accuracy", "balanced_accuracy", "drop", "mild", "flagged"} <= set(
        table["rows"][0])
    clean = table["clean"][table["metric"]]
    for row in table["rows"]:
        assert row["drop"] == pytest.approx(clean - row[table["metric"]])
    path = plot_robustness(table, tmp_path / "robustness.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    strict = evaluate_robustness(run, images, perturbations=["brightness"], threshold=-1.0)  # every mild row flagged
    assert [r["flagged"] for r in strict["rows"]] == [True, True, False, False]
    assert strict["flagged"] == ["Brightness"] and "poor generalisation" in strict["summary"]


# --- gallery and saliency --------------------------------------------------------------------------


def test_worst_errors_are_the_most_confident_wrong_predictions() -> None:
    labels = np.array([0, 1, 1, 0])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])  # wrong: rows 1 (0.8), 2 (0.6), 3 (0.7)
    assert worst_errors(probs, labels, 2).tolist() == [1, 3]
    assert worst_errors(probs, labels, 10).tolist() == [1, 3, 2]


def test_gallery_overlays_are_rgb_uint8(eval_run: Path) -> None:
    run = load_run(eval_run)
    images = load_split(run, "test")
    probs = predict_set(run, images)["probs"]
    probs = np.roll(probs, 1, axis=1)  # make every prediction wrong, so the gallery is never empty
    items = misclassified_gallery(run, images, probs, k=4)
    assert len(items) == 4
    for item in items:
        assert item.overlay.dtype == np.uint8 and item.overlay.ndim == 3 and item.overlay.shape[2] == 3
        assert item.overlay.shape == item.image.shape and item.overlay.shape[0] >= 64
        assert item.method == "Grad-CAM" and item.true_label != item.predicted
    assert [i.confidence for i in items] == sorted((i.confidence for i in items), reverse=True)


def test_models_without_convolutions_get_occlusion_maps() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2)).eval()
    maps, method = saliency_maps(model, torch.rand(2, 3, 8, 8), torch.tensor([0, 1]))
    assert method == "Occlusion" and maps.shape == (2, 8, 8) and maps.min() >= 0 and maps.max() <= 1


def test_full_evaluation_writes_every_part(eval_run: Path) -> None:
    result = evaluate_run(eval_run, "test", tta=["hflip"], robustness=True, gallery=3, bootstrap_samples=50)
    assert result["tta"]["augmentations"] == ["hflip"] and "summary" in result["robustness"]
    assert result["test_uses"] == 1  # one action, one recorded use, however many parts
    assert storage.tta_path(eval_run, "test").exists() and storage.robustness_path(eval_run, "test").exists()
    assert storage.robustness_path(eval_run, "test").with_suffix(".png").exists()
    gallery = storage.gallery_dir(eval_run, "test")
    assert len(list(gallery.glob("error_*.png"))) == len(result["gallery"]) <= 3


def test_a_stop_before_scoring_records_nothing(eval_run: Path) -> None:
    with pytest.raises(InterruptedError, match="nothing was recorded"):
        evaluate_run(eval_run, "test", robustness=True, gallery=3, bootstrap_samples=50, should_stop=lambda: True)
    assert read_json_uses(eval_run) == []
    assert not storage.predictions_path(eval_run, "test").exists()


def test_a_stop_after_scoring_keeps_the_metrics_and_skips_the_extras(eval_run: Path) -> None:
    # The stop arrives once the images are scored (their predictions are on disk), during the robustness check.
    scored = storage.predictions_path(eval_run, "test")
    result = evaluate_run(eval_run, "test", tta=["hflip"], robustness=True, gallery=3, bootstrap_samples=50,
                          should_stop=lambda: scored.exists())
    assert result["skipped"] == ["test-time augmentation", "robustness check", "misclassified gallery"]
    assert 0.0 <= result["accuracy"] <= 1.0 and "tta" not in result and "robustness" not in result
    assert not storage.robustness_path(eval_run, "test").exists()
    assert result["test_uses"] == 1 and len(read_json_uses(eval_run)) == 1  # the metrics were computed: a use


# --- external validation ---------------------------------------------------------------------------


def test_external_validation_is_reported_separately(eval_run: Path, tmp_path: Path) -> None:
    evaluate_run(eval_run, "test", gallery=0, bootstrap_samples=50)
    external = write_shapes_dataset(tmp_path / "site-b", classes=3, per_class=8, seed=42)
    result = evaluate_external(eval_run, external, bootstrap_samples=50)
    assert result["images"] == 24 and result["split"] == "external" and result["name"] == "site-b"
    assert 0.0 <= result["accuracy"] <= 1.0 and "confidence_intervals" in result
    assert set(result["difference_to_internal"]) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert storage.list_external(eval_run)[0]["source"] == str(external.resolve())
    assert len(read_json_uses(eval_run)) == 1  # external data is not the test set


def read_json_uses(run_dir: Path) -> list:
    from workbench.core.runs import read_json

    return read_json(run_dir / "run.json").get("test_evaluations", [])


def test_external_classes_must_match(eval_run: Path, tmp_path: Path) -> None:
    wrong = write_shapes_dataset(tmp_path / "wrong", classes=3, per_class=3, seed=5)
    (wrong / "square").rename(wrong / "Square ")
    with pytest.raises(DatasetError, match="do not match") as error:
        evaluate_external(eval_run, wrong)
    assert "'Square ' → 'square'" in str(error.value)


def test_external_set_may_lack_a_class(eval_run: Path, tmp_path: Path) -> None:
    partial = write_shapes_dataset(tmp_path / "partial", classes=3, per_class=4, seed=6)
    for f in (partial / "vbar").iterdir():
        f.unlink()
    (partial / "vbar").rmdir()
    result = evaluate_external(eval_run, partial, bootstrap_samples=20)
    assert result["missing_classes"] == ["vbar"] and any("vbar" in w for w in result["warnings"])


def test_external_images_from_the_training_data_are_noticed(eval_run: Path, eval_dataset: Path) -> None:
    result = evaluate_external(eval_run, eval_dataset, bootstrap_samples=20, save=False)
    assert result["overlap_with_run"] == result["images"]
    assert any("not an independent" in w for w in result["warnings"])


# --- prediction ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tta", [(), ("hflip",)])
def test_predict_folder_writes_top3_with_and_without_tta(eval_run: Path, eval_dataset: Path, tmp_path: Path,
                                                         tta: tuple[str, ...]) -> None:
    calls: list[tuple[int, int]] = []
    out = tmp_path / "pred.csv"
    count, problems = predict_folder(eval_run, eval_dataset / "hbar", out, progress=lambda d, t: calls.append((d, t)),
                                     tta=tta)
    rows = list(csv.DictReader(out.open()))
    assert count == len(rows) == 30 and not problems
    assert {"file", "predicted", "confidence", "top1", "p1", "top2", "p2", "top3", "p3"} <= set(rows[0])
    assert ("predicted_without_tta" in rows[0]) == bool(tta)
    assert all(float(r["p1"]) >= float(r["p2"]) >= float(r["p3"]) for r in rows)
    assert calls and calls[-1][0] == calls[-1][1]


# --- comparing runs --------------------------------------------------------------------------------


def test_compare_runs_lists_curves_metrics_and_differences(eval_run: Path, rgb_run: Path) -> None:
    from workbench.core.config import load_config, save_config

    config = load_config(rgb_run / "config.toml")
    config.training.lr = 0.01
    save_config(config, rgb_run / "config.toml")
    result = compare_runs([eval_run, rgb_run])
    ids = [r["id"] for r in result["runs"]]
    assert len(ids) == 2 and set(result["curves"]) == set(ids)
    assert len(result["curves"][ids[0]]["epoch"]) == 2 and "val_loss" in result["curves"][ids[0]]
    assert set(result["metrics"]["val_accuracy"]) == set(ids)
    diff = result["config_differences"]
    assert "training.lr" in diff and "data.source" in diff and "runs_dir" not in diff
    assert "model.architecture" not in diff  # equal settings are left out
    assert flatten({"a": {"b": 1, "c": {"d": 2}}}) == {"a.b": 1, "a.c.d": 2}


def test_rgb_runs_evaluate_too(rgb_run: Path, tmp_path: Path) -> None:
    run = load_run(rgb_run)
    assert run.channels == "rgb"
    external = write_rgb_dataset(tmp_path / "rgb-ext", per_class=4, seed=9)
    result = evaluate_external(run, external, bootstrap_samples=20, save=False)
    assert result["images"] == 12


# --- command-line summaries ------------------------------------------------------------------------


def test_cli_summaries(eval_run: Path) -> None:
    from workbench.core.evaluation.summaries import comparison_lines, evaluation_lines, parse_tta

    assert parse_tta("hflip, shift") == ["hflip", "shift"] and parse_tta(None) == []
    with pytest.raises(ValueError, match="choose from"):
        parse_tta("hflip,upside")
    result = evaluate_run(eval_run, "test", tta=["vflip"], gallery=0, bootstrap_samples=20)
    text = "\n".join(evaluation_lines(result))
    assert "Locked test set" in text and "with TTA" in text and "test-set uses: 1" in text
    assert "test_accuracy" in "\n".join(comparison_lines(compare_runs([eval_run])))
