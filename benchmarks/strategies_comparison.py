"""Training strategies against their baselines, each from one run, on CPU-sized data.

1. Self-supervised pretraining (SimCLR) on unlabelled Animal-MNIST images, then fine-tuning with 10 labels per
   class, against training from scratch on the same 10 labels per class.
2. Transfer (frozen backbone, new head) from a run trained on Animal-MNIST to the digits, against scratch.
3. Curriculum learning (bootstrap scoring, exponential pacing) against random order, same data and budget.
4. Feature extraction + logistic regression against fine-tuning, from the same Animal-MNIST run to the digits.

Animal-MNIST (MIT licence) comes from the `animal-mnist` package: `pip install --no-deps animal-mnist`. Its
arrays are read straight from the installed package files (its loader needs TensorFlow); Workbench's digits
come from scikit-learn. Test accuracy is measured with Workbench's own evaluation (bootstrap 95% intervals).
Run by hand: `python benchmarks/strategies_comparison.py [--only ssl,transfer,curriculum,features]`.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import pickle
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from workbench.core.config import ProjectConfig
from workbench.core.demo import write_digits_dataset
from workbench.core.evaluation import evaluate
from workbench.core.strategies.inference import build_run_model
from workbench.core.training.engine import train

ANIMALS = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")  # package order
SIZE = 16


def _wire_evaluation() -> None:
    """The proposed one-line change to evaluate.build_inference_model, so feature-extraction runs reload."""

    def wired(config: ProjectConfig, channels: str, num_classes: int) -> torch.nn.Module:
        return build_run_model(config, 1 if channels == "grayscale" else 3, num_classes)

    evaluate.build_inference_model = wired


def load_animal_mnist() -> tuple[np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("animal_mnist")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install the data first: pip install --no-deps animal-mnist")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "Animal_MNIST"
    with gzip.open(folder / "animal_data_version_3.gz", "rb") as handle:  # a trusted, installed package file
        images = np.asarray(pickle.load(handle), dtype=np.uint8)
    with gzip.open(folder / "animal_label_version_3.gz", "rb") as handle:
        labels = np.asarray(pickle.load(handle), dtype=np.int64)
    return images, labels


def write_pngs(folder: Path, images: np.ndarray, labels: np.ndarray, ids: np.ndarray, names: tuple[str, ...]) -> None:
    for i in ids:
        target = folder / f"{labels[i]}_{names[labels[i]]}"
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(target / f"img_{i:05d}.png")


def per_class(labels: np.ndarray, ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` of each class among `ids`, and the rest."""
    chosen = np.concatenate([ids[labels[ids] == c][:n] for c in np.unique(labels)])
    return chosen, np.setdiff1d(ids, chosen)


