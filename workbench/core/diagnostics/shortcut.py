"""Section II-E: does a class's prediction rest on a fixed small region or the border instead of the object?

The paper's Fig. 5: training images of one class carry a white pixel at a fixed place, and the network
learns the pixel instead of the class. Attributions (captum: occlusion for small images, Grad-CAM or
integrated gradients for large ones) are averaged per class; when a large share of a class's attribution
sits in a few pixels, or on the border, those pixels are transplanted into images of other classes. If
that flips their predictions (an attack), the class rests on a shortcut.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench.core.diagnostics.findings import INFO, PROBLEM, WARNING, Finding
from workbench.core.diagnostics.shortcut_probe import class_probs, shortcut_probe
from workbench.core.models.evaluating import evaluating

SMALL_REGION = 0.03  # the brightest 3% of the mean attribution map ...
CONCENTRATION = 0.3  # ... holding 30% of its mass is a fixed small region (diffuse maps hold about 3–10%)
BORDER_MASS = 0.5
FLIP_RATE = 0.3  # transplanting the region flips this share of other images: a working attack


@dataclass
class ShortcutReport:
    method: str
    class_maps: dict[str, np.ndarray] = field(default_factory=dict)  # class -> H×W mean attribution (sums to 1)
    stats: dict[str, dict] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    maps_path: str = ""
    class_rows: dict[str, np.ndarray] = field(default_factory=dict)  # class -> positions in `images` behind its map


def _choose_method(model: nn.Module, size: int, method: str) -> str:
    if method != "auto":
        return method
    if size <= 64:
        return "occlusion"
    from workbench.core.evaluation.saliency import last_conv_layer

    # Not for attention models: their only convolution embeds patches, and Grad-CAM on it says little.
    return "gradcam" if last_conv_layer(model) is not None else "integrated_gradients"


def attribution_maps(model: nn.Module, x: torch.Tensor, target: int, method: str = "occlusion") -> np.ndarray:
    """Non-negative N×H×W attribution maps of class `target`, each scaled to sum to one."""
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion

    channels, height, width = x.shape[1:]
    baseline = x.mean(dim=(0, 2, 3), keepdim=True).expand_as(x).contiguous()  # the data's mean colour
    if method == "occlusion":
        win = max(1, math.ceil(max(height, width) / 8))  # an 8×8 grid of windows: 64 passes per image
        attr = Occlusion(model).attribute(x, sliding_window_shapes=(channels, win, win), strides=(channels, win, win),
                                          baselines=baseline, target=target, perturbations_per_eval=64)
        heat = attr.clamp(min=0).sum(1)
    elif method == "integrated_gradients":
        attr = IntegratedGradients(model).attribute(x, baselines=baseline, target=target, n_steps=16,
                                                    internal_batch_size=64)
        heat = attr.abs().sum(1)
    elif method == "gradcam":
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ValueError("Grad-CAM needs a convolutional network")
        attr = LayerGradCam(model, convs[-1]).attribute(x, target=target, relu_attributions=True)
        heat = LayerAttribution.interpolate(attr, (height, width), interpolate_mode="bilinear").clamp(min=0).sum(1)
    else:
        raise ValueError(f"unknown attribution method {method!r}")
    heat = heat.detach().float().cpu().numpy()
    sums = heat.reshape(len(heat), -1).sum(axis=1)
    return heat / np.where(sums > 0, sums, 1.0)[:, None, None]


def _border_mask(height: int, width: int) -> np.ndarray:
    band = max(1, round(0.05 * min(height, width)))  # the outer 5% on each side
    mask = np.ones((height, width), dtype=bool)
    mask[band:height - band, band:width - band] = False
    return mask


def _predict(model: nn.Module, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]).argmax(1).cpu() for i in range(0, len(x), batch)]).numpy()


def _transplant_rate(model: nn.Module, donors: torch.Tensor, others: torch.Tensor, pixels: np.ndarray, target: int) -> float:
    """Share of `others` predicted as `target` after their `pixels` (flat indices) take the donors' mean values."""
    if len(others) == 0 or len(pixels) == 0:
        return 0.0
    width = others.shape[-1]
    rows, cols = torch.as_tensor(pixels // width, device=others.device), torch.as_tensor(pixels % width, device=others.device)
    values = donors.mean(0)[:, rows, cols]  # C×K
    attacked = others.clone()
    attacked[:, :, rows, cols] = values.to(attacked.dtype)
    return float(np.mean(_predict(model, attacked) == target))


def shortcut_check(
    model: nn.Module,
    images: torch.Tensor,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    probe_images: torch.Tensor | None = None,
    probe_labels: np.ndarray | None = None,
    method: str = "auto",
    max_per_class: int = 16,
    evidence_dir: str | Path | None = None,
    should_stop: Callable[[], bool] | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    probe_predicted: np.ndarray | None = None,
) -> ShortcutReport:
    """Per-class mean attribution maps of correctly predicted `images` (normalised N×C×H×W), and findings.

    `probe_images` (default: `images`) of other classes receive the suspicious region in the attack test.
    `progress(done, total)` counts the classes checked.
    """
    with evaluating(model, no_grad=False):  # the attribution maps need gradients
        return _check(model, images, np.asarray(labels), class_names, probe_images, probe_labels, method,
                      max_per_class, evidence_dir, should_stop, seed, progress, probe_predicted)


def _check(model, images, labels, class_names, probe_images, probe_labels, method, max_per_class, evidence_dir,
           should_stop, seed, progress=None, probe_predicted=None) -> ShortcutReport:
    height, width = images.shape[-2:]
    method = _choose_method(model, max(height, width), method)
    report = ShortcutReport(method)
    predicted = _predict(model, images)
    probe_images = images if probe_images is None else probe_images
    probe_labels = labels if probe_labels is None else np.asarray(probe_labels)
    if probe_predicted is None or len(probe_predicted) != len(probe_images):
        probe_predicted = _predict(model, probe_images)
    border = _border_mask(height, width)
    rng = np.random.default_rng(seed)
    area = height * width
    classes = np.unique(labels)
    for done, c in enumerate(classes, start=1):
        if should_stop is not None and should_stop():
            raise InterruptedError("shortcut check cancelled")
        if progress is not None:  # before the class, as the `continue`s below skip the loop's end
            progress(done - 1, len(classes))
        name = class_names[int(c)]
        chosen = np.flatnonzero((labels == c) & (predicted == c))[:max_per_class]
        if len(chosen) < 3:
            continue
        report.class_rows[name] = chosen
        donors = images[torch.as_tensor(chosen, device=images.device)]
        maps = attribution_maps(model, donors, int(c), method)
        mean = maps.mean(0)
        mean = mean / max(float(mean.sum()), 1e-12)
        report.class_maps[name] = mean
        flat = mean.ravel()
        order = np.argsort(flat)[::-1]
        region = order[:max(1, math.ceil(SMALL_REGION * area))]
        concentration = float(flat[region].sum())
        half = int(np.searchsorted(np.cumsum(flat[order]), 0.5) + 1) / area
        consistency = float(maps.reshape(len(maps), -1)[:, region].sum(1).mean())
        border_mass = float(mean[border].sum())
        others = torch.as_tensor(np.flatnonzero((probe_labels != c) & (probe_predicted != c))[:64], device=probe_images.device)
        stats = {"concentration": round(concentration, 4), "half_mass_share": round(half, 4),
                 "region_pixels": [(int(p // width), int(p % width)) for p in region[:10]],
                 "consistency": round(consistency, 4), "border_mass": round(border_mass, 4),
                 "border_area": round(float(border.mean()), 4), "images": len(chosen)}
        small = concentration >= CONCENTRATION and consistency >= 0.5 * CONCENTRATION
        border_share = float(border.mean())
        strong_border = border_mass >= BORDER_MASS and border_mass >= 2.5 * border_share
        leaning_border = border_mass >= 0.3 and border_mass >= 1.5 * border_share  # worth an attack test
        if small or leaning_border:
            pixels = region if small else order[border.ravel()[order]][:max(1, math.ceil(SMALL_REGION * area))]
            target = probe_images[others] if len(others) else probe_images[:0]
            stats["flip_rate"] = round(_transplant_rate(model, donors, target, pixels, int(c)), 4)
            decoy = rng.choice(area, size=len(pixels), replace=False)  # same number of pixels, random places
            stats["flip_rate_random_pixels"] = round(_transplant_rate(model, donors, target, decoy, int(c)), 4)
            finding = _finding(name, stats, small, strong_border, len(target))
            if finding is not None:
                report.findings.append(finding)
        report.stats[name] = stats
    if progress is not None and len(classes):
        progress(len(classes), len(classes))
    if evidence_dir is not None and report.class_maps:
        _save_maps(report, Path(evidence_dir))
    return report


def _finding(name: str, stats: dict, small: bool, strong_border: bool, probed: int) -> Finding | None:
    """PROBLEM when transplanting the region works as an attack; otherwise a warning for a border that carries
    most of the attribution, an info note for an unconfirmed small region, and nothing for a mild border lean."""
    flip, control = stats["flip_rate"], stats["flip_rate_random_pixels"]
    attack = flip >= FLIP_RATE and flip - control >= 0.25
    if not (attack or small or strong_border):
        return None
    where = (f"{SMALL_REGION:.0%} of the pixels ({stats['concentration']:.0%} of the attribution), at the same place "
             "in every image" if small else f"the image border ({stats['border_mass']:.0%} of the attribution)")
    severity = PROBLEM if attack else (INFO if small else WARNING)
    attack_text = (f" Copying those pixels into {probed} images of other classes turned {flip:.0%} of them into "
                   f"'{name}' (random pixels: {control:.0%}): a working one-pixel-style attack." if attack else
                   f" Copying them into other images changed {flip:.0%} of the predictions (random pixels: {control:.0%}).")
    return Finding(
        "shortcut-region" if small else "shortcut-border", severity,
        f"Predictions of '{name}' rest on {'a small fixed region' if small else 'the border'}",
        f"Much of what drives the '{name}' predictions lies in {where}, not on the object.{attack_text} The network "
        "may have learned a marker, a watermark or a background cue instead of the class (paper, section II-E, Fig. 5).",
        "Look at the attribution map and at images of this class: remove the marker (crop, mask or inpaint it), or "
        "collect images where it does not go with the class; random crops and flips weaken fixed-position cues.",
        {"class": name, **stats}, pane="evaluate", paper_item="II-E",
        patch={} if not attack else {"preprocessing.augmentation.crop_scale": 0.7, "preprocessing.augmentation.hflip": True},
    )


def _save_maps(report: ShortcutReport, folder: Path) -> None:
    from workbench.core.diagnostics.evidence import save_heatmaps

    folder.mkdir(parents=True, exist_ok=True)
    names = list(report.class_maps)
    stack = np.stack([report.class_maps[n] for n in names])
    np.save(folder / "attribution_maps.npy", stack)
    (folder / "attribution_maps.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    png = save_heatmaps(list(stack), folder / "attribution_maps.png")
    report.maps_path = str(folder / "attribution_maps.npy")
    report.findings = [Finding(f.code, f.severity, f.title, f.explanation, f.fix,
                               {**f.evidence, "maps": report.maps_path, "image": str(png), "map_classes": names},
                               f.pane, f.patch, f.paper_item) for f in report.findings]


def shortcut_check_for_run(model: nn.Module, context, *, max_per_class: int = 16, max_classes: int = 30,
                           method: str = "auto", should_stop: Callable[[], bool] | None = None,
                           progress: Callable[..., None] | None = None,
                           known_probs: tuple[np.ndarray, np.ndarray] | None = None) -> ShortcutReport:
    """Shortcuts found in a run's training images and confirmed on the model, attacking validation images.

    The attribution maps are the evidence of a finding, so they are drawn only when the probe found a
    shortcut: on clean data they would cost 64 forward passes per image and class for nothing (they stay
    available on request: the Evaluate pane, `workbench attributions`).
    `progress(done, total[, label])` counts classes: those searched, then those mapped.
    With more than `max_classes` classes, a seeded random subset of them is mapped, to bound the time.
    `known_probs`, (dataset rows, class probabilities) of this model's last validation pass, spare the probe
    images a forward pass; without them the probes are predicted only where a candidate needs it.
    """
    from workbench.core.diagnostics.context import stratified_sample

    data = context.data
    rng = np.random.default_rng(context.config.data.seed)
    train_pool = data.indices("train")
    probe_pool = data.indices("val") if len(data.indices("val")) else data.indices("train")
    probe_rows = np.sort(rng.choice(probe_pool, size=min(len(probe_pool), 256), replace=False))
    px, py = context.val_source.load(probe_rows, augment=False) if len(data.indices("val")) else \
        context.train_source.load(probe_rows, augment=False)
    folder = Path(context.run_dir) / "diagnostics" if context.run_dir else None
    probe_probs = _known_probs(probe_rows, known_probs)  # one pass serves every candidate and the maps' attack test
    pool = stratified_sample(data.labels, MAX_TRAIN_PER_CLASS, rng, train_pool)
    tx, ty = context.train_source.load(pool, augment=False)
    confirmed = shortcut_probe(model, tx, ty.cpu().numpy(), px, py.cpu().numpy(), data.class_names,
                               evidence_dir=folder, seed=context.config.data.seed, probe_probs=probe_probs,
                               progress=progress)
    height, width = px.shape[-2:]
    if not confirmed:
        return ShortcutReport(_choose_method(model, max(height, width), method))
    if should_stop is not None and should_stop():
        raise InterruptedError("shortcut check cancelled")
    classes = np.unique(data.labels[train_pool])
    if len(classes) > max_classes:
        train_pool = train_pool[np.isin(data.labels[train_pool], rng.choice(classes, max_classes, replace=False))]
    train_rows = stratified_sample(data.labels, max_per_class * 2, rng, train_pool)
    x, y = context.train_source.load(train_rows, augment=False)
    if probe_probs is None:
        with evaluating(model):
            probe_probs = class_probs(model, px)
    mapped = None if progress is None else (lambda done, total: progress(done, total, "Drawing attribution maps"))
    report = shortcut_check(model, x, y.cpu().numpy(), data.class_names, probe_images=px, probe_labels=py.cpu().numpy(),
                            method=method, max_per_class=max_per_class, should_stop=should_stop, evidence_dir=folder,
                            progress=mapped, probe_predicted=probe_probs.argmax(1).cpu().numpy())
    report.findings = merge_findings(report, confirmed)
    return report


MAX_TRAIN_PER_CLASS = 300  # training images per class that the candidate search reads


def _known_probs(rows: np.ndarray, known: tuple[np.ndarray, np.ndarray] | None) -> torch.Tensor | None:
    """The probabilities of dataset `rows` among `known` (rows, probabilities), or None unless all are there."""
    if known is None:
        return None
    position = {int(row): i for i, row in enumerate(np.asarray(known[0]).tolist())}
    if not all(int(row) in position for row in rows.tolist()):
        return None
    return torch.as_tensor(np.asarray(known[1])[[position[int(row)] for row in rows.tolist()]], dtype=torch.float32)


def merge_findings(report: ShortcutReport, confirmed: list[Finding]) -> list[Finding]:
    """The confirmed data-side findings, with the attribution maps attached; an attribution finding stays only
    for a class without one, and only when its own transplant confirmed it (an unconfirmed map is no finding)."""
    extra = {"maps": report.maps_path, "image": str(Path(report.maps_path).with_suffix(".png")),
             "map_classes": list(report.class_maps)} if report.maps_path else {}
    merged = [dataclasses.replace(f, evidence={**f.evidence, **{k: v for k, v in extra.items() if v}}) for f in confirmed]
    named = {f.evidence.get("class") for f in confirmed}
    for finding in report.findings:
        if finding.evidence.get("class") not in named and finding.severity == PROBLEM:
            merged.append(finding)
    return merged
