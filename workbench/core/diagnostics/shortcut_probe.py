"""Shortcuts found from the training data, confirmed on the trained model (paper, section II-E, Fig. 5).

A shortcut is learned from the training images, so it is looked for there, not in attribution maps of
validation images (which may not carry it). Two steps:

1. *Candidates, from the training split.* For each class, each place (pixel, in each channel) where the
   class's training images nearly all hold one value that the other classes' images seldom hold there: a
   planted pixel, a small patch, a frame. Ordinary image content varies from image to image, so it rarely
   holds one value in 80 % of a class; the test is a one-sided binomial test against the other classes'
   rate, Bonferroni-corrected for every place, channel and class tested. Also per-channel colour and
   intensity statistics (image mean per channel): a class whose training images are tinted or brighter by
   much more than classes usually differ.
2. *Confirmation, on the model.* Each candidate is transplanted into clean validation images of the other
   classes (the values at the places, or the colour shift), and the share of predictions that flip to the
   class is compared with random transplants of the same size (the same values at random places, or the
   shift in the opposite direction). Only a transplant that flips clearly more than its random control is
   a finding; the evidence is Fig. 5's: the class, the place, both rates, and one image before and after
   with its top-3 probabilities.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.diagnostics.findings import PROBLEM, WARNING, Finding
from workbench.core.models.evaluating import evaluating

PREVALENCE = 0.8  # share of the class's training images holding the mark value at a place
CONTRAST = 0.5  # ... at least this much above the other classes' share there
ALPHA = 0.01  # family-wise error rate over every place, channel and class tested
COLOUR_EFFECT = 2.0  # class-vs-rest difference of a channel's image mean, in units of its within-class spread
MAX_PLACES = 0.25  # a "mark" covering more of the image than this is content, not a marker
FLIP_RATE, FLIP_MARGIN = 0.3, 0.25  # a transplant confirms when it flips this many, this far above random
# A mark found in the training images only (its class's validation images lack it, as in the real world
# when a marker came with one collection) needs less: a learned reliance shows as flips clearly above the
# random control or a clear gain in the class's probability. Such a finding is a warning, not a problem.
TRAIN_ONLY_MARGIN, GAIN_MARGIN = 0.1, 0.05
MAX_PROBES = 64


@dataclass(frozen=True)
class Candidate:
    """A class-specific regularity of the training images: places (flat C·H·W indices) with values, or a shift."""

    class_index: int
    kind: str  # "region", "border" or "colour"
    places: np.ndarray  # flat indices into C×H×W (region, border); empty for colour
    values: np.ndarray  # the mark's values at `places`; for colour, the per-channel shift
    prevalence: float
    others: float  # the other classes' share (region) or the effect size (colour)
    p_value: float
    tolerance: float = 0.0
    reference: tuple[float, ...] = ()  # colour: the other classes' per-channel mean


def _border(height: int, width: int) -> np.ndarray:
    band = max(1, round(0.05 * min(height, width)))
    mask = np.ones((height, width), dtype=bool)
    mask[band:height - band, band:width - band] = False
    return mask


def find_candidates(x: np.ndarray, y: np.ndarray, num_classes: int,
                    progress: Callable[[int, int], None] | None = None) -> list[Candidate]:
    """Candidate shortcuts of each class in training images `x` (N×C×H×W, as the network sees them).
    `progress(done, total)` counts the classes searched."""
    from scipy.special import bdtrc  # the binomial survival function, without importing scipy.stats (0.5 s)

    n, channels, height, width = x.shape
    flat = x.reshape(n, -1)
    tolerance = 0.1 * float(flat.std()) + 1e-6  # "the same value": a tenth of the data's spread
    classes = [c for c in range(num_classes) if int(np.sum(y == c)) >= 5 and int(np.sum(y != c)) >= 5]
    tests = max(1, len(classes) * flat.shape[1])
    found: list[Candidate] = []
    border = np.tile(_border(height, width).ravel(), channels)
    for done, c in enumerate(classes):
        if progress is not None:
            progress(done, len(classes))
        inside, outside = flat[y == c], flat[y != c]
        mark = np.median(inside, axis=0)
        share_in = np.mean(np.abs(inside - mark) <= tolerance, axis=0)
        share_out = np.mean(np.abs(outside - mark) <= tolerance, axis=0)
        places = np.flatnonzero((share_in >= PREVALENCE) & (share_in - share_out >= CONTRAST))
        if len(places):
            k = np.round(share_in[places] * len(inside)).astype(int)
            p = bdtrc(k - 1, len(inside), np.clip(share_out[places], 1e-3, 1 - 1e-3)) * tests
            places = places[p < ALPHA]
        if 0 < len(places) <= MAX_PLACES * flat.shape[1]:
            kind = "border" if np.mean(border[places]) >= 0.7 and len(places) >= 3 else "region"
            found.append(Candidate(c, kind, places, mark[places], float(share_in[places].mean()),
                                   float(share_out[places].mean()), float(min(1.0, p.min())), tolerance))
        found += _colour_candidates(x, y, c)
    if progress is not None:
        progress(len(classes), len(classes))
    return found


def stored_candidates(x: np.ndarray, y: np.ndarray, num_classes: int,
                      progress: Callable[[int, int], None] | None = None) -> list[Candidate]:
    """`find_candidates`, remembered in the cache folder (`shortcut-candidates/`): they depend on the training images
    as the network sees them and their labels alone, so every later run of the same dataset and preprocessing
    reads them instead of searching again. The key covers the images' values, the labels, the class count and
    this module's code; an entry that cannot be read or written only costs the search."""
    import hashlib

    from workbench.core.user_cache import cache_root

    x = np.ascontiguousarray(x, dtype=np.float32)
    digest = hashlib.blake2b(Path(__file__).read_bytes(), digest_size=16)
    for part in (np.asarray(x.shape, np.int64), x, np.ascontiguousarray(y, dtype=np.int64), np.int64(num_classes)):
        digest.update(memoryview(np.ascontiguousarray(part)).cast("B"))
    path = cache_root() / "shortcut-candidates" / f"{digest.hexdigest()}.json"
    known = _read_candidates(path)
    if known is not None:
        searched = sum(1 for c in range(num_classes) if 5 <= int(np.sum(y == c)) <= len(y) - 5)
        for done in range(searched + 1) if progress is not None else ():  # each class's candidates are known
            progress(done, searched)
        return known
    found = find_candidates(x, y, num_classes, progress)
    _write_candidates(path, found)
    return found