def prepare_animals(root: Path) -> dict[str, Path]:
    """Folders: 'full' (4,000 images in class folders, for the source run and the curriculum), 'few' (pre-split:
    10 labels per class for training, 10 for validation, 100 for the test; disjoint from 'full'), 'unlabelled'
    (the 100 labelled training images and 2,900 others; no test or validation image)."""
    marker = root / ".complete-v2"  # bump when the layout changes, so an old one is rewritten
    paths = {name: root / name for name in ("full", "few", "unlabelled")}
    if marker.exists():
        return paths
    shutil.rmtree(root, ignore_errors=True)
    images, labels = load_animal_mnist()
    order = np.random.default_rng(0).permutation(len(labels))
    full = np.sort(order[:4000])
    write_pngs(paths["full"], images, labels, full, ANIMALS)
    rest = np.sort(order[4000:])
    test, rest = per_class(labels, rest, 100)
    val, rest = per_class(labels, rest, 10)
    few_train, rest = per_class(labels, rest, 10)
    for split, ids in (("train", few_train), ("val", val), ("test", test)):
        write_pngs(paths["few"] / split, images, labels, ids, ANIMALS)
    unlabelled = np.concatenate([few_train, rest[:2900]])  # the 100 labelled images plus 2,900 others
    for i in unlabelled:
        (paths["unlabelled"]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(paths["unlabelled"] / f"u_{i:05d}.png")
    marker.write_text("written by benchmarks/strategies_comparison.py\n")
    return paths


def prepare_digits_few(root: Path, digits: Path) -> Path:
    """The digits with 10 labels per class for training (pre-split; validation 10 per class, test the rest)."""
    marker = root / ".complete"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    for folder in sorted(p for p in digits.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.png"))
        files = [files[i] for i in rng.permutation(len(files))]
        for split, part in (("train", files[:10]), ("val", files[10:20]), ("test", files[20:])):
            (root / split / folder.name).mkdir(parents=True, exist_ok=True)
            for f in part:
                shutil.copy(f, root / split / folder.name / f.name)
    marker.write_text("ok\n")
    return root


def base_config(source: Path, runs: Path, name: str, epochs: int, lr: float = 3e-3, batch: int = 32) -> ProjectConfig:
    config = ProjectConfig(name=name, runs_dir=str(runs))
    config.data.source = str(source)
    config.data.val_fraction = 0.15
    config.data.test_fraction = 0.25
    config.preprocessing.image_size = SIZE
    config.preprocessing.cache = "memory"
    config.model.small_cnn.width = 16
    config.model.small_cnn.depth = 3
    config.training.epochs = epochs
    config.training.batch_size = batch
    config.training.lr = lr
    return config


def run(label: str, config: ProjectConfig, results: dict[str, Any], group: str) -> Path:
    started = time.perf_counter()
    result = train(config)
    if result.status != "completed" or result.run_dir is None:
        raise SystemExit(f"{label} failed: {result.reason}")
    seconds = time.perf_counter() - started
    metrics = evaluate.evaluate_run(result.run_dir, "test", bootstrap_samples=200, gallery=0)
    low, high = _interval(metrics)
    row = {"test_accuracy": metrics["accuracy"], "ci95": [low, high], "test_images": metrics["images"],
           "seconds": round(seconds, 1), "run": str(result.run_dir)}
    results.setdefault(group, {})[label] = row
    print(f"  {label:<44} test accuracy {metrics['accuracy']:.3f} [{low:.3f}, {high:.3f}] on {metrics['images']} "
          f"images, {seconds:.0f}s", flush=True)
    return result.run_dir


def _interval(metrics: dict[str, Any]) -> tuple[float, float]:
    ci = (metrics.get("confidence_intervals") or {}).get("accuracy")
    if isinstance(ci, dict):
        return float(ci.get("low", np.nan)), float(ci.get("high", np.nan))
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return float(ci[0]), float(ci[1])
    return float("nan"), float("nan")


def compare_ssl(paths: dict[str, Path], runs: Path, results: dict[str, Any]) -> None:
    print("1. self-supervised pretraining + fine-tuning vs scratch, 10 labels per class (Animal-MNIST)")
    scratch = base_config(paths["few"], runs, "scratch-10", epochs=40, batch=20)
    run("scratch", scratch, results, "ssl")
    ssl = base_config(paths["few"], runs, "simclr-10", epochs=40, batch=20)
    ssl.strategy.name = "self_supervised"
    for key, value in dict(ssl_method="simclr", unlabelled_dir=str(paths["unlabelled"]), pretrain_epochs=10,
                           pretrain_batch_size=256, pretrain_lr=2e-3, temperature=0.2, downstream="fine_tune",
                           unfreeze_blocks=0, finetune_lr=1e-3, lr_decay=0.5).items():
        setattr(ssl.strategy, key, value)
    run_dir = run("SimCLR pretraining (3,000 unlabelled) + fine-tune", ssl, results, "ssl")
    history = json.loads((run_dir / "pretraining.json").read_text())["history"]
    results["ssl"]["pretraining_knn_accuracy"] = [round(h["knn_accuracy"], 3) for h in history]


def source_run(paths: dict[str, Path], runs: Path, results: dict[str, Any]) -> Path:
    print("source: small CNN trained on Animal-MNIST (4,000 images)")
    return run("animal source run", base_config(paths["full"], runs, "animals", epochs=8), results, "source")


def compare_transfer(source: Path, digits: dict[str, Path], runs: Path, results: dict[str, Any]) -> None:
    print("2. transfer from the Animal-MNIST run to the digits vs scratch")
    for setting, folder, epochs in (("10 labels per class", digits["few"], 40), ("all labels", digits["full"], 15)):
        batch = 20 if setting.startswith("10") else 32
        run(f"scratch, {setting}", base_config(folder, runs, "digits-scratch", epochs, batch=batch), results, "transfer")
        config = base_config(folder, runs, "digits-transfer", epochs, batch=batch)
        config.strategy.name, config.strategy.weights, config.strategy.weights_path = "transfer", "run", str(source)
        run(f"transfer (frozen), {setting}", config, results, "transfer")


def compare_features(source: Path, digits: dict[str, Path], runs: Path, results: dict[str, Any]) -> None:
    print("4. feature extraction + logistic regression vs fine-tuning (Animal-MNIST run → digits)")
    for setting, folder, epochs in (("10 labels per class", digits["few"], 40), ("all labels", digits["full"], 15)):
        batch = 20 if setting.startswith("10") else 32
        features = base_config(folder, runs, "digits-features", 1, batch=batch)
        features.strategy.name, features.strategy.weights, features.strategy.weights_path = (
            "feature_extraction", "run", str(source))
        features.strategy.classifier, features.strategy.feature_layers = "logistic", "all_blocks"
        run(f"features (all blocks) + logistic, {setting}", features, results, "features")
        tune = base_config(folder, runs, "digits-finetune", epochs, batch=batch)
        tune.strategy.name, tune.strategy.weights, tune.strategy.weights_path = "fine_tune", "run", str(source)
        tune.strategy.unfreeze_blocks, tune.strategy.finetune_lr = 0, 1e-3
        run(f"fine-tune (all blocks), {setting}", tune, results, "features")


def compare_curriculum(paths: dict[str, Path], runs: Path, results: dict[str, Any]) -> None:
    print("3. curriculum vs random order (Animal-MNIST, 4,000 images, same epochs and steps)")
    run("random order", base_config(paths["full"], runs, "random", epochs=8), results, "curriculum")
    config = base_config(paths["full"], runs, "curriculum", epochs=8)
    config.strategy.name = "curriculum"
    for key, value in dict(scoring="bootstrap", bootstrap_epochs=2, pacing="exponential", start_fraction=0.25,
                           pacing_growth=2.0, step_length=2).items():
        setattr(config.strategy, key, value)
    run("curriculum (bootstrap scoring, exponential)", config, results, "curriculum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/workbench-strategies-benchmark"))
    parser.add_argument("--only", default="ssl,transfer,curriculum,features")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, help="results file (default: DATA_DIR/strategies_comparison.json)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    _wire_evaluation()
    wanted = set(args.only.split(","))
    paths = prepare_animals(args.data_dir / "animals")
    full_digits = write_digits_dataset(args.data_dir / "digits")
    digits = {"full": full_digits, "few": prepare_digits_few(args.data_dir / "digits-10", full_digits)}
    runs = args.data_dir / "runs"
    results: dict[str, Any] = {"image_size": SIZE, "torch_threads": args.threads}
    started = time.perf_counter()
    if "ssl" in wanted:
        compare_ssl(paths, runs, results)
    if wanted & {"transfer", "features"}:
        source = source_run(paths, runs, results)
        if "transfer" in wanted:
            compare_transfer(source, digits, runs, results)
        if "features" in wanted:
            compare_features(source, digits, runs, results)
    if "curriculum" in wanted:
        compare_curriculum(paths, runs, results)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    out = args.output or args.data_dir / "strategies_comparison.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results in {out} ({results['total_seconds']:.0f}s)")


if __name__ == "__main__":
    main()
