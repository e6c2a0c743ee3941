"""The Model step's scaling controls: the resolution multiplier sets the input size from the architecture's base
side, and width, depth and resolution each change the live parameter count or FLOPs as they should."""

from __future__ import annotations

import pytest

TIMEOUT = 60_000


@pytest.fixture
def model_pane(qtbot, make_window, engine_loaded):
    window = make_window()
    window.project.update_many({"model.architecture": "small_cnn", "preprocessing.image_size": 32})
    window.show_step("model")
    pane = window.panes["model"]
    qtbot.waitUntil(lambda: pane.summary is not None and pane.summary.input_shape[-1] == 32, timeout=TIMEOUT)
    return window, pane


def wait_for_summary(qtbot, pane, side: int, **expected: int) -> None:
    qtbot.waitUntil(lambda: pane.summary is not None and pane.summary.input_shape[-1] == side
                    and all(getattr(pane.summary, k) == v for k, v in expected.items()), timeout=TIMEOUT)


def test_resolution_multiplier_sets_the_input_size_and_flops_follow(qtbot, model_pane) -> None:
    window, pane = model_pane
    assert pane.resolution.multiplier() == pytest.approx(1.0)  # 32 px is the small CNN's base side
    params, flops = pane.summary.parameter_count, pane.summary.flops
    window.project.update("preprocessing.image_size", 64)  # set in the Samples step, the one place for it
    assert "2.00 ×" in pane.resolution.result.text()
    wait_for_summary(qtbot, pane, 64)
    assert pane.summary.parameter_count == params  # resolution adds compute, not weights
    assert 3.5 < pane.summary.flops / flops < 4.5  # convolution cost grows with the square of the side
    assert "64 × 64 px" in pane.resolution.result.text()

    # Width ×2 roughly quadruples the convolution weights; depth ×2 adds layers.
    pane.cnn_form.editor("width_multiplier").setValue(2.0)
    wait_for_summary(qtbot, pane, 64)
    qtbot.waitUntil(lambda: pane.summary.parameter_count > 3 * params, timeout=TIMEOUT)
    wide = pane.summary.parameter_count
    pane.cnn_form.editor("depth_multiplier").setValue(2.0)
    qtbot.waitUntil(lambda: pane.summary.parameter_count > wide, timeout=TIMEOUT)


def test_multiplier_follows_the_architecture_base_and_the_samples_step(qtbot, model_pane) -> None:
    window, pane = model_pane
    window.project.update("preprocessing.image_size", 48)  # e.g. set in the Samples step
    assert pane.resolution.multiplier() == pytest.approx(1.5) and "1.50 ×" in pane.resolution.result.text()
    window.project.update("model.architecture", "test_resnet")  # base side 160
    assert pane.resolution.multiplier() == pytest.approx(48 / 160, abs=0.01)
    assert "0.30 × this architecture's base 160 px" in pane.resolution.result.text()
    pane.resolution.change.click()  # the way to change it leads to the Samples step
    assert window.current_pane().key == "samples"


def test_timm_test_models_are_listed_only_as_a_developer_option(qtbot, model_pane) -> None:
    window, pane = model_pane
    names = pane.picker.visible_names()
    assert "resnet18" in names and not [n for n in names if n.startswith("test_")]
    window.developer_action.trigger()  # View → Developer models
    assert {"test_resnet", "test_vit"} <= set(pane.picker.visible_names())
    assert str(window.settings.value("developer/models")).lower() == "true"
    window.developer_action.trigger()
    window.project.update("model.architecture", "test_vit")  # a project that uses one still shows it
    assert [n for n in pane.picker.visible_names() if n.startswith("test_")] == ["test_vit"]
