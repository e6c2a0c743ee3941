"""Checklist item 1: is the class-distinguishing detail still there at the network's input size?

A sample of original files is resized to the network size and back, as in the paper's Fig. 2. Two numbers
come out: how much of the picture survives (SSIM), and whether the classes can still be told apart.
The second is measured with a quick texture classifier, trained on the originals and on the round
trips: when it drops, the detail that distinguishes the classes went away with the resizing. Both are
judged at a noise floor of a tenth of each image's own contrast, and away from the border, so that
faint resampling artefacts do not count as surviving detail.

The rule: a warning when the classifier's cross-validated balanced accuracy at the input size is LOST_ACCURACY
(0.15) or more below that at full resolution, while the originals are clearly separable (chance + 0.25 or
more). Both conditions make the loss large and clear: a drop of 0.15 is three times the 0.05 within which a
larger size counts as keeping the difference, and a dataset the classifier cannot separate even at full
resolution gives no evidence either way. Otherwise the check passes, naming both accuracies and the SSIM,
or (SSIM under 0.5 with the classes still separable) leaves an info note.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from workbench.core.data.preprocess import resize_chw
from workbench.core.data.reading import ImageReadError, read_image
from workbench.core.diagnostics.context import CheckContext, stratified_sample
from workbench.core.diagnostics.findings import INFO, WARNING, Finding, passed_finding

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData

PER_CLASS = 40
MAX_CLASSES = 12  # beyond this many classes, a random dozen is enough to judge the resizing
LOST_ACCURACY = 0.15  # drop in class separability that counts as "distinguishing detail destroyed"
LOW_SSIM = 0.5
NOISE_FLOOR = 0.1  # detail fainter than a tenth of the image's own contrast counts as gone


def _grey01(image: np.ndarray) -> np.ndarray:
    """An HxWxC image as HxWx1 float32 in 0–1."""
    values = image.astype(np.float32)
    if image.dtype.kind in "ui":
        values /= float(np.iinfo(image.dtype).max)
    else:
        top = float(np.max(np.abs(values))) or 1.0
        values /= top
    if values.shape[2] == 3:
        values = values @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        values = values[:, :, None]
    return values


def _round_trip(grey: np.ndarray, size: int, ref: int, mode: str, noise: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(the network's view at `size`, that view plus noise scaled back up to `ref`) of an HxWx1 image."""
    small = resize_chw(grey, size, mode)
    noisy = (small + rng.normal(0.0, noise, small.shape)).astype(np.float32)
    up = F.interpolate(torch.from_numpy(noisy)[None], size=(ref, ref), mode="bilinear", align_corners=False)
    return small[0], up[0, 0].numpy()


def _inner(image: np.ndarray) -> np.ndarray:
    """The image without a border of an eighth of its side, where resampling leaves edge artefacts."""
    margin = max(1, image.shape[0] // 8)
    return image[margin:-margin, margin:-margin]


def descriptor(image: np.ndarray) -> np.ndarray:
    """Texture and coarse-layout features of a square greyscale image: gradients, spectrum, 4×4 thumbnail."""
    x = image.astype(np.float64)
    side = x.shape[0]
    dx, dy = np.abs(np.diff(x, axis=1)).mean(), np.abs(np.diff(x, axis=0)).mean()
    d1, d2 = np.abs(x[1:, 1:] - x[:-1, :-1]).mean(), np.abs(x[1:, :-1] - x[:-1, 1:]).mean()
    dx2, dy2 = np.abs(x[:, 2:] - x[:, :-2]).mean(), np.abs(x[2:, :] - x[:-2, :]).mean()
    power = np.abs(np.fft.fft2(x - x.mean())) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(side), np.fft.fftfreq(side), indexing="ij")
    radius = np.hypot(fx, fy)
    edges = np.geomspace(1.0 / side, 0.75, 9)
    total = power.sum() + 1e-12
    bands = [power[(radius >= lo) & (radius < hi)].sum() / total for lo, hi in itertools.pairwise(edges)]
    high = radius >= 0.25
    horizontal = power[high & (np.abs(fx) > np.abs(fy))].sum()
    vertical = power[high & (np.abs(fy) > np.abs(fx))].sum()
    thumb = F.adaptive_avg_pool2d(torch.from_numpy(x)[None, None], 4).flatten().numpy()
    energies = np.log1p(100 * np.array([dx, dy, d1, d2, dx2, dy2, horizontal / total, vertical / total]))
    return np.concatenate([[x.mean(), x.std(), np.log(total)], energies, bands, thumb])


