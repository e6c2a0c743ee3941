"""CPU convolution weight gradients by im2col and matrix product: the same gradients as PyTorch's, the layers chosen
by their timings (kept per machine), and a run that trains with them as it trains without."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from workbench.core.training import conv_gradients
from workbench.core.training.conv_gradients import (
    ConvShape,
    eligible,
    layer_shapes,
    matmul_weight_gradients,
    plan_conv_gradients,
    weight_grad_by_matmul,
    weight_grad_by_onednn,
)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "bias", "size"), [
    (3, 1, 1, 1, False, 8),
    (3, 2, 1, 1, True, 9),  # odd size, stride 2
    (1, 2, 0, 1, False, 8),  # a ResNet downsampling shortcut
    ((3, 1), 1, (1, 0), 1, True, 7),  # a non-square kernel
    (3, 1, 2, 2, False, 6),  # dilated
    (3, 1, 1, 1, False, 1),  # one pixel, as ResNet-18's last stage at 32 px
])
def test_switched_convolutions_give_the_exact_gradients(kernel, stride, padding, dilation, bias, size,
                                                        channels_last) -> None:
    """Against PyTorch's own convolution in float64 (the reference; in float32, PyTorch 2.14's channels-last
    weight gradient of a 1×1 stride-2 layer with 2 to 5 input channels is wrong, which this test found)."""
    torch.manual_seed(0)
    reference = nn.Conv2d(5, 7, kernel, stride=stride, padding=padding, dilation=dilation, bias=bias).double()
    switched = copy.deepcopy(reference).float()
    x = torch.randn(4, 5, size, size)
    x_switched = x.clone()
    if channels_last:
        switched = switched.to(memory_format=torch.channels_last)
        x_switched = x_switched.contiguous(memory_format=torch.channels_last)
    x_reference, x_switched = x.double().requires_grad_(), x_switched.requires_grad_()
    out_reference = reference(x_reference)
    grad_out = torch.randn(out_reference.shape, dtype=torch.float64)
    out_reference.backward(grad_out)
    with matmul_weight_gradients([switched]):
        out = switched(x_switched)
        assert out.grad_fn is not None and "MatmulWeightGrad" in type(out.grad_fn).__name__
        out.backward(grad_out.float().contiguous(memory_format=torch.channels_last if channels_last
                                                 else torch.contiguous_format))
    torch.testing.assert_close(switched.weight.grad.double(), reference.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(x_switched.grad.double(), x_reference.grad, rtol=1e-4, atol=1e-4)
    if bias:
        torch.testing.assert_close(switched.bias.grad.double(), reference.bias.grad, rtol=1e-4, atol=1e-4)


def test_the_matrix_product_is_onednns_weight_gradient_on_resnet_shapes() -> None:
    torch.manual_seed(1)
    for ci, co, size, stride in ((64, 64, 8, 1), (256, 512, 2, 2), (512, 512, 1, 1)):
        x = torch.randn(16, ci, size, size).contiguous(memory_format=torch.channels_last)
        weight = torch.randn(co, ci, 3, 3).contiguous(memory_format=torch.channels_last)
        grad_out = torch.randn(16, co, (size + 2 - 3) // stride + 1, (size + 2 - 3) // stride + 1)
        expected = weight_grad_by_onednn(x, grad_out, weight, (stride, stride), (1, 1), (1, 1))
        got = weight_grad_by_matmul(x, grad_out, weight.shape, (stride, stride), (1, 1), (1, 1))
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_outside_the_block_the_layers_are_plain_convolutions_again() -> None:
    conv = nn.Conv2d(3, 4, 3, padding=1)
    state = {k: v.clone() for k, v in conv.state_dict().items()}
    with matmul_weight_gradients([conv]):
        assert "forward" in conv.__dict__
        with torch.no_grad():  # nothing to differentiate: PyTorch's own path
            assert conv(torch.randn(1, 3, 5, 5)).grad_fn is None
    assert "forward" not in conv.__dict__
    assert "MatmulWeightGrad" not in type(conv(torch.randn(1, 3, 5, 5)).grad_fn).__name__
    assert all(torch.equal(state[k], v) for k, v in conv.state_dict().items())
    assert "forward" not in copy.deepcopy(conv).__dict__


def test_only_plain_trainable_ungrouped_convolutions_are_eligible() -> None:
    frozen = nn.Conv2d(3, 4, 3)
    frozen.weight.requires_grad_(False)
    assert eligible(nn.Conv2d(3, 4, 3, padding=1))
    assert not eligible(nn.Conv2d(4, 4, 3, groups=4))  # depthwise
    assert not eligible(nn.Conv2d(3, 4, 3, padding="same"))
    assert not eligible(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"))
    assert not eligible(frozen)
    assert not eligible(nn.Linear(3, 4))


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(16, 16, 3, padding=1, groups=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 3))


def test_layer_shapes_are_read_without_touching_batch_norm_statistics() -> None:
    net = _net().train()
    before = net[1].running_mean.clone(), int(net[1].num_batches_tracked)
    shapes = layer_shapes(net, torch.randn(1, 3, 12, 12), batch=32)
    assert net.training and torch.equal(net[1].running_mean, before[0]) and int(net[1].num_batches_tracked) == before[1]
    assert list(shapes) == [net[0], net[3]]  # the grouped convolution is not eligible
    assert shapes[net[0]] == ConvShape(32, 3, 8, (3, 3), (1, 1), (1, 1), (1, 1), 12, 12, False)
    assert shapes[net[3]].height == 12 and shapes[net[3]].out_size == (6, 6)


@pytest.mark.parametrize("first_layer", [(0.010, 0.009), (0.0002, 0.0001)])  # too little faster; too little saved
def test_the_plan_switches_the_layers_the_timings_favour_and_keeps_the_timings(monkeypatch, tmp_path,
                                                                               first_layer) -> None:
    """Timings (oneDNN, matrix product) of 16 images: the first layer gains too little (a step of 32 images is
    judged at twice those times), the second much. The second plan, in a new process's place, reads the kept
    timings."""
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    net = _net()
    timed: list[ConvShape] = []

    def timer(shape: ConvShape) -> tuple[float, float]:
        timed.append(shape)
        return first_layer if shape.in_channels == 3 else (0.040, 0.005)

    plan = plan_conv_gradients(net, torch.randn(1, 3, 12, 12), 32, timer=timer)
    assert plan.modules == (net[3],) and plan.layers == 2 and len(timed) == 2
    assert {shape.batch for shape in timed} == {conv_gradients.TIMING_BATCH}
    assert plan.native_seconds == pytest.approx(0.040) and plan.matmul_seconds == pytest.approx(0.005)
    assert "1 of 2 layers" in plan.summary() and "40 → 5 ms for 16 images" in plan.summary()
    again = plan_conv_gradients(net, torch.randn(1, 3, 12, 12), 32, timer=lambda shape: pytest.fail("timed again"))
    assert again.modules == (net[3],) and again.timed_seconds == 0.0 and "kept" in again.summary()
    assert len(timed) == 2 and list((tmp_path / "conv-gradients").glob("*.json"))


def test_a_layer_whose_im2col_matrix_is_too_large_keeps_onednns_kernel(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(conv_gradients, "MAX_UNFOLD_BYTES", 1000)
    plan = plan_conv_gradients(_net(), torch.randn(1, 3, 12, 12), 32, timer=lambda shape: (1.0, 0.1))
    assert plan.modules == () and plan.layers == 2
    assert plan.summary() == "CPU convolution gradients: PyTorch's own kernel in all 2 layers (none small enough to time)"


def test_real_timings_of_both_kernels_are_positive() -> None:
    native, matmul = conv_gradients.time_both(ConvShape(8, 16, 16, (3, 3), (1, 1), (1, 1), (1, 1), 4, 4, True))
    assert 0 < native < 1 and 0 < matmul < 1


def test_a_cpu_run_trains_with_the_switched_layers_as_it_trains_without(tiny_project, monkeypatch, tmp_path) -> None:
    """Every eligible layer switched (timings made to favour it): the same losses, to float rounding, as a run with
    the setting off; the log names the switched layers; after the run the model's layers are plain again."""
    from workbench.core.callbacks import CollectingCallback
    from workbench.core.config import with_updates
    from workbench.core.events import EpochEnded, LogMessage
    from workbench.core.training.engine import train

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))  # no timings kept from other tests
    monkeypatch.setattr(conv_gradients, "time_both", lambda shape: (1.0, 0.1))
    switched_during: list[int] = []

    def losses(on: bool) -> tuple[list[float], list[str]]:
        collected = CollectingCallback()
        config = with_updates(tiny_project, {"training.device": "cpu", "training.tuned_conv_gradients": on})
        original = conv_gradients._matmul_forward

        def counting(module, x):
            switched_during.append(1)
            return original(module, x)

        monkeypatch.setattr(conv_gradients, "_matmul_forward", counting)
        result = train(config, collected)
        assert result.status == "completed", result.reason
        logs = [e.message for e in collected.events if isinstance(e, LogMessage)]
        return [e.train_loss for e in collected.events if isinstance(e, EpochEnded)], logs

    plain, plain_logs = losses(False)
    assert not switched_during and not any("convolution gradients" in m for m in plain_logs)
    tuned, tuned_logs = losses(True)
    assert switched_during  # the training steps went through the matrix product
    assert any("layers compute their weight gradient by matrix product" in m for m in tuned_logs)
    assert tuned == pytest.approx(plain, rel=1e-4)
