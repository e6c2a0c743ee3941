"""Convolution weight gradients on the CPU by im2col and one matrix product, in the layers where that is faster.

Where oneDNN has no blocked kernel for a convolution's weight gradient (CPUs without AVX-512), it falls back to
a generic GEMM-based one (`x64:gemm:jit`), which is several times slower than it need be on layers with many
channels and few pixels. ResNet-18 at 32 px spends 40 ms a step on the weight gradient of a 512×512 3×3 layer
that sees 1×1 pixel; that gradient is one (512 × 64) · (64 × 4,608) matrix product, 5 ms through `unfold` and
`matmul`. A whole training step took 0.27 s, and 0.145 s with the last two stages switched (2 cores, AVX2).

Which layers gain depends on the CPU, its threads and the shapes, so each plain `nn.Conv2d` of a CPU run is
timed both ways once, on its real input shape, and only those where the matrix product takes at most `GAIN` of
oneDNN's time use it, for the weight gradient only: the forward pass and the input's gradient stay oneDNN's.
The two agree to float rounding (tests). The timings are kept per machine in the cache folder
(`conv-gradients/`), so a later run with the same layer shapes times nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.models.evaluating import evaluating

log = logging.getLogger(__name__)

# The matrix product must take at most this share of oneDNN's time. The clear wins measure 0.07-0.5; layers
# between 0.6 and 0.75 at 16 images measured 0.8-1.0 at 64 (more memory traffic, and the input's gradient is
# then a call of its own), and switching three of them left ResNet-18 at 128 px no faster (0.98x).
GAIN = 0.6
MAX_UNFOLD_BYTES = 64 * 2**20  # the im2col matrix of one batch; a layer that needs more keeps oneDNN's kernel
REPEATS = 2  # timed calls of each kernel, interleaved, after one warm-up call each; the fastest counts (one
# call each where the ratio is far from GAIN)
TIMING_BATCH = 16  # images per timed call: both kernels' times grow with the batch alike (ratios within ~0.1 of
# those at 64 on ResNet-18's layers), and planning a small CNN at 64 took 0.8 s
MIN_SAVING = 1e-3  # seconds a training step must gain in a layer: below it the autograd function's own cost
# (0.1 ms forward and backward, measured on a 28×672 1×1 layer) and the timings' noise outweigh the gain
HOPELESS = 4.0  # a matrix product whose first call takes this many times oneDNN's timed call is not timed again
Pair = tuple[int, int]


@dataclass(frozen=True)
class ConvShape:
    """One convolution's weight-gradient problem: the batch it sees and its geometry."""

    batch: int
    in_channels: int
    out_channels: int
    kernel: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    height: int
    width: int
    channels_last: bool

    @property
    def out_size(self) -> Pair:
        return tuple(  # type: ignore[return-value]
            (size + 2 * pad - dil * (k - 1) - 1) // step + 1
            for size, pad, dil, k, step in zip((self.height, self.width), self.padding, self.dilation, self.kernel,
                                               self.stride, strict=True))

    @property
    def unfold_bytes(self) -> int:
        out_h, out_w = self.out_size
        return 4 * self.batch * self.in_channels * self.kernel[0] * self.kernel[1] * out_h * out_w

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def weight_grad_by_matmul(x: torch.Tensor, grad_out: torch.Tensor, weight_shape: torch.Size | tuple[int, ...],
                          stride: Pair, padding: Pair, dilation: Pair) -> torch.Tensor:
    """dL/dW of a `groups=1` convolution: the output gradients times the input's im2col columns, summed over the
    batch and the output pixels in one matrix product."""
    out_channels, in_channels, kh, kw = weight_shape
    columns = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)  # [B, in·kh·kw, pixels]
    grads = grad_out.flatten(2)  # [B, out, pixels]
    product = grads.transpose(0, 1).reshape(out_channels, -1) @ columns.transpose(1, 2).reshape(-1, in_channels * kh * kw)
    return product.view(out_channels, in_channels, kh, kw)


def weight_grad_by_onednn(x: torch.Tensor, grad_out: torch.Tensor, weight: torch.Tensor, stride: Pair,
                          padding: Pair, dilation: Pair) -> torch.Tensor:
    """dL/dW as PyTorch computes it for a CPU convolution (oneDNN where the build has it)."""
    return torch.ops.aten.convolution_backward(grad_out, x, weight, None, list(stride), list(padding), list(dilation),
                                               False, [0, 0], 1, [False, True, False])[1]


