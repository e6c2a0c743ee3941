"""Report sections for the evaluation's extras: confusion matrices, the misclassified gallery, test-time
augmentation, robustness to perturbations and external validation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import workbench.core.export.report.plots as plots
from workbench.core.export.report.html import esc, image, note, num, table, warn


def confusion_images(m: dict[str, Any], class_names: Sequence[str], title: str = "Confusion matrix") -> str:
    """Counts and row-normalised shares, one above the other (side by side they would be too small to read)."""
    normalized = m.get("confusion_matrix_normalized")
    if normalized is None:
        from workbench.core.evaluation.metrics import normalize_rows

        normalized = normalize_rows(m["confusion_matrix"]).tolist()
    width = min(470, 260 + 25 * len(class_names))  # a 3-class matrix need not fill the page
    return (image(plots.confusion_png(m["confusion_matrix"], class_names, title), width, "confusion matrix (counts)")
            + image(plots.confusion_png(normalized, class_names, title, normalized=True), width, "confusion matrix (shares)"))


def section_gallery(d: dict[str, Any]) -> str:
    items = d.get("gallery") or []
    if not items:
        if d.get("eval_metrics") and d["eval_metrics"].get("accuracy") == 1.0:
            return note("No misclassified images: every image of the evaluated split was classified correctly.")
        return note("Not available: the misclassified gallery was not computed for this evaluation.")
    folder = Path(d["gallery_dir"])
    cells = []
    for item in items:
        png = folder / item.get("png", "")
        picture = image(png.read_bytes(), 190, "error") if png.is_file() else ""
        cells.append(f"{picture}<b>true:</b> {esc(item['true_label'])}<br><b>predicted:</b> {esc(item['predicted'])} "
                     f"({num(item['confidence'], 2)})<br>p(true) = {num(item['true_probability'], 3)}")
    rows = [cells[i:i + 3] + [""] * (3 - len(cells[i:i + 3])) for i in range(0, len(cells), 3)]
    method = items[0].get("method", "saliency")
    body = "".join("<tr>" + "".join(f'<td valign="top" width="33%">{c}</td>' for c in row) + "</tr>" for row in rows)
    return (f"<p>The {len(items)} most confident errors. Left: the image as the network saw it; right: {esc(method)} "
            "map of the evidence for the wrong class (red: strongest).</p>"
            f'<table border="0" cellspacing="4" cellpadding="4" width="100%">{body}</table>')


def section_tta(d: dict[str, Any]) -> str:
    t = d.get("tta")
    if not t:
        return note("Not run: choose test-time augmentations on the evaluation page (or `workbench eval --tta`).")
    rows = [(k.replace("_", " "), num(t["plain"].get(k)), num(t["tta"].get(k)), f"{t['difference'].get(k, 0):+.3f}")
            for k in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")]
    out = [f"<p>Augmentations: {esc(', '.join(t.get('augmentation_labels', t['augmentations'])))}; {t['views']} views per "
           f"image; rule: {esc(t.get('rule_label', t['rule']))}.</p>",
           table(("Metric", "Plain prediction", "With TTA", "Difference"), rows),
           f"<p>TTA fixed {t['fixed']} prediction(s), broke {t['broken']} and changed {t['changed']} of {t['images']}.</p>",
           "<h3>Accuracy of each view alone</h3>",
           table(("View", "Accuracy"), [(k, num(v)) for k, v in t.get("per_view_accuracy", {}).items()])]
    return "".join(out)


def section_robustness(d: dict[str, Any]) -> str:
    r = d.get("robustness")
    if not r:
        return note("Not run: tick the robustness check on the evaluation page (or `workbench eval --robustness`).")
    import io

    from workbench.core.evaluation.robustness import plot_robustness

    buffer = io.BytesIO()
    plot_robustness(r, buffer)
    metric = r["metric"].replace("_", " ")
    rows = [(row["label"], row["setting"], num(row["accuracy"]), num(row["balanced_accuracy"]), f"{round(-row['drop'], 3) + 0.0:+.3f}",
             "LARGE DROP" if row["flagged"] else ("mild" if row["mild"] else "")) for row in r["rows"]]
    out = [f"<p>Clean {esc(metric)}: <b>{num(r['clean'][r['metric']])}</b> on {r['images']} images of the "
           f"{esc(r['split'])} split. Each perturbation is applied at four strengths, mildest first.</p>",
           (warn(r["summary"]) if r.get("flagged") else f"<p>{esc(r['summary'])}</p>"),
           image(buffer.getvalue(), alt="robustness"),
           table(("Perturbation", "Strength", "Accuracy", "Balanced accuracy", f"Change in {metric}", "Flag"), rows)]
    return "".join(out)


def section_external(d: dict[str, Any]) -> str:
    externals = d.get("external") or []
    if not externals:
        return note("No external validation yet. Evaluating on a separately collected dataset (another site, instrument "
                    "or time) is the best evidence that the model generalises (paper, item 7).")
    out = []
    for e in externals:
        internal = e.get("internal_test") or {}
        out.append(f"<h3>{esc(e.get('name'))}</h3><p>{esc(e.get('source'))}: {e.get('images')} images, evaluated "
                   f"{esc(e.get('evaluated', ''))}. Reported separately from the internal test set.</p>")
        ci = e.get("confidence_intervals", {})
        rows = [(k.replace("_", " "), num(e.get(k)), f"{num(ci.get(k, {}).get('low'))} – {num(ci.get(k, {}).get('high'))}",
                 num(internal.get(k)), f"{e['difference_to_internal'][k]:+.3f}" if k in e.get("difference_to_internal", {}) else "—")
                for k in ("accuracy", "balanced_accuracy", "macro_f1")]
        out.append(table(("Metric", "External", "95% CI", "Internal test", "Difference"), rows))
        for text in e.get("warnings", []):
            out.append(warn(text))
        if e.get("confusion_matrix"):
            out.append(confusion_images(e, d["class_names"], "External set"))
    return "".join(out)
