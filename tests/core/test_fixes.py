"""Coherent fixes: each fix is a named patch shown before Apply, recorded, undoable, and never silently undoes
an earlier one (issue 14)."""

from __future__ import annotations

import pytest

from workbench.core.config import ProjectConfig, load_config, save_config
from workbench.core.diagnostics.findings import Finding
from workbench.core.fixes import (
    FixConflict,
    applied_fixes,
    apply_fix,
    coherent_patch,
    lr_from_finder,
    plan_fix,
    undo_fix,
)


def test_plan_names_each_change_before_apply() -> None:
    config = ProjectConfig()
    config.training.lr = 0.025
    plan = plan_fix(config, {"training.lr": 0.0025}, "loss-diverging", "The training loss is diverging")
    assert plan.text() == "training.lr 0.025 → 0.0025"
    assert not plan.conflicts


def test_undo_restores_the_settings_and_the_record(tmp_path) -> None:
    config = ProjectConfig()
    config.training.lr = 0.025
    fixed = apply_fix(config, plan_fix(config, {"training.lr": 0.0025, "training.class_weighting": True}, "x", "X"))
    assert fixed.training.lr == 0.0025 and fixed.training.class_weighting
    save_config(fixed, tmp_path / "p.toml")  # the record survives a save and a re-open
    reopened = load_config(tmp_path / "p.toml")
    assert [f.text() for f in applied_fixes(reopened)] \
        == ["training.lr 0.025 → 0.0025, training.class_weighting false → true"]
    undone, fix = undo_fix(reopened)
    assert undone.training.lr == 0.025 and not undone.training.class_weighting
    assert fix.code == "x" and undone.diagnostics.applied_fixes == []
    with pytest.raises(ValueError, match="no applied fix"):
        undo_fix(undone)


def test_undo_refuses_when_the_setting_was_changed_by_hand_since() -> None:
    config = ProjectConfig()
    fixed = apply_fix(config, plan_fix(config, {"training.lr": 1e-4}, "x", "X"))
    fixed.training.lr = 0.5
    with pytest.raises(ValueError, match=r"training\.lr is now 0\.5"):
        undo_fix(fixed)


def test_a_fix_that_reverses_an_earlier_one_is_refused_unless_forced() -> None:
    config = ProjectConfig()
    config.model.small_cnn.width = 64
    halved = apply_fix(config, plan_fix(config, {"model.small_cnn.width": 32}, "model-too-large", "Model too large"))
    plan = plan_fix(halved, {"model.small_cnn.width": 64}, "underfitting", "Underfitting")
    assert plan.conflicts and "Model too large" in plan.conflicts[0]
    with pytest.raises(FixConflict, match=r"model\.small_cnn\.width"):
        apply_fix(halved, plan)
    assert apply_fix(halved, plan, force=True).model.small_cnn.width == 64
    # The check itself holds back the conflicting key, and says so.
    patch, note = coherent_patch(halved, {"model.small_cnn.width": 64}, "underfitting")
    assert patch == {} and "undo an earlier fix" in note
    # A change in the same direction (divide the rate again after divergence) is no conflict.
    config.training.lr = 0.1
    once = apply_fix(config, plan_fix(config, {"training.lr": 0.01}, "loss-diverging", "Diverging"))
    assert not plan_fix(once, {"training.lr": 0.001}, "non-finite-loss").conflicts


def test_the_learning_rate_finders_choice_is_known_and_kept() -> None:
    config = ProjectConfig()
    config.training.lr = 0.025
    assert lr_from_finder(config) is None
    found = apply_fix(config, plan_fix(config, {"training.lr": 0.003}, "lr-range-test", "Suggested learning rate"))
    assert lr_from_finder(found) == 0.003
    plan = plan_fix(found, {"training.lr": 0.0003}, "loss-not-decreasing")
    assert plan.conflicts and "learning-rate finder" in plan.conflicts[0]
    found.training.lr = 0.01  # changed by hand: the finder's choice no longer stands
    assert lr_from_finder(found) is None


def test_finding_history_tells_its_life() -> None:
    base = Finding("overfitting", "warning", "Overfitting since epoch 3", "e").raised_at(6)
    later = base.updated(8, "still rising").resolved(15, "the validation loss fell to a new best (0.31)")
    assert later.status == "resolved" and not later.open and base.open
    assert later.story() == ("raised at epoch 6: Overfitting since epoch 3; updated at epoch 8: still rising; "
                             "resolved at epoch 15: the validation loss fell to a new best (0.31)")
    event = later.to_event()
    assert event.status == "resolved" and len(event.history) == 3