class _MatmulWeightGradConv2d(torch.autograd.Function):
    """F.conv2d whose weight gradient is `weight_grad_by_matmul`; the input's gradient is PyTorch's own."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation):  # type: ignore[no-untyped-def]
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, dilation)
        return F.conv2d(x, weight, bias, stride, padding, dilation)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # type: ignore[no-untyped-def]
        x, weight = ctx.saved_tensors
        stride, padding, dilation = ctx.geometry
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad_out, x, weight, None, list(stride), list(padding), list(dilation), False, [0, 0], 1,
                [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            grad_w = weight_grad_by_matmul(x, grad_out, weight.shape, stride, padding, dilation)
        if ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None


def _matmul_forward(module: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    if not (torch.is_grad_enabled() and module.weight.requires_grad) or x.device.type != "cpu":
        return module._conv_forward(x, module.weight, module.bias)  # nothing to differentiate: the usual path
    return _MatmulWeightGradConv2d.apply(x, module.weight, module.bias, module.stride, module.padding, module.dilation)


@contextlib.contextmanager
def matmul_weight_gradients(modules: Sequence[nn.Conv2d]) -> Iterator[None]:
    """Within the block, `modules` compute their weight gradients by `weight_grad_by_matmul`; afterwards they are
    plain `nn.Conv2d` again (nothing of it reaches a checkpoint, a copy of the model or an export)."""
    for module in modules:
        module.forward = functools.partial(_matmul_forward, module)  # the instance's attribute shadows the class's
    try:
        yield
    finally:
        for module in modules:
            module.__dict__.pop("forward", None)


def eligible(module: nn.Module) -> bool:
    """A plain trainable 2-D convolution the matrix product covers (no groups, zero padding given in pixels)."""
    return (type(module) is nn.Conv2d and module.groups == 1 and module.padding_mode == "zeros"
            and not isinstance(module.padding, str) and module.weight.requires_grad)


def layer_shapes(model: nn.Module, example: torch.Tensor, batch: int) -> dict[nn.Conv2d, ConvShape]:
    """Each eligible convolution's shape at `batch` images, found by passing `example` (one image is enough)
    through the model in evaluation mode, so that batch-norm statistics are left as they are."""
    shapes: dict[nn.Conv2d, ConvShape] = {}

    def record(module: nn.Module, inputs: tuple) -> None:
        x = inputs[0]
        if isinstance(x, torch.Tensor) and x.ndim == 4 and isinstance(module, nn.Conv2d):
            shapes[module] = ConvShape(batch, module.in_channels, module.out_channels, tuple(module.kernel_size),
                                       tuple(module.stride), tuple(module.padding), tuple(module.dilation),
                                       int(x.shape[2]), int(x.shape[3]),
                                       x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous())
    with evaluating(model, [m.register_forward_pre_hook(record) for m in model.modules() if eligible(m)]):
        model(example)
    return shapes


def time_both(shape: ConvShape, clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """(oneDNN's, the matrix product's) seconds for the weight gradient of `shape`, on random tensors: the fastest
    of interleaved calls, after oneDNN's first call (it builds its kernel then)."""
    layout = torch.channels_last if shape.channels_last else torch.contiguous_format
    x = torch.randn(shape.batch, shape.in_channels, shape.height, shape.width).contiguous(memory_format=layout)
    weight = torch.randn(shape.out_channels, shape.in_channels, *shape.kernel).contiguous(memory_format=layout)
    grad_out = torch.randn(shape.batch, shape.out_channels, *shape.out_size).contiguous(memory_format=layout)
    kernels = (
        lambda: weight_grad_by_onednn(x, grad_out, weight, shape.stride, shape.padding, shape.dilation),
        lambda: weight_grad_by_matmul(x, grad_out, weight.shape, shape.stride, shape.padding, shape.dilation),
    )

    def timed(kernel: Callable[[], torch.Tensor]) -> float:
        start = clock()
        kernel()
        return clock() - start

    kernels[0]()
    best = [timed(kernels[0]), timed(kernels[1])]  # the matrix product's first call also faults in its buffers
    if best[1] >= HOPELESS * best[0]:
        return best[0], best[1]
    for _ in range(REPEATS):
        best = [min(best[i], timed(kernel)) for i, kernel in enumerate(kernels)]
        if not 0.5 * GAIN < best[1] / max(best[0], 1e-9) < 1.5 * GAIN:  # far from the bar: a second look changes nothing
            break
    return best[0], best[1]