def _read_candidates(path: Path) -> list[Candidate] | None:
    import json

    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [Candidate(int(r["class_index"]), str(r["kind"]), np.asarray(r["places"], dtype=np.int64),
                          np.asarray(r["values"], dtype=np.float32), float(r["prevalence"]), float(r["others"]),
                          float(r["p_value"]), float(r["tolerance"]), tuple(float(v) for v in r["reference"]))
                for r in rows]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_candidates(path: Path, found: list[Candidate]) -> None:
    from workbench.core.io import atomic_write_json

    rows = [{"class_index": c.class_index, "kind": c.kind, "places": c.places.tolist(), "values": c.values.tolist(),
             "prevalence": c.prevalence, "others": c.others, "p_value": c.p_value, "tolerance": c.tolerance,
             "reference": list(c.reference)} for c in found]
    with contextlib.suppress(OSError):  # unwritten, the next run searches again
        atomic_write_json(path, rows, indent=None)


def _colour_candidates(x: np.ndarray, y: np.ndarray, c: int) -> list[Candidate]:
    """A tint or brightness shift: class c's per-channel image means far from the other classes'."""
    means = x.mean(axis=(2, 3))  # N×C
    inside, outside = means[y == c], means[y != c]
    spread = inside.std(axis=0) + 1e-6  # the class's own spread: others may mix classes of any brightness
    effect = (inside.mean(axis=0) - outside.mean(axis=0)) / spread
    if np.max(np.abs(effect)) < COLOUR_EFFECT:
        return []
    shift = inside.mean(axis=0) - outside.mean(axis=0)
    return [Candidate(c, "colour", np.zeros(0, dtype=np.int64), shift.astype(np.float32), float(np.max(np.abs(effect))),
                      float(np.max(np.abs(effect))), 0.0, reference=tuple(float(v) for v in outside.mean(axis=0)))]


def class_probs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([torch.softmax(model(x[i:i + 256]).float(), 1) for i in range(0, len(x), 256)])


