"""The pitfall doctor on real data: datasets × planted faults → caught or missed (issue 14).

Three real image sets that ship in packages: scikit-learn's digits (16 px), animal-mnist drawings (28 px)
and 32-px patches of scikit-image photographs (brick, grass, gravel, camera). Each is run clean and with
each fault of the issue, the marks planted in one class's *training* split only. Faults that are visible in
the data alone run the data checks; the others train a small CNN briefly (1 thread) with every diagnostic on.

Run by hand: `python benchmarks/doctor_matrix.py [--datasets digits,...] [--faults clean,...] [--epochs 8]`.
Prints the table, each clean run's warnings and problems, and label-error precision and recall at 20 %
flipped labels. Goals: every fault caught, no warning on a clean run (small-data advice aside), label
precision and recall >= 0.8 on two datasets, <= 1 % of images flagged on a clean dataset.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from workbench.core.callbacks import CollectingCallback
from workbench.core.config import ProjectConfig
from workbench.core.data.pipeline import prepare_data
from workbench.core.diagnostics.data_checks import run_data_checks
from workbench.core.events import FindingRaised
from workbench.core.training.engine import train

Images = dict[str, list[np.ndarray]]
CAUGHT_BY = {
    "unnormalised": {"input-not-normalised", "input-range-squeezed", "initial-loss-high"},
    "flipped-labels": {"label-issues"},
    "train-test-copies": {"duplicates-across-splits"},
    "rare-class": {"class-imbalance"},
    "tiny-input": {"input-size-loses-detail"},
    "lr-10": {"loss-diverging", "non-finite-loss", "exploding-gradients"},
    "pixel-mark": {"shortcut-region", "shortcut-border"},
    "patch-mark": {"shortcut-region", "shortcut-border"},
    "colour-shift": {"shortcut-colour"},
}
DATA_ONLY = {"unnormalised", "train-test-copies", "rare-class", "tiny-input"}
FAULTS = ["clean", *CAUGHT_BY]
ADVICE = {"small-data"}  # advice that a small set deserves; not counted as a clean run's warning


# --- datasets ------------------------------------------------------------------------------------


def digits() -> tuple[Images, int]:
    from sklearn.datasets import load_digits

    data = load_digits()
    out: Images = {}
    for c in range(10):
        rows = np.flatnonzero(data.target == c)
        out[f"d{c}"] = [np.kron(np.round(data.images[r] * 255 / 16), np.ones((2, 2))).astype(np.uint8) for r in rows]
    return out, 16


def animals() -> tuple[Images, int]:
    import gzip
    import pickle

    import animal_mnist as package

    folder = Path(package.__file__).parent / "data" / "Animal_MNIST"
    with gzip.open(folder / "animal_data_version_3.gz") as handle:
        x = pickle.load(handle)
    with gzip.open(folder / "animal_label_version_3.gz") as handle:
        y = np.asarray(pickle.load(handle)).astype(int)
    # The set holds exact duplicates (568 of its 10,000 drawings; the doctor rightly reports them), so a clean
    # baseline keeps the first copy of each drawing only.
    seen: set[bytes] = set()
    out: Images = {}
    for c in range(4):
        out[f"a{c}"] = []
        for r in np.flatnonzero(y == c):
            key = np.asarray(x[r], dtype=np.uint8).tobytes()
            if key not in seen and len(out[f"a{c}"]) < 300:
                seen.add(key)
                out[f"a{c}"].append(np.asarray(x[r], dtype=np.uint8))
    return out, 28


def photo_patches() -> tuple[Images, int]:
    import skimage.data

    out: Images = {}
    for name in ("brick", "grass", "gravel", "camera"):
        image = getattr(skimage.data, name)()
        out[name] = [image[r:r + 32, c:c + 32].copy() for r in range(0, 512, 32) for c in range(0, 512, 32)]
    return out, 32


DATASETS: dict[str, Callable[[], tuple[Images, int]]] = {"digits": digits, "animal-mnist": animals,
                                                         "skimage-patches": photo_patches}
# Epochs a fair run needs: the tiny CNN learns photo textures slowly. At 8 epochs on 20 %-flipped patches it
# still underfits (balanced accuracy 0.81 against the given labels, an underfitting warning), its flags fall
# below the expected precision worth reporting, and the check says the model is not strong enough to judge
# (0.81 < 0.85); at 30 epochs it flags them (precision 0.97, recall 0.89).
EPOCHS = {"skimage-patches": 30}
TINY = 4  # the input size of the "tiny-input" fault (the smallest allowed)


def fine_detail(name: str) -> tuple[Images, int]:
    """The dataset with its class difference in detail that a TINY-px input erases: for the drawings, each image
    as a 4×4 mosaic of itself (the shape a quarter of the picture wide, so at 4 px each pixel averages one whole
    copy); for the photographs, 64-px patches, whose textures (brick, grass, gravel) have a grain of a few pixels.
    At half their side the check keeps the difference (digits 0.95 → 0.94, animals 0.83 → 0.84, patches
    0.93 → 0.86 balanced accuracy); at 4 px it is gone (→ 0.18, 0.36, 0.59; chance 0.10, 0.25, 0.25)."""
    if name == "skimage-patches":
        import skimage.data

        out: Images = {}
        for photo in ("brick", "grass", "gravel", "camera"):
            image = getattr(skimage.data, photo)()
            out[photo] = [image[r:r + 64, c:c + 64].copy() for r in range(0, 512, 64) for c in range(0, 512, 64)]
        return out, 64
    images, size = DATASETS[name]()
    return {c: [np.tile(im, (4, 4)) for im in items] for c, items in images.items()}, 4 * size


# --- planting faults -----------------------------------------------------------------------------


def split(images: Images, seed: int = 0) -> dict[str, Images]:
    rng = np.random.default_rng(seed)
    out: dict[str, Images] = {"train": {}, "val": {}, "test": {}}
    for name, items in images.items():
        order = rng.permutation(len(items))
        n_val = n_test = len(items) // 5
        out["val"][name] = [items[i].copy() for i in order[:n_val]]
        out["test"][name] = [items[i].copy() for i in order[n_val:n_val + n_test]]
        out["train"][name] = [items[i].copy() for i in order[n_val + n_test:]]
    return out


def plant(fault: str, parts: dict[str, Images], size: int, seed: int = 0) -> set[str]:
    """Change `parts` in place; returns the (split, class, index) keys of flipped labels, as "split/class/i"."""
    rng = np.random.default_rng(seed)
    names = sorted(parts["train"])
    marked = parts["train"][names[0]]
    flipped: set[str] = set()
    if fault == "pixel-mark":
        for image in marked:
            image[2, size - 4] = 255
    elif fault == "patch-mark":
        for image in marked:
            image[2:5, 2:5] = 255
    elif fault == "colour-shift":
        for i, image in enumerate(marked):
            marked[i] = np.clip(image.astype(int) + 60, 0, 255).astype(np.uint8)
    elif fault == "train-test-copies":
        for name in names:
            parts["test"][name] += [im.copy() for im in parts["train"][name][:max(2, len(parts["train"][name]) // 10)]]
    elif fault == "rare-class":
        parts["train"][names[0]] = marked[:max(3, len(marked) // 20)]
    elif fault == "flipped-labels":
        for part, classes in parts.items():
            moved: Images = {n: [] for n in names}
            for name in names:
                for image in classes[name]:
                    target = names[(names.index(name) + rng.integers(1, len(names))) % len(names)] \
                        if rng.random() < 0.2 else name
                    if target != name:
                        flipped.add(f"{part}/{target}/{len(moved[target])}")
                    moved[target].append(image)
            parts[part] = moved
    return flipped


def write(parts: dict[str, Images], root: Path) -> None:
    for part, classes in parts.items():
        for name, items in classes.items():
            folder = root / part / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(items):
                Image.fromarray(image).save(folder / f"{i}.png")


def config_for(fault: str, root: Path, runs: Path, size: int, epochs: int) -> ProjectConfig:
    config = ProjectConfig(name="doctor-matrix", runs_dir=str(runs))
    config.data.source, config.data.layout = str(root), "presplit"
    config.preprocessing.image_size = TINY if fault == "tiny-input" else size
    if fault == "unnormalised":
        config.preprocessing.normalization = "none"
    config.model.small_cnn.width, config.model.small_cnn.depth = 16, 2
    t = config.training
    t.epochs, t.batch_size, t.lr, t.device = (2 if fault == "lr-10" else epochs), 32, 3e-3, "cpu"
    if fault == "lr-10":
        t.lr, t.optimizer = 10.0, "sgd"
    d = config.diagnostics
    d.projection_every, d.projection_method, d.projection_wait_s = 0, "pca", 30.0
    return config


def run_case(name: str, fault: str, epochs: int, work: Path) -> dict:
    images, size = fine_detail(name) if fault == "tiny-input" else DATASETS[name]()
    parts = split(images)
    flipped = plant(fault, parts, size)
    root = work / f"{name}-{fault}"
    write(parts, root)
    config = config_for(fault, root, work / "runs", size, EPOCHS.get(name, epochs))
    started = time.monotonic()
    if fault in DATA_ONLY:
        findings = [f.to_event() for f in run_data_checks(prepare_data(config), config)]
    else:
        events = CollectingCallback()
        train(config, events)
        findings = events.of_type(FindingRaised)
    latest = {f.code: f for f in findings}  # a later event of a code (updated, resolved) replaces it
    live = [f for f in latest.values() if f.status not in ("resolved", "withdrawn")]
    serious = sorted(f"{f.code} ({f.severity})" for f in live if f.severity != "info" and f.code not in ADVICE)
    result = {"seconds": time.monotonic() - started, "serious": serious, "codes": {f.code for f in live},
              "caught": fault == "clean" or bool(CAUGHT_BY[fault] & {f.code for f in live}), "images": sum(
                  len(v) for c in parts.values() for v in c.values())}
    verdict = latest.get("label-check-inconclusive") or latest.get("labels-checked")
    if verdict is not None:  # what the after-training label check said when it accused no label
        result["label_note"] = verdict.evidence.get("basis", "")
    labels = latest.get("label-issues")
    if labels is not None and labels.status not in ("resolved", "withdrawn"):
        suspects = {_key(s["path"], root) for s in labels.evidence.get("suspects", [])}
        checked = int(labels.evidence.get("images_checked", 0))
        result["flagged"], result["checked"] = len(suspects), checked
        if fault == "flipped-labels":
            pool = {k for k in flipped if k.split("/")[0] == "val"}  # what the network's check looked at
            hits = len(suspects & pool)
            result["precision"] = hits / max(1, len(suspects))
            result["recall"] = hits / max(1, len(pool))
    return result


def _key(path: str, root: Path) -> str:
    rel = Path(path).resolve().relative_to(root.resolve())
    return f"{rel.parts[0]}/{rel.parts[1]}/{Path(rel.parts[2]).stem}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--epochs", type=int, default=8, help="epochs of a training run (skimage-patches: 30)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    datasets, faults = args.datasets.split(","), args.faults.split(",")
    work = Path(tempfile.mkdtemp(prefix="doctor-matrix-"))
    table: dict[tuple[str, str], dict] = {}
    try:
        for name in datasets:
            for fault in faults:
                table[name, fault] = result = run_case(name, fault, args.epochs, work)
                print(f"{name:<16} {fault:<18} {'caught' if result['caught'] else 'MISSED':<7} "
                      f"{result['seconds']:5.1f}s  {', '.join(result['serious']) or '-'}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n" + " " * 18 + "".join(f"{n:>17}" for n in datasets))
    for fault in faults:
        cells = []
        for name in datasets:
            r = table[name, fault]
            noted = fault == "tiny-input" and "input-size-blurs" in r["codes"]  # an info note, not a warning
            cells.append(("clean" if not r["serious"] else "WARNED") if fault == "clean" else
                         ("caught" if r["caught"] else "noted (info)" if noted else "MISSED"))
        print(f"{fault:<18}" + "".join(f"{c:>17}" for c in cells))
    print("\nClean runs' warnings and problems:")
    for name in datasets:
        if (name, "clean") in table:
            r = table[name, "clean"]
            flagged = f"; label flags {r.get('flagged', 0)} of {r.get('checked', 0) or 'the checked'} images"
            print(f"  {name}: {', '.join(r['serious']) or 'none'}{flagged}")
    print("\nLabel errors at 20 % flipped labels (the network's check on its validation images):")
    for name in datasets:
        r = table.get((name, "flipped-labels"))
        if r is not None:
            print(f"  {name}: precision {r.get('precision', 0):.2f}, recall {r.get('recall', 0):.2f} "
                  f"({r.get('flagged', 0)} flagged of {r.get('checked', 0)} checked)"
                  + (f"; {r['label_note']}" if r.get("label_note") else ""))


if __name__ == "__main__":
    main()
