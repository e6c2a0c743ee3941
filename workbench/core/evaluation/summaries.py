"""Plain-text summaries of evaluation, external validation, export and comparison results, for the CLI.

Keeping them here keeps `cli.py` to argument parsing and a few calls.
"""

from __future__ import annotations

from typing import Any

from workbench.core.catalog.tta import TTA_AUGMENTATIONS


def parse_tta(text: str | None) -> list[str]:
    """'hflip,shift' → ['hflip', 'shift']; raises ValueError naming the choices for an unknown name."""
    names = [t.strip() for t in (text or "").split(",") if t.strip()]
    unknown = [n for n in names if n not in TTA_AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown test-time augmentation(s) {', '.join(unknown)}; choose from {', '.join(TTA_AUGMENTATIONS)}")
    return names


def _ci(metrics: dict[str, Any], key: str) -> str:
    ci = (metrics.get("confidence_intervals") or {}).get(key) or {}
    return f"  [{ci['low']:.4f}, {ci['high']:.4f}]" if isinstance(ci.get("low"), float) else ""


def metrics_lines(title: str, metrics: dict[str, Any]) -> list[str]:
    """Headline metrics with 95% intervals, then the per-class table."""
    lines = [title]
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "macro_roc_auc", "ece"):
        if isinstance(metrics.get(key), (int, float)):
            label = {"macro_roc_auc": "macro ROC AUC", "ece": "calibration error"}.get(key, key.replace("_", " "))
            lines.append(f"  {label:<18} {metrics[key]:.4f}{_ci(metrics, key)}")
    per_class = metrics.get("per_class") or {}
    if per_class:
        lines.append(f"  {'class':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>5}")
        for name, m in per_class.items():
            lines.append(f"  {name[:16]:<16} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>5}")
    return lines


def evaluation_lines(result: dict[str, Any]) -> list[str]:
    split = result.get("split", "?")
    title = "Locked test set (this use is recorded):" if split == "test" else f"{split} split:"
    lines = metrics_lines(title, result)
    if result.get("baselines"):
        from workbench.core.evaluation.baselines import baseline_line

        lines.append("  " + baseline_line(result["baselines"], result.get("accuracy")))
    if split == "test":
        lines.append(f"  test-set uses: {result.get('test_uses', '?')} by this run, "
                     f"{result.get('project_test_uses', '?')} on these test images in all")
        partial = result.get("partial_test_set")
        if partial:
            lines.append(f"  PARTIAL: {partial['missing']} of {partial['total']} test image(s) missing and "
                         f"{partial['changed']} changed; not comparable with the locked test set")
    tta = result.get("tta")
    if tta:
        lines.append(f"\nTest-time augmentation ({', '.join(tta['augmentations'])}; {tta['rule']}):")
        for key in ("accuracy", "balanced_accuracy", "macro_f1"):
            lines.append(f"  {key.replace('_', ' '):<18} plain {tta['plain'][key]:.4f}   with TTA {tta['tta'][key]:.4f}")
        lines.append(f"  fixed {tta['fixed']}, broke {tta['broken']}, changed {tta['changed']} of {tta['images']}")
    if result.get("robustness"):
        lines.append(f"\nRobustness: {result['robustness']['summary']}")
    if result.get("gallery"):
        lines.append(f"\n{len(result['gallery'])} most confident errors saved with saliency maps in the run's evaluation folder")
    return lines


def external_lines(result: dict[str, Any]) -> list[str]:
    lines = metrics_lines(f"External validation on {result.get('name')} ({result.get('images')} images; "
                          "not the internal test set):", result)
    for key, value in (result.get("difference_to_internal") or {}).items():
        lines.append(f"  {key.replace('_', ' '):<18} {value:+.4f} against the internal test set")
    lines += [f"  note: {w}" for w in result.get("warnings", [])]
    return lines


def export_lines(summary: dict[str, Any]) -> list[str]:
    lines = [f"{kind:<12} {path}" for kind, path in summary.get("files", {}).items()]
    if "onnx_max_abs_diff" in summary:
        verdict = "matches" if summary.get("onnx_passed") else "DIFFERS FROM"
        lines.append(f"ONNX {verdict} PyTorch: max |difference| {summary['onnx_max_abs_diff']:.2e} on "
                     f"{summary.get('check_images', 'sample images')}")
    if "torchscript_max_abs_diff" in summary:
        lines.append(f"TorchScript max |difference| {summary['torchscript_max_abs_diff']:.2e}")
    return lines


def comparison_lines(comparison: dict[str, Any]) -> list[str]:
    ids = [r["id"] for r in comparison["runs"]]
    width = max(12, *(len(i) for i in ids))
    lines = [f"{'metric':<26}" + "".join(f"{i[-width:]:>{width + 2}}" for i in ids)]
    for name, values in comparison["metrics"].items():
        cells = "".join(f"{v:>{width + 2}.4f}" if isinstance(v, (int, float)) else f"{'—':>{width + 2}}"
                        for v in (values.get(i) for i in ids))
        lines.append(f"{name:<26}{cells}")
    if comparison["config_differences"]:
        lines.append("\nsettings that differ:")
        for key, values in comparison["config_differences"].items():
            lines.append(f"  {key}: " + ", ".join(f"{i}={values.get(i)!r}" for i in ids))
    return lines