def _apply(x: torch.Tensor, candidate: Candidate, places: np.ndarray, sign: float = 1.0) -> torch.Tensor:
    out = x.clone()
    if candidate.kind == "colour":
        shift = torch.as_tensor(candidate.values, dtype=out.dtype, device=out.device)[None, :, None, None]
        return out + sign * shift
    flat = out.reshape(len(out), -1)
    flat[:, torch.as_tensor(places, device=out.device)] = torch.as_tensor(candidate.values, dtype=out.dtype,
                                                                            device=out.device)
    return flat.reshape(out.shape)


def confirm(model: nn.Module, candidate: Candidate, probes: torch.Tensor, probe_labels: np.ndarray,
            seed: int = 0, before: torch.Tensor | None = None) -> dict[str, Any] | None:
    """Flip rates of the transplant and of its random control on clean images of other classes, with an example.

    `before`: the model's probabilities for the clean `probes`, where the caller has them (one pass serves every
    candidate; it is the largest of the three passes)."""
    c = candidate.class_index
    candidate = _train_only_part(candidate, probes[torch.as_tensor(np.flatnonzero(probe_labels == c),
                                                                    device=probes.device)])
    if before is None:
        before = class_probs(model, probes)
    keep = np.flatnonzero((probe_labels != c) & (before.argmax(1).cpu().numpy() != c))[:MAX_PROBES]
    if len(keep) < 5:
        return None
    clean = probes[torch.as_tensor(keep, device=probes.device)]
    marked = _apply(clean, candidate, candidate.places)
    if candidate.kind == "colour":
        decoy = _apply(clean, candidate, candidate.places, sign=-1.0)
    else:
        rng = np.random.default_rng(seed)
        size = int(np.prod(clean.shape[1:]))
        decoy = _apply(clean, candidate, rng.choice(size, len(candidate.places), replace=False))
    both = class_probs(model, torch.cat([marked, decoy]))  # one pass for the transplant and its control
    after, control = both[:len(clean)], both[len(clean):]
    flips = after.argmax(1).cpu().numpy() == c
    random_rate = float(np.mean(control.argmax(1).cpu().numpy() == c))
    rate = float(np.mean(flips))
    base = before[torch.as_tensor(keep, device=before.device), c]
    gain, gain_random = float((after[:, c] - base).mean()), float((control[:, c] - base).mean())
    own = probes[torch.as_tensor(np.flatnonzero(probe_labels == c), device=probes.device)]
    val_share = _share(own, candidate)
    # Half or less of the training regularity in the class's validation images: a mark of the training split.
    # (A colour candidate's share is already the fraction of its shift; a region's is compared with its prevalence.)
    train_only = val_share is not None and val_share <= 0.5 * (1.0 if candidate.kind == "colour" else candidate.prevalence)
    strong = rate >= FLIP_RATE and rate - random_rate >= FLIP_MARGIN
    learned = rate - random_rate >= TRAIN_ONLY_MARGIN or gain - gain_random >= GAIN_MARGIN
    pick = int(np.flatnonzero(flips)[0]) if flips.any() else 0
    return {"flip_rate": round(rate, 4), "flip_rate_random": round(random_rate, 4), "probed": len(keep),
            "gain": round(gain, 4), "gain_random": round(gain_random, 4),
            "val_share": None if val_share is None else round(val_share, 4), "train_only": train_only,
            # A colour difference its validation images share is how the class looks, not a marker.
            "strong": strong, "confirmed": (train_only and (strong or learned)) if candidate.kind == "colour"
            else strong or (train_only and learned),
            "example": (clean[pick], marked[pick], before[torch.as_tensor(keep[pick])], after[pick]),
            "candidate": candidate}  # the places tested: the training-only part, where there was one


def _train_only_part(candidate: Candidate, own: torch.Tensor) -> Candidate:
    """The places of a region candidate that the class's validation images lack (a mark of the training split),
    when there are such places among places they share (content, as in aligned digits); else the candidate."""
    if candidate.kind == "colour" or len(own) < 5:
        return candidate
    x = own.float().cpu().numpy().reshape(len(own), -1)
    share = np.mean(np.abs(x[:, candidate.places] - candidate.values) <= candidate.tolerance, axis=0)
    lacking = share <= 0.5 * candidate.prevalence
    if not lacking.any() or lacking.all():
        return candidate
    return dataclasses.replace(candidate, places=candidate.places[lacking], values=candidate.values[lacking])


