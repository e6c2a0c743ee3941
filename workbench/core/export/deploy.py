"""TorchScript and ONNX exports, each checked against PyTorch on real images of the run.

Both exports take the normalisation inside the model: their input is the image as the network sees
it (N×C×S×S, pixel values divided by the bit depth's maximum, so 0–1) and their output is the logits.
The ONNX file is run with onnxruntime on images from the run's own split and the largest absolute
difference from PyTorch is returned, so the user knows the exported file computes the same thing.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench.core.data.stats import IMAGENET_MEAN, IMAGENET_STD, NormStats, normalize
from workbench.core.evaluation.loaded_run import LoadedRun
from workbench.core.run_folder import RunFolder

ONNX_OPSET = 17
PARITY_TOLERANCE = 1e-4


class InferenceModel(nn.Module):
    """The trained network with the training-split normalisation in front: 0–1 pixels in, logits out."""

    def __init__(self, model: nn.Module, stats: NormStats, channels: int) -> None:
        super().__init__()
        self.model = model
        scale, shift = _affine(stats, channels)
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32).view(1, channels, 1, 1))
        self.register_buffer("shift", torch.tensor(shift, dtype=torch.float32).view(1, channels, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(pixels * self.scale + self.shift)


def _affine(stats: NormStats, channels: int) -> tuple[list[float], list[float]]:
    """`normalize` written as x·scale + shift per channel, so exported graphs need no branches."""
    if stats.mode == "none":
        return [stats.value_scale] * channels, [0.0] * channels
    if stats.mode == "minmax":
        span = max(stats.maximum - stats.minimum, 1e-6)
        return [1.0 / span] * channels, [-stats.minimum / span] * channels
    if stats.mode == "imagenet":
        mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
        if channels == 1:
            mean, std = [float(np.mean(mean))], [float(np.mean(std))]
    else:
        mean, std = list(stats.mean), list(stats.std)
    return [1.0 / s for s in std], [-m / s for m, s in zip(mean, std, strict=True)]


@dataclass(frozen=True)
class ExportCheck:
    path: Path
    max_abs_diff: float  # largest |exported − PyTorch| over the checked logits
    samples: int
    sample_source: str  # e.g. "validation split" or "random inputs (bundle without a split)"
    exporter: str = ""

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= PARITY_TOLERANCE


def sample_images(run: LoadedRun, count: int = 16) -> tuple[torch.Tensor, str]:
    """Up to `count` real images of the run's validation split (else training split), scaled to 0–1."""
    from workbench.core.data.cache import decode_dataset
    from workbench.core.data.splits import read_manifest

    manifest = RunFolder(run.run_dir).split
    if run.kind == "run" and manifest.exists():
        samples, splits = read_manifest(manifest)
        for split, label in (("val", "validation split"), ("train", "training split")):
            chosen = [s for s, sp in zip(samples, splits, strict=True) if sp == split][:count]
            if not chosen:
                continue
            cfg = run.config.preprocessing.model_copy(update={"channels": run.channels, "cache": "memory"})
            images = decode_dataset(chosen, cfg, reuse=False)
            if len(images.kept):
                x = torch.from_numpy(np.asarray(images.array)).float() / images.value_scale
                return x, f"{len(images.kept)} images of the {label}"
    size = run.config.preprocessing.image_size
    gen = torch.Generator().manual_seed(0)
    return torch.rand(count, run.in_channels, size, size, generator=gen), f"{count} random inputs (no split available)"


def _wrapper(run: LoadedRun) -> InferenceModel:
    return InferenceModel(copy.deepcopy(run.model).cpu().eval(), run.stats, run.in_channels).eval()


def _reference_logits(run: LoadedRun, x: torch.Tensor) -> np.ndarray:
    """Logits by the same path evaluation uses (normalize, then the model), as the yardstick."""
    model = copy.deepcopy(run.model).cpu().eval()
    with torch.no_grad():
        return model(normalize(x, run.stats)).numpy()


def export_torchscript(run: LoadedRun, dest: str | Path, samples: torch.Tensor | None = None) -> ExportCheck:
    """A traced TorchScript file (class names and preprocessing embedded as extra files), reloaded and checked."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    x, source = (samples, "given images") if samples is not None else sample_images(run)
    wrapper = _wrapper(run)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TorchScript is deprecated upstream but still the widest-read format
        traced = torch.jit.trace(wrapper, x[:2])
        extra = {"classes.json": json.dumps(run.class_names), "norm_stats.json": json.dumps(run.stats.to_dict())}
        torch.jit.save(traced, str(dest), _extra_files=extra)
        reloaded = torch.jit.load(str(dest), map_location="cpu")
        diff = float(np.max(np.abs(reloaded(x).numpy() - _reference_logits(run, x)))) if len(x) else 0.0
    return ExportCheck(dest, diff, len(x), source, "torch.jit.trace")


def export_onnx(run: LoadedRun, dest: str | Path, samples: torch.Tensor | None = None,
                opset: int = ONNX_OPSET) -> ExportCheck:
    """An ONNX file with a dynamic batch axis, checked with onnxruntime against PyTorch on real images."""
    import onnx
    import onnxruntime as ort

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    x, source = (samples, "given images") if samples is not None else sample_images(run)
    wrapper = _wrapper(run)
    exporter = _export_onnx_file(wrapper, x[:2].contiguous(), dest, opset)
    model = onnx.load(str(dest))
    onnx.checker.check_model(model)
    onnx.helper.set_model_props(model, {
        "workbench.class_names": json.dumps(run.class_names),
        "workbench.input": "float32 N×C×S×S, pixel values divided by value_scale (0–1); normalisation is inside",
        "workbench.output": "logits; apply softmax for probabilities",
        "workbench.norm_stats": json.dumps(run.stats.to_dict()),
        "workbench.preprocessing": json.dumps(run.config.preprocessing.model_dump(mode="json")),
    })
    onnx.save(model, str(dest))
    session = ort.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    produced = session.run(None, {input_name: x.numpy().astype(np.float32)})[0]
    diff = float(np.max(np.abs(produced - _reference_logits(run, x)))) if len(x) else 0.0
    return ExportCheck(dest, diff, len(x), source, exporter)


def _export_onnx_file(wrapper: nn.Module, example: torch.Tensor, dest: Path, opset: int) -> str:
    """The torch.export-based exporter when onnxscript is installed, else the TorchScript-based one."""
    names = {"input_names": ["pixels"], "output_names": ["logits"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if importlib.util.find_spec("onnxscript") is not None:
            try:
                batch = torch.export.Dim("batch", min=1)
                torch.onnx.export(wrapper, (example,), str(dest), dynamo=True, opset_version=max(opset, 18),
                                  dynamic_shapes={"pixels": {0: batch}}, **names)
                return "torch.onnx (dynamo)"
            except Exception:  # fall back to the older exporter, which handles more models
                pass
        torch.onnx.export(wrapper, (example,), str(dest), dynamo=False, opset_version=opset,
                          dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}}, **names)
    return "torch.onnx (TorchScript-based)"