def _machine() -> dict[str, str]:
    """What the timings depend on besides the shapes."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    return {"cpu": cpu, "machine": platform.machine(), "torch": torch.__version__,
            "threads": str(torch.get_num_threads()), "mkldnn": str(torch.backends.mkldnn.is_available()
                                                                    and torch.backends.mkldnn.enabled)}


def _memo_path(machine: dict[str, str]) -> Path:
    from workbench.core.user_cache import cache_root

    name = hashlib.sha256(json.dumps(machine, sort_keys=True).encode()).hexdigest()[:24]
    return cache_root() / "conv-gradients" / f"{name}.json"


def _load_memo(machine: dict[str, str]) -> dict[str, tuple[float, float]]:
    try:
        raw = json.loads(_memo_path(machine).read_text(encoding="utf-8"))
        return {key: (float(native), float(matmul)) for key, (native, matmul) in raw["timings"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _save_memo(machine: dict[str, str], timings: dict[str, tuple[float, float]]) -> None:
    from workbench.core.io import atomic_write_json

    path = _memo_path(machine)
    try:
        atomic_write_json(path, {"machine": machine, "timings": timings}, indent=None)
    except OSError:
        log.info("the convolution timings could not be kept in %s", path.parent, exc_info=True)


@dataclass(frozen=True)
class ConvPlan:
    """Which convolutions compute their weight gradient by matrix product, and the timings that decided it."""

    modules: tuple[nn.Conv2d, ...]
    layers: int  # eligible convolutions looked at
    native_seconds: float  # the switched layers' weight gradients of TIMING_BATCH images, by oneDNN (as timed)
    matmul_seconds: float  # the same, by matrix product
    timed_seconds: float  # spent timing in this run (0 when every shape was known)
    kept: int = 0  # layers whose timings were kept from an earlier run

    def summary(self) -> str:
        when = (f"timed in {self.timed_seconds:.2f} s" if self.timed_seconds else
                "timings kept from an earlier run" if self.kept else "none small enough to time")
        if not self.modules:
            return (f"CPU convolution gradients: PyTorch's own kernel in all {self.layers} layers ({when})")
        return (f"CPU convolution gradients: {len(self.modules)} of {self.layers} layers compute their weight "
                f"gradient by matrix product: {1e3 * self.native_seconds:.0f} → {1e3 * self.matmul_seconds:.0f} ms "
                f"for {TIMING_BATCH} images ({when})")


def plan_conv_gradients(model: nn.Module, example: torch.Tensor, batch: int,
                        timer: Callable[[ConvShape], tuple[float, float]] | None = None) -> ConvPlan:
    """Time each eligible convolution's weight gradient both ways (`timer`, by default `time_both`), or read the
    kept timings, and pick the layers where the matrix product takes at most GAIN of oneDNN's time and saves a
    step at least MIN_SAVING."""
    timer = timer or time_both
    shapes = layer_shapes(model, example, batch)
    machine = _machine()
    memo = _load_memo(machine)
    started, timed = time.perf_counter(), False
    chosen, native_total, matmul_total, kept = [], 0.0, 0.0, 0
    for module, shape in shapes.items():
        if shape.unfold_bytes > MAX_UNFOLD_BYTES:
            continue
        timing_shape = replace(shape, batch=min(shape.batch, TIMING_BATCH))
        key = timing_shape.key()
        if key in memo:
            kept += 1
        else:
            memo[key], timed = timer(timing_shape), True
        native, matmul = memo[key]
        scale = shape.batch / timing_shape.batch  # the timings are of TIMING_BATCH images, a step of `batch`
        if matmul <= GAIN * native and scale * (native - matmul) >= MIN_SAVING:
            chosen.append(module)
            native_total += native
            matmul_total += matmul
    spent = time.perf_counter() - started if timed else 0.0
    if timed:
        _save_memo(machine, memo)
    return ConvPlan(tuple(chosen), len(shapes), native_total, matmul_total, spent, kept)