def _share(images: torch.Tensor, candidate: Candidate) -> float | None:
    """How much of the candidate `images` (of its class, from another split) carry: None for fewer than 5."""
    if len(images) < 5:
        return None
    x = images.float().cpu().numpy()
    if candidate.kind == "colour":  # the share of the training shift that this split's images show too
        shift = np.asarray(candidate.values, dtype=np.float64)
        seen = x.mean(axis=(2, 3)).mean(axis=0) - np.asarray(candidate.reference)
        return float(np.clip(np.dot(seen, shift) / max(float(np.dot(shift, shift)), 1e-12), 0.0, 1.0))
    held = np.abs(x.reshape(len(x), -1)[:, candidate.places] - candidate.values) <= candidate.tolerance
    return float(held.mean())


def _top3(probs: torch.Tensor, class_names: Sequence[str]) -> list[list[Any]]:
    values, order = torch.topk(probs, min(3, len(probs)))
    return [[class_names[int(i)], round(float(v), 3)] for v, i in zip(values, order, strict=True)]


def _save_example(folder: Path | None, name: str, before: torch.Tensor, after: torch.Tensor) -> str:
    if folder is None:
        return ""
    from workbench.core.diagnostics.evidence import save_side_by_side

    def grey(t: torch.Tensor) -> np.ndarray:
        img = t.float().mean(0).cpu().numpy()
        low, high = float(img.min()), float(img.max())
        return (img - low) / (high - low) if high > low else np.zeros_like(img)

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"shortcut_{''.join(ch if ch.isalnum() else '_' for ch in name)}.png"
    return str(save_side_by_side([(grey(before), grey(after))], path))


