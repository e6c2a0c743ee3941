"""The model card: a short Markdown description of what a model is, how it was made and how good it is."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from workbench.core.run_folder import RunFolder
from workbench.core.runs import read_json

if TYPE_CHECKING:
    from workbench.core.evaluation.loaded_run import LoadedRun


def _fmt(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "—"


def _ci(intervals: dict[str, Any], key: str) -> str:
    ci = intervals.get(key) or {}
    if not isinstance(ci.get("low"), (int, float)):
        return ""
    return f" (95% CI {ci['low']:.3f}–{ci['high']:.3f})"


def model_card_markdown(run: LoadedRun, metrics: dict[str, Any]) -> str:
    """The card for `run`, with `metrics` as written into the bundle (see bundle.bundle_metrics)."""
    cfg = run.config
    report = read_json(RunFolder(run.run_dir).data_report, {}) if run.kind == "run" else {}
    params = sum(p.numel() for p in run.model.parameters())
    size = cfg.preprocessing.image_size
    lines = [
        f"# Model card: {cfg.name}",
        "",
        f"Made with Workbench on {time.strftime('%Y-%m-%d')} from run `{run.run_dir.stem}` (weights of epoch "
        f"{run.checkpoint_epoch}, the best on the validation split by {cfg.training.monitor}).",
        "",
        "## Model",
        f"- Architecture: `{cfg.model.architecture}` ({params:,} parameters), strategy `{cfg.strategy.name}`"
        + (", starting from pretrained weights" if cfg.model.pretrained else ", trained from scratch"),
        f"- Classes ({len(run.class_names)}): " + ", ".join(f"`{c}`" for c in run.class_names),
        f"- Input: {run.in_channels} channel(s) ({run.channels}), {size}×{size} pixels, resized by "
        f"'{cfg.preprocessing.resize_mode}'",
        f"- Normalisation: {run.stats.mode}, statistics of the training split only: mean "
        f"{[round(m, 4) for m in run.stats.mean]}, std {[round(s, 4) for s in run.stats.std]}",
        "",
        "## Training data",
    ]
    if report:
        sizes = report.get("split_sizes", {})
        lines += [
            f"- Source: `{report.get('source', cfg.data.source)}` (layout: {report.get('layout', '?')})",
            f"- Images per split: train {sizes.get('train', '?')}, validation {sizes.get('val', '?')}, "
            f"test {sizes.get('test', '?')} (split seed {cfg.data.seed}, "
            f"{'stratified' if cfg.data.stratified else 'not stratified'})",
            f"- Skipped files: {len(report.get('skipped', []))}",
            f"- Split manifest SHA-256: `{report.get('manifest_sha256', '?')}`",
        ]
    else:
        lines.append(f"- Source: `{cfg.data.source}`")
    t = cfg.training
    lines += [
        f"- Training: {t.optimizer}, learning rate {t.lr:g}, batch size {t.batch_size}, {t.epochs} epoch(s), "
        f"schedule {t.scheduler}, seed {t.seed}",
        "",
        "## Performance",
    ]
    val = metrics.get("best_val_metrics") or {}
    if val:
        lines.append("- Validation (used to choose the epoch; optimistic): " + ", ".join(
            f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in val.items()))
    test = metrics.get("test") or {}
    if test:
        intervals = metrics.get("test_confidence_intervals") or {}
        uses = metrics.get("project_test_uses") or metrics.get("test_uses") or 0
        lines.append(f"- Locked test set (used {uses} time(s)): " + ", ".join(
            f"{k.replace('_', ' ')} {_fmt(v)}{_ci(intervals, k)}" for k, v in test.items()))
        if uses and uses > 1:
            lines.append("  - The test set was used more than once; the test score may be optimistic.")
    else:
        lines.append("- The locked test set has not been evaluated: the only figures are validation figures.")
    for ext in metrics.get("external") or []:
        lines.append(f"- External set `{ext.get('name')}` ({ext.get('images')} images): accuracy "
                     f"{_fmt(ext.get('accuracy'))}, balanced accuracy {_fmt(ext.get('balanced_accuracy'))}")
    if not metrics.get("external"):
        lines.append("- No external validation: performance on data from another source is unknown.")
    lines += [
        "",
        "## Intended use and limits (to be completed by the author)",
        "- What is the model for, and who will use its output?",
        "- Which populations, instruments and sites does the training data cover, and which not?",
        "- How were the labels obtained, and how reliable are they?",
        "- What happens when the model is wrong, and who checks its output?",
        "",
        "## How to use",
        "- In Workbench: `workbench predict THIS_FILE.wbmodel IMAGES_FOLDER -o predictions.csv`.",
        "- Elsewhere: `model.safetensors` holds the weights of the architecture in `config.toml`; feed "
        "float tensors N×C×S×S of pixel values divided by `value_scale` (see `preprocessing.json`), normalised "
        "with `norm_stats.json`; the output is logits over the classes in `classes.json`.",
        "",
    ]
    return "\n".join(lines)