def separability(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Cross-validated balanced accuracy of a linear classifier on `features`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    counts = np.bincount(labels)
    present = counts[counts > 0]
    folds = int(min(5, present.min())) if len(present) else 0
    if folds < 2 or len(present) < 2:
        return float("nan")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
    predicted = cross_val_predict(model, np.nan_to_num(features), labels,
                                  cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    return float(balanced_accuracy_score(labels, predicted))


def check_input_representation(prepared: PreparedData, config: ProjectConfig, ctx: CheckContext) -> list[Finding]:
    size = config.preprocessing.image_size
    mode = config.preprocessing.resize_mode
    rng = ctx.rng(1)
    classes = np.unique(prepared.labels)
    if len(classes) > MAX_CLASSES:
        classes = np.sort(rng.choice(classes, MAX_CLASSES, replace=False))
    pool = np.flatnonzero(np.isin(prepared.labels, classes))
    rows = stratified_sample(prepared.labels, PER_CLASS, rng, pool)
    originals, labels, read = [], [], 0
    for i in rows:
        ctx.check_stop()
        try:
            image = read_image(prepared.samples[i].path)
        except ImageReadError:
            continue
        read += 1
        if min(image.shape[:2]) > size:  # only images the network sees smaller lose detail
            originals.append(_grey01(image))
            labels.append(int(prepared.labels[i]))
    if read and not originals:
        return [_not_shrunk(size, read)]
    if len(originals) < 8 or len(set(labels)) < 2:
        return []
    median_side = int(np.median([min(o.shape[:2]) for o in originals]))
    ref = int(min(median_side, max(128, 2 * size), 512))
    if ref <= size:
        return [_not_shrunk(size, read)]
    y = np.asarray(labels)
    refs = [resize_chw(o, ref, mode)[0] for o in originals]
    floors = [NOISE_FLOOR * float(o.std()) for o in originals]
    noise = ctx.rng(5)
    noisy_refs = [r + noise.normal(0.0, f, r.shape) for r, f in zip(refs, floors, strict=True)]
    ref_acc = separability(np.stack([descriptor(_inner(r)) for r in noisy_refs]), y, ctx.seed)

    def trip_accuracy(target: int) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        trips = [_round_trip(o, target, ref, mode, f, noise) for o, f in zip(originals, floors, strict=True)]
        views, ups = zip(*trips, strict=True)
        ctx.check_stop()
        return separability(np.stack([descriptor(_inner(u)) for u in ups]), y, ctx.seed), list(views), list(ups)

    low_acc, views, _ = trip_accuracy(size)
    from skimage.metrics import structural_similarity

    win = min(7, ref if ref % 2 else ref - 1)
    clean_ups = [F.interpolate(torch.from_numpy(v)[None, None], size=(ref, ref), mode="bilinear", align_corners=False)[0, 0].numpy()
                 for v in views]
    ssim = float(np.mean([structural_similarity(r, u, data_range=1.0, win_size=win)
                          for r, u in zip(refs, clean_ups, strict=True)]))
    chance = 1.0 / len(np.unique(y))
    evidence: dict = {"image_size": size, "original_side_median": median_side, "compared_at": ref,
                      "ssim": round(ssim, 3), "class_separability_original": round(ref_acc, 3),
                      "class_separability_resized": round(low_acc, 3), "chance": round(chance, 3),
                      "images_compared": len(originals)}
    lost = ref_acc - low_acc
    if np.isfinite(lost) and lost >= LOST_ACCURACY and ref_acc >= chance + 0.25:
        tried: dict[int, float] = {}
        suggestion = ref
        for candidate in sorted({s for s in (2 * size, 4 * size, 8 * size) if s < ref} | {ref}):
            acc = ref_acc if candidate == ref else trip_accuracy(candidate)[0]
            tried[candidate] = round(acc, 3)
            if acc >= ref_acc - 0.05:
                suggestion = candidate
                break
        suggestion = int(min(suggestion, 1024))
        evidence["separability_by_size"] = tried
        _attach_picture(evidence, ctx, refs, views, y)
        return [Finding(
            "input-size-loses-detail", WARNING, f"Resizing to {size}×{size} erases what tells the classes apart",
            f"A quick texture classifier tells the classes apart in the original images (balanced accuracy "
            f"{ref_acc:.2f}) but much less well once they are shrunk to {size}×{size} pixels ({low_acc:.2f}; chance is "
            f"{chance:.2f}). The detail that distinguishes the classes is likely gone before the network sees it "
            "(paper, checklist item 1 and Fig. 2).",
            f"Use a larger input size, e.g. {suggestion}×{suggestion} pixels, or crop the region of interest before "
            "importing the images.",
            evidence, pane="data", patch={"preprocessing.image_size": suggestion}, paper_item="II-A.1",
        )]
    if ssim < LOW_SSIM:
        _attach_picture(evidence, ctx, refs, views, y)
        return [Finding(
            "input-size-blurs", INFO, f"Resizing to {size}×{size} removes much detail",
            f"The images keep only part of their structure at the network's size (SSIM {ssim:.2f} after resizing "
            "down and back up), although the classes still look separable. Check by eye that what matters is visible.",
            f"If fine structures matter, try {min(2 * size, 1024)}×{min(2 * size, 1024)} pixels.",
            evidence, pane="data", patch={"preprocessing.image_size": min(2 * size, 1024)}, paper_item="II-A.1",
        )]
    return [passed_finding(
        "input-size-kept", f"Resizing to {size}×{size} keeps what tells the classes apart",
        f"input {size} px: a quick texture classifier keeps balanced accuracy {low_acc:.2f} against {ref_acc:.2f} at "
        f"{ref} px (lost {max(lost, 0.0):.2f} < {LOST_ACCURACY:.2f}; chance {chance:.2f}); SSIM {ssim:.2f}",
        evidence, "data", "II-A.1")]


def _not_shrunk(size: int, read: int) -> Finding:
    return passed_finding(
        "input-size-kept", f"Resizing to {size}×{size} loses nothing",
        f"input {size} px: none of {read} sampled images is larger, so no detail is lost by resizing",
        {"image_size": size, "images_compared": read}, "data", "II-A.1")


def _attach_picture(evidence: dict, ctx: CheckContext, originals: list[np.ndarray], views: list[np.ndarray],
                    labels: np.ndarray) -> None:
    """One original beside the network's view per class (up to six classes), as a PNG."""
    path = ctx.evidence_path("input_size.png")
    if path is None:
        return
    from workbench.core.diagnostics.evidence import save_side_by_side

    pairs, shown = [], []
    for c in np.unique(labels)[:6]:
        i = int(np.flatnonzero(labels == c)[0])
        pairs.append((originals[i], views[i]))
        shown.append(int(c))
    evidence["image"] = str(save_side_by_side(pairs, path))
    evidence["image_classes"] = shown