def _describe(candidate: Candidate, shape: tuple[int, int, int]) -> tuple[str, list[tuple[int, int]]]:
    _channels, height, width = shape
    if candidate.kind == "colour":
        return "the colour/intensity of the whole image", []
    spots = sorted({(int(p % (height * width)) // width, int(p % (height * width)) % width) for p in candidate.places})
    rows, cols = [r for r, _ in spots], [c for _, c in spots]
    where = (f"{len(spots)} pixel(s) at rows {min(rows)}-{max(rows)}, columns {min(cols)}-{max(cols)}"
             if len(spots) > 1 else f"the pixel at row {rows[0]}, column {cols[0]}")
    return where, spots


def shortcut_probe(model: nn.Module, train_x: torch.Tensor, train_y: np.ndarray, probes: torch.Tensor,
                   probe_labels: np.ndarray, class_names: Sequence[str], *, evidence_dir: str | Path | None = None,
                   seed: int = 0, probe_probs: torch.Tensor | None = None,
                   progress: Callable[[int, int], None] | None = None) -> list[Finding]:
    """Findings for the candidates that the model confirms; at most one per class (the strongest flip).
    `probe_probs`: the model's probabilities for `probes`, where the caller computed them already;
    `progress(done, total)` counts the classes searched for candidates."""
    with evaluating(model, no_grad=False):
        candidates = stored_candidates(train_x.float().cpu().numpy(), np.asarray(train_y), len(class_names), progress)
        best: dict[int, tuple[Candidate, dict[str, Any]]] = {}
        before = (probe_probs if probe_probs is not None else class_probs(model, probes)) if candidates else None
        for candidate in candidates:
            result = confirm(model, candidate, probes, np.asarray(probe_labels), seed, before)
            # Confirmed by the model, or a mark of the training split alone (the validation images of the
            # class lack it): a fault of the data even where the model has not come to rely on it yet.
            if result is None or not (result["confirmed"] or result["train_only"]):
                continue
            held = best.get(candidate.class_index)
            rank = (result["confirmed"], result["flip_rate"])
            if held is None or rank > (held[1]["confirmed"], held[1]["flip_rate"]):
                best[candidate.class_index] = (result["candidate"], result)
    folder = Path(evidence_dir) if evidence_dir is not None else None
    return [_finding(candidate, result, class_names, tuple(train_x.shape[1:]), folder)
            for candidate, result in best.values()]


def _finding(candidate: Candidate, result: dict[str, Any], class_names: Sequence[str], shape: tuple[int, int, int],
             folder: Path | None) -> Finding:
    name = class_names[candidate.class_index]
    where, spots = _describe(candidate, shape)
    before, after, p_before, p_after = result["example"]
    image = _save_example(folder, name, before, after)
    if candidate.kind == "colour":
        found = (f"the training images of '{name}' differ from the other classes' in colour or brightness by "
                 f"{candidate.others:.1f} times the usual spread (shift per channel: "
                 f"{', '.join(f'{v:+.2f}' for v in candidate.values)} in normalised units)")
        control = "the same shift in the opposite direction"
    else:
        found = (f"{candidate.prevalence:.0%} of the training images of '{name}' hold the same value at {where}, "
                 f"against {candidate.others:.0%} of the other classes' images (binomial test, corrected for every "
                 f"place tested: p = {candidate.p_value:.1e})")
        control = "the same values at random places"
    code = {"region": "shortcut-region", "border": "shortcut-border", "colour": "shortcut-colour"}[candidate.kind]
    share = result.get("val_share")
    where_found = ("" if not (result.get("train_only") and share is not None) else
                   f" (its validation images show {share:.0%} of that shift)" if candidate.kind == "colour" else
                   f" (its validation images lack it: {share:.0%} hold it)")
    if not result["confirmed"]:
        return Finding(
            code, WARNING, f"A marker in the training images of '{name}' only ({candidate.kind})",
            f"In the training split, {found}{where_found}. The trained model does not rely on it yet: transplanted "
            f"into {result['probed']} clean validation images of other classes it turned {result['flip_rate']:.0%} of "
            f"them into '{name}' ({control}: {result['flip_rate_random']:.0%}). A marker that only the training "
            "images carry can become a shortcut with longer training or a larger model (paper, section II-E, Fig. 5).",
            "Remove the marker from the training images (crop, mask or inpaint it), or find out why only they carry it.",
            {"class": name, "kind": candidate.kind, "region_pixels": spots[:50], "confirmed": False,
             "prevalence": round(candidate.prevalence, 4), "others": round(candidate.others, 4),
             "p_value": candidate.p_value, "flip_rate": result["flip_rate"],
             "flip_rate_random_pixels": result["flip_rate_random"], "validation_share": result.get("val_share"),
             "example_image": image, "top3_before": _top3(p_before, class_names),
             "top3_after": _top3(p_after, class_names)},
            pane="data", paper_item="II-E")
    return Finding(
        code, PROBLEM if result["strong"] else WARNING,
        f"Predictions of '{name}' rest on a marker in its training images ({candidate.kind})",
        f"In the training split, {found}{where_found}. Transplanted into {result['probed']} clean validation images of other "
        f"classes, it turned {result['flip_rate']:.0%} of them into '{name}' ({control}: "
        f"{result['flip_rate_random']:.0%}; mean gain in the '{name}' probability {result['gain']:+.2f} against "
        f"{result['gain_random']:+.2f}). The network learned the marker instead of the class; images without "
        "it will be misjudged (paper, section II-E, Fig. 5).",
        "Remove the marker from the training images (crop, mask or inpaint it), or collect images where it does "
        "not go with the class; random crops and colour jitter weaken fixed-position and colour cues.",
        {"class": name, "kind": candidate.kind, "region_pixels": spots[:50], "prevalence": round(candidate.prevalence, 4),
         "others": round(candidate.others, 4), "p_value": candidate.p_value, "flip_rate": result["flip_rate"],
         "flip_rate_random_pixels": result["flip_rate_random"], "probed": result["probed"],
         "probability_gain": result["gain"], "probability_gain_random": result["gain_random"],
         "validation_share": result.get("val_share"), "confirmed": True,
         "example_image": image, "top3_before": _top3(p_before, class_names), "top3_after": _top3(p_after, class_names),
         **({"colour_shift": [round(float(v), 4) for v in candidate.values]} if candidate.kind == "colour" else {})},
        pane="evaluate", paper_item="II-E",
        patch={"preprocessing.augmentation.brightness": 0.3, "preprocessing.augmentation.contrast": 0.3}
        if candidate.kind == "colour" else
        {"preprocessing.augmentation.crop_scale": 0.7, "preprocessing.augmentation.hflip": True},
    )

