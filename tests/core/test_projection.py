"""Feature projections: methods, streaming and cancellation, separability scores, the worker and the monitor."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.core.diag_fixtures import bars_dataset, small_config
from workbench.core.callbacks import CollectingCallback
from workbench.core.events import FindingRaised, ProjectionReady
from workbench.core.projection import (
    PROJECTIONS,
    ProjectionJob,
    ProjectionMonitor,
    ProjectionWorker,
    no_structure_finding,
    project,
    separability_scores,
    structure_verdict,
)
from workbench.core.training.engine import train


def _clusters(n_per_class: int = 60, classes: int = 3, dims: int = 64, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, dims))
    labels = np.repeat(np.arange(classes), n_per_class)
    return centres[labels] + rng.normal(0, spread, (len(labels), dims)), labels


def test_registry_lists_the_three_methods() -> None:
    assert set(PROJECTIONS) >= {"tsne", "umap", "pca"}
    assert PROJECTIONS["tsne"].streams and not PROJECTIONS["pca"].streams
    with pytest.raises(ValueError):
        project(np.zeros((5, 3)), "mds")


def test_pca_and_tsne_give_two_dimensional_layouts_that_keep_clusters() -> None:
    features, labels = _clusters()
    for method in ("pca", "tsne"):
        points = project(features, method, seed=0)
        assert points.shape == (len(labels), 2) and np.isfinite(points).all()
        assert separability_scores(points, labels)["knn_accuracy"] >= 0.95, method


def test_tsne_streams_partial_layouts_and_stops_when_asked() -> None:
    features, _ = _clusters(40)
    partials: list[int] = []
    project(features, "tsne", on_partial=lambda emb, it: partials.append(it), partial_every=50, n_iter=150)
    assert len(partials) >= 5 and partials == sorted(partials)
    calls = []
    with pytest.raises(InterruptedError):
        project(features, "tsne", on_partial=lambda emb, it: calls.append(it), should_stop=lambda: len(calls) >= 2,
                partial_every=10)
    assert len(calls) == 2


def test_separability_scores_and_the_fig_3_case() -> None:
    features, labels = _clusters()
    good = separability_scores(features, labels)
    assert good["knn_accuracy"] > 0.95 and good["silhouette"] > 0.5
    assert no_structure_finding(good, accuracy=0.97) is None
    rng = np.random.default_rng(1)
    shapeless = separability_scores(rng.normal(size=(300, 32)), np.repeat(np.arange(10), 30))
    assert shapeless["knn_accuracy"] < 0.3 and shapeless["silhouette"] < 0.1
    finding = no_structure_finding(shapeless, accuracy=0.35)  # the paper's STL-10 example: 35%, chance 10%
    assert finding is not None and finding.severity == "warning" and finding.code == "no-class-structure"
    assert no_structure_finding(shapeless, accuracy=0.11) is None  # at chance: underfitting, not Fig. 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_separability_scores_are_scikit_learns(seed: int) -> None:
    """The numpy k-NN accuracy and silhouette give scikit-learn's numbers: KNeighborsClassifier(5) scored with
    cross_val_score on the same folds, and silhouette_score, on clusters of every overlap and odd class sizes."""
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import PredefinedSplit, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    from workbench.core.projection.scores import knn_accuracy, silhouette, squared_distances, stratified_folds

    rng = np.random.default_rng(seed)
    classes, dims = 3 + 3 * seed, 8 + 20 * seed
    labels = rng.integers(0, classes, 150 + 100 * seed)
    labels = labels[np.bincount(labels)[labels] >= 5]
    x = rng.normal(0, 1.5 * seed, (classes, dims))[labels] + rng.normal(size=(len(labels), dims))
    folds = stratified_folds(labels, 5, seed)
    assert np.ptp(np.bincount(folds)) <= 1  # folds of one size, give or take one
    for c in np.unique(labels):  # every fold holds every class with five or more samples
        assert set(folds[labels == c]) == set(range(5))
    squared = squared_distances(x)
    expected = cross_val_score(KNeighborsClassifier(5), x, labels, cv=PredefinedSplit(folds)).mean()
    assert knn_accuracy(x, labels, folds, 5) == pytest.approx(expected, abs=1e-12)
    assert silhouette(np.sqrt(squared), labels) == pytest.approx(silhouette_score(x, labels), abs=1e-9)


def test_worker_emits_partial_and_final_events_without_blocking() -> None:
    features, labels = _clusters(50)
    events: list = []
    results: list[int] = []
    worker = ProjectionWorker(events.append, "tsne", partial_interval_s=0.0,
                              on_result=lambda job, emb, scores: results.append(job.epoch))
    started = time.perf_counter()
    worker.submit(ProjectionJob(1, features, labels))
    assert time.perf_counter() - started < 0.1  # submitting never waits for the projection
    worker.submit(ProjectionJob(2, features, labels, final=True))
    worker.close(wait_s=60)
    final = [e for e in events if isinstance(e, ProjectionReady) and not e.partial]
    assert final and final[-1].epoch == 2 and len(final[-1].points) == len(labels)
    assert final[-1].labels == tuple(int(v) for v in labels)
    assert final[-1].scores["knn_accuracy"] > 0.9
    assert 2 in results
    assert any(e.partial for e in events)
    assert not worker.alive


def test_worker_close_without_waiting_abandons_the_job() -> None:
    features, labels = _clusters(200, classes=5)
    events: list = []
    worker = ProjectionWorker(events.append, "tsne")
    worker.submit(ProjectionJob(1, features, labels, final=True))
    time.sleep(0.2)
    started = time.perf_counter()
    worker.close(wait_s=0.0)
    assert time.perf_counter() - started < 5.0
    assert not any(isinstance(e, ProjectionReady) and not e.partial for e in events)


def test_worker_fits_in_a_helper_process_and_a_stop_ends_it(monkeypatch) -> None:
    import os

    features, labels = _clusters(40)
    events: list = []
    worker = ProjectionWorker(events.append, "tsne", partial_interval_s=0.0, prestart=False)
    worker.submit(ProjectionJob(1, features, labels))  # a live projection, during training: always a process
    worker.close(wait_s=120)
    assert [e.epoch for e in events if not e.partial] == [1]
    assert worker.helper_pids and os.getpid() not in worker.helper_pids  # the fit ran in another process
    monkeypatch.setattr("workbench.core.host._interactive", True)  # beside a window, the final one too
    # A stop (the run's cancel, or its end without waiting) ends the helper mid-fit, and nothing more is emitted.
    features, labels = _clusters(400, classes=5)
    events.clear()
    worker = ProjectionWorker(events.append, "tsne", prestart=False)
    worker.submit(ProjectionJob(1, features, labels, final=True))
    deadline = time.monotonic() + 120
    while not worker.helper_pids and time.monotonic() < deadline:
        time.sleep(0.05)
    [pid] = worker.helper_pids
    assert pid != os.getpid()
    started = time.perf_counter()
    worker.close(wait_s=0.0)
    assert time.perf_counter() - started < 5.0 and not worker.alive
    assert not any(isinstance(e, ProjectionReady) and not e.partial for e in events)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # ended and reaped


def test_worker_fits_in_a_thread_where_helpers_run_in_process_and_headless_after_training(monkeypatch) -> None:
    import os

    monkeypatch.setattr("workbench.core.host._interactive", False)  # headless (a window's test may have declared one)
    features, labels = _clusters(30)
    events: list = []
    worker = ProjectionWorker(events.append, "pca", prestart=False)  # headless: the final one needs no process
    worker.submit(ProjectionJob(2, features, labels, final=True))
    worker.close(wait_s=60)
    assert [e.epoch for e in events if not e.partial] == [2] and worker.helper_pids == [os.getpid()]
    monkeypatch.setenv("WORKBENCH_DIAGNOSTICS_IN_PROCESS", "1")
    events.clear()
    worker = ProjectionWorker(events.append, "pca")
    worker.submit(ProjectionJob(3, features, labels))
    worker.close(wait_s=60)
    assert [e.epoch for e in events if not e.partial] == [3] and worker.helper_pids == [os.getpid()]


def test_headless_runs_draw_no_live_layouts_but_their_final_one(tmp_path: Path) -> None:
    """Without a window nobody watches a layout form: no live projections take cores from training; the final
    one (PCA here, which fits at once) is drawn and judged."""
    config = small_config(bars_dataset(tmp_path / "data"), tmp_path / "runs", epochs=3)
    callback = CollectingCallback()
    monitor = ProjectionMonitor(every=1, method="pca", max_points=100)
    train(config, callback, monitors=[monitor])
    assert monitor.submitted == [3]
    assert [e.epoch for e in callback.of_type(ProjectionReady) if not e.partial] == [3]


def test_monitor_projects_every_epoch_and_at_the_end_of_a_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("workbench.core.host._interactive", True)  # a window shows the live layouts
    config = small_config(bars_dataset(tmp_path / "data"), tmp_path / "runs", epochs=3)
    callback = CollectingCallback()
    monitor = ProjectionMonitor(every=1, method="pca", max_points=100)
    result = train(config, callback, monitors=[monitor])
    ready = [e for e in callback.of_type(ProjectionReady) if not e.partial]
    epochs = [e.epoch for e in ready]
    # One job per epoch is submitted; a job still waiting when a newer one arrives is dropped (latest wins),
    # so on a busy machine an intermediate epoch may be skipped, never the final one.
    assert monitor.submitted == [1, 2, 3]
    assert epochs == sorted(set(epochs)) and epochs[-1] == 3
    assert all(e.method == "pca" and len(e.points) == len(ready[0].points) for e in ready)
    assert [h["epoch"] for h in monitor.history] == epochs
    assert all(np.isfinite(h["knn_accuracy"]) for h in monitor.history)
    # Each point names its split.csv row: a validation image whose class is the point's label.
    with (result.run_dir / "split.csv").open(encoding="utf-8", newline="") as handle:
        manifest = list(csv.DictReader(handle))
    last = ready[-1]
    assert len(last.indices) == len(last.points) == len(set(last.indices))
    classes = sorted({row["label"] for row in manifest})
    assert all(manifest[row]["split"] == "val" for row in last.indices)
    assert [classes.index(manifest[row]["label"]) for row in last.indices] == list(last.labels)
    names = [type(e).__name__ for e in callback.events]
    # the final layout is made after the run was reported finished, and the engine waited for it
    assert names.index("RunFinished") < len(names) - 1 - names[::-1].index("ProjectionReady")
    [verdict] = callback.of_type(FindingRaised)  # checklist item 5, with the numbers it rests on
    assert (verdict.code, verdict.severity) == ("feature-structure", "info"), verdict.evidence.get("basis")


@pytest.mark.slow
def test_umap_warm_up_runs_in_a_daemon_thread_and_umap_projects() -> None:
    from workbench.core.projection import wait_for_umap, warm_up_umap

    thread = warm_up_umap()
    assert thread.daemon and thread is warm_up_umap() and isinstance(thread, threading.Thread)
    assert wait_for_umap(timeout=300)
    features, labels = _clusters(40)
    points = project(features, "umap", seed=0)
    assert points.shape == (len(labels), 2)
    assert separability_scores(points, labels)["knn_accuracy"] >= 0.95


def test_feature_structure_passes_only_with_both_numbers() -> None:
    good = {"knn_accuracy": 0.92, "silhouette": 0.31, "chance": 0.25, "points": 200.0}
    passed = structure_verdict(good, accuracy=0.9)
    assert passed is not None and passed.severity == "info" and passed.evidence["verdict"] == "passed"
    assert "k-NN accuracy 0.92" in passed.evidence["basis"] and "silhouette 0.31 ≥ 0.10" in passed.evidence["basis"]
    # The case: silhouette -0.09 is no pass, whatever the k-NN accuracy.
    flat = structure_verdict({**good, "silhouette": -0.09}, accuracy=0.9)
    assert flat is not None and flat.severity == "warning" and "silhouette -0.09 < 0.10" in flat.evidence["basis"]
    # k-NN not clearly above the majority share on few points: no pass either.
    weak = structure_verdict({"knn_accuracy": 0.4, "silhouette": 0.2, "chance": 0.3, "points": 40.0}, accuracy=0.4)
    assert weak is not None and weak.severity == "warning" and "not above majority 0.30" in weak.evidence["basis"]


def test_the_end_of_run_feature_check_reads_the_last_validation_pass(tmp_path: Path, monkeypatch) -> None:
    """The final epoch's validation pass keeps its penultimate features; the feature check after the run takes its
    points from there, the same numbers the model gives them, and runs no forward pass of its own."""
    import workbench.core.training.loop as loop

    config = small_config(bars_dataset(tmp_path / "data"), tmp_path / "runs", epochs=2)
    calls: list[tuple[int, bool]] = []
    real = loop.predict

    def counted(model, source, *args, **kwargs):
        calls.append((len(source.indices), bool(kwargs.get("with_features") or (len(args) > 1 and args[1]))))
        return real(model, source, *args, **kwargs)

    monkeypatch.setattr(loop, "predict", counted)
    monitor = ProjectionMonitor(every=0, method="tsne", max_points=20)
    callback = CollectingCallback()
    result = train(config, callback, monitors=[monitor])
    assert result.status == "completed"
    validation = len(monitor._source.indices)
    assert validation < len(monitor._last_validation["rows"])  # the projected points are a subset
    assert (validation, True) not in calls  # no pass of its own over the projected points
    [verdict] = callback.of_type(FindingRaised)
    with np.load(result.run_dir / "projection_features.npz") as saved:
        kept = saved["features"].astype(np.float32)
    again = real(monitor.context.model, monitor._source, with_features=True)["features"]
    assert np.allclose(kept, again, atol=1e-2 * max(1.0, float(np.abs(again).max())))  # float16 on disk
    assert verdict.code == "feature-structure"
