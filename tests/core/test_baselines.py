"""Baselines (issue 14): majority class and chance are shown with every score, and a run whose best validation
accuracy is not above always answering the commonest class is told so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.diag_fixtures import digits, small_config, write_classes
from workbench.core.callbacks import CollectingCallback
from workbench.core.diagnostics.baseline_monitor import BaselineMonitor, baseline_finding
from workbench.core.evaluation.baselines import baseline_line, baselines, wilson_interval
from workbench.core.events import FindingRaised, RunStarted
from workbench.core.training.engine import train


def test_majority_and_chance_baselines() -> None:
    base = baselines([0] * 23 + [1] * 7 + [2] * 5 + [3] * 5, [0] * 23 + [1, 2, 3] * 5 + [0, 0], "abcd")
    assert base["majority_class"] == "a" and base["majority_accuracy"] == pytest.approx(25 / 40)
    assert base["chance_balanced_accuracy"] == 0.25
    lo, hi = wilson_interval(23, 40)
    assert lo < 23 / 40 < hi and hi - lo == pytest.approx(0.29, abs=0.02)
    assert "NOT clearly above" in baseline_line(base, 0.6)


def test_the_finding_judges_with_the_interval() -> None:
    base = {"majority_class": "a", "majority_accuracy": 0.575, "images": 200, "chance_balanced_accuracy": 0.25}
    below = baseline_finding({"epoch": 4, "accuracy": 0.573, "balanced_accuracy": 0.25}, base)
    assert below is not None and "no better than" in below.title
    close = baseline_finding({"epoch": 4, "accuracy": 0.60, "balanced_accuracy": 0.3}, base)
    assert close is not None and "not clearly above" in close.title  # 0.60 on 200 images: interval 0.53-0.67
    assert baseline_finding({"epoch": 4, "accuracy": 0.70, "balanced_accuracy": 0.5}, base) is None


def test_a_run_no_better_than_the_majority_class_is_told_so(tmp_path: Path) -> None:
    # Real digit scans, one class 4x commoner, and a rate far too low to learn anything: the model answers the
    # priors, and its accuracy sits at the majority share.
    images = digits((0, 1, 2), 100)
    images["d1"], images["d2"] = images["d1"][:25], images["d2"][:25]
    data = write_classes(tmp_path / "data", images)
    config = small_config(data, tmp_path / "runs", epochs=2, lr=1e-7)
    events = CollectingCallback()
    train(config, events, monitors=[BaselineMonitor()])
    [started] = events.of_type(RunStarted)
    assert started.baselines["majority_class"] == "d0" and started.baselines["majority_accuracy"] > 0.6
    [found] = [e for e in events.of_type(FindingRaised) if e.code == "below-baseline"]
    assert found.severity == "warning" and found.evidence["majority_accuracy"] > 0.6

    # The same data with a workable rate learns, and the check stays quiet (the number it rests on: the interval).
    learnt = small_config(data, tmp_path / "runs2", epochs=6, lr=3e-3)
    events = CollectingCallback()
    train(learnt, events, monitors=[BaselineMonitor()])
    assert [e for e in events.of_type(FindingRaised) if e.code == "below-baseline"] == []
