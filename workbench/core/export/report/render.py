"""The report as one self-contained HTML page (figures embedded as base64 PNG).

The HTML keeps to what both browsers and Qt's QTextDocument lay out well (headings, paragraphs,
tables with border attributes, images with a width), so the same page becomes the PDF.
"""

from __future__ import annotations

from typing import Any

import workbench.core.export.report.plots as plots
from workbench.core.export.report.checklists import pitfall_checklist, reporting_checklist
from workbench.core.export.report.html import STYLE, anchor_of, badge, esc, heading, image, note, num, table, warn
from workbench.core.export.report.sections_doctor import section_findings, section_tried, settings_table
from workbench.core.export.report.sections_extras import (
    confusion_images,
    section_external,
    section_gallery,
    section_robustness,
    section_tta,
)
from workbench.core.export.report.settings import section_full_config

SECTIONS = (
    "Summary",
    "Data card",
    "Pitfall checklist",
    "Findings",
    "Configuration and reproducibility",
    "Training curves",
    "Feature projection",
    "Evaluation",
    "Misclassified gallery",
    "Test-time augmentation",
    "Robustness",
    "External validation",
    "What was tried",
    "Reporting checklist",
    "Full configuration",
)
# --- sections --------------------------------------------------------------------------------------


def section_summary(d: dict[str, Any]) -> str:
    cfg, status = d["config"], d["status"]
    m = d.get("eval_metrics") or {}
    split_name = "locked test set" if d["eval_split"] == "test" else "validation split"
    rows = [
        ("Project", cfg.get("name", "?")),
        ("Run", d["run_id"]),
        ("Status", f"{status.get('status', '?')}, {d['epochs_run']} epoch(s), best epoch {status.get('best_epoch', '?')}"),
        ("Model", f"{cfg.get('model', {}).get('architecture', '?')}"
                  + (f" ({d['parameter_count']:,} parameters)" if d.get("parameter_count") else "")),
        ("Classes", f"{len(d['class_names'])}: {', '.join(map(str, d['class_names'][:20]))}"
                    + (" …" if len(d["class_names"]) > 20 else "")),
        ("Test-set looks", f"{d['test_uses'].get('run_uses', 0)} by this run, {d['test_uses'].get('project_uses', 0)} "
                           "by all runs of this user on these test images (by content, in any folder, deleted runs "
                           "included)"),
        ("Runs on this dataset", f"{len(d.get('tried') or [])} (see 'What was tried')"),
        ("Report written", d["generated"]),
    ]
    base = d.get("baselines") or {}
    if m:
        ci = m.get("confidence_intervals", {})
        for key in ("accuracy", "balanced_accuracy", "macro_f1"):
            interval = ci.get(key, {})
            extra = f" (95% CI {num(interval.get('low'))}–{num(interval.get('high'))})" if "low" in interval else ""
            rows.append((f"{key.replace('_', ' ').capitalize()} ({split_name})", f"{num(m.get(key))}{extra}"
                         + baseline_text(base, key)))
    out = [table(("Item", "Value"), rows)]
    if d["eval_split"] != "test":
        out.append(warn("The locked test set has not been evaluated. The figures below are from the validation split, "
                        "which chose the epoch and is therefore optimistic."))
    for text in d.get("notes", []):
        out.append(note(text))
    return "".join(out)


def baseline_text(base: dict[str, Any], key: str) -> str:
    """The baselines a score must beat, in words: majority-class rule and chance."""
    if not base or key not in ("accuracy", "balanced_accuracy"):
        return ""
    majority = base["majority_accuracy"] if key == "accuracy" else base["majority_balanced_accuracy"]
    return (f"; always '{base['majority_class']}' would score {num(majority)}, chance is {num(base['chance_accuracy'])} "
            f"(1/{base['classes']})")


def section_data(d: dict[str, Any]) -> str:
    report, names = d["data_report"], d["class_names"]
    counts = report.get("class_counts", {})
    sizes = report.get("split_sizes", {})
    out = [table(("Item", "Value"), [
        ("Source", report.get("source", d["config"].get("data", {}).get("source", "?"))),
        ("Layout", report.get("layout", "?")),
        ("Images per split", f"train {sizes.get('train', '?')}, validation {sizes.get('val', '?')}, test {sizes.get('test', '?')}"),
        ("Channels fed to the network", f"{report.get('channels', '?')} (pixel values scaled by {report.get('value_scale', '?')})"),
    ])]
    rows = []
    for i, name in enumerate(names):
        row = [name] + [counts.get(s, [None] * len(names))[i] if i < len(counts.get(s, [])) else "—"
                        for s in ("train", "val", "test")]
        rows.append([*row, sum(v for v in row[1:] if isinstance(v, int))])
    out.append("<h3>Images per class</h3>" + table(("Class", "Train", "Validation", "Test", "Total"), rows))
    if counts:
        out.append(image(plots.class_counts_png(names, counts), 560, "images per class"))
    sizes_info = d.get("image_sizes") or {}
    if sizes_info:
        common = ", ".join(f"{k} ({v})" for k, v in sizes_info.get("most_common", []))
        w, h = sizes_info["width"], sizes_info["height"]
        out.append("<h3>Image sizes</h3>" + table(("Item", "Value"), [
            ("Files checked", f"{sizes_info['checked']} of {sizes_info['of']}"),
            ("Width (min / median / max)", f"{w[0]} / {w[1]} / {w[2]} px"),
            ("Height (min / median / max)", f"{h[0]} / {h[1]} / {h[2]} px"),
            ("Most common sizes", common),
            ("Pixel modes", ", ".join(f"{k}: {v}" for k, v in sizes_info.get("modes", {}).items())),
            ("Network input", f"{d['config'].get('preprocessing', {}).get('image_size', '?')} px square, "
                              f"'{d['config'].get('preprocessing', {}).get('resize_mode', '?')}'"),
        ]))
    stats = d.get("norm_stats") or {}
    if stats:
        out.append("<h3>Normalisation statistics (training split only)</h3>" + table(("Statistic", "Value"), [
            ("Mode", stats.get("mode")), ("Mean per channel", [round(v, 4) for v in stats.get("mean", [])]),
            ("Standard deviation per channel", [round(v, 4) for v in stats.get("std", [])]),
            ("Minimum / maximum", f"{num(stats.get('minimum'), 4)} / {num(stats.get('maximum'), 4)}"),
        ]))
    skipped = report.get("skipped", [])
    out.append(f"<h3>Skipped files ({len(skipped)})</h3>")
    if skipped:
        out.append(table(("File", "Reason"), [(s.get("path"), s.get("reason")) for s in skipped[:15]]))
        if len(skipped) > 15:
            out.append(note(f"… and {len(skipped) - 15} more (see data_report.json)."))
    else:
        out.append("<p>None: every file could be read.</p>")
    for text in report.get("warnings", []):
        out.append(warn(text))
    from workbench.core.export.report.findings import merged_findings

    findings = merged_findings(d)
    dup = [f for f in findings if any(w in str(f.get("code", "")).lower() for w in ("duplicate", "leak"))]
    out.append("<h3>Duplicates and leakage</h3>")
    if d.get("findings_raw") is None and not (d.get("dataset_record") or {}).get("checked"):
        out.append(note("Not checked: the data diagnostics have not been run for this run (no findings.json)."))
    elif dup:
        out.append(table(("Severity", "Finding", "Explanation"), [(f.get("severity"), f.get("title"), f.get("explanation"))
                                                                   for f in dup]))
    else:
        out.append("<p>No duplicate or leaked images were found by the diagnostics.</p>")
    return "".join(out)


def section_pitfalls(d: dict[str, Any]) -> str:
    rows = []
    for row in pitfall_checklist(d):
        evidence = "<br>".join(esc(e) for e in row["evidence"]) or "<i>no evidence recorded</i>"
        fixes = [f.get("fix") for f in row["findings"] if f.get("fix") and f.get("severity") in ("warning", "problem")]
        if fixes:
            evidence += "<br><b>Fix:</b> " + esc(fixes[0])
        status = badge(row["status"]) + (f"<br>{esc('; '.join(row['basis']))}" if row.get("basis") else "")
        rows.append((str(row["item"]), f"<b>{esc(row['title'])}</b><br>{esc(row['question'])}", status, evidence))
    intro = "<p>The seven-item checklist of Ponti et al. (2021), section II-A. Statuses come from Workbench's " \
            "diagnostics and from the run itself; an item nobody checked is marked NOT CHECKED.</p>"
    return intro + table(("#", "Item", "Status", "Evidence"), rows, raw=True)


def section_config(d: dict[str, Any]) -> str:
    cfg = d["config"]
    versions = ", ".join(f"{k} {v}" for k, v in d["versions"].items())
    hw = d["hardware"]
    rows = [
        ("Split seed / training seed", f"{cfg.get('data', {}).get('seed', '?')} / {cfg.get('training', {}).get('seed', '?')}"),
        ("Deterministic algorithms", cfg.get("training", {}).get("deterministic", "?")),
        ("SHA-256 of split.csv", d["split_sha256"] or "missing"),
        ("Trained on", f"{d['status'].get('device', '?')} (world size {d['status'].get('world_size', 1)})"),
        ("Report machine", f"{hw.get('cpu', '?')}, {hw.get('cpu_cores', '?')} cores"
                           + (f", {hw['memory_gib']} GiB RAM" if "memory_gib" in hw else "")
                           + (f", GPU {hw['gpu']}" if "gpu" in hw else "") + f"; {hw.get('system', '')}"),
        ("Software", versions),
    ]
    export = d.get("export") or {}
    if "onnx_max_abs_diff" in export:
        rows.append(("Latest export", f"{export.get('exported', '?')}: ONNX max |difference| from PyTorch "
                                      f"{export['onnx_max_abs_diff']:.1e} on {export.get('check_images', 'sample images')}"
                                      + ("" if export.get("onnx_passed") else " (ABOVE TOLERANCE)")))
    out = [table(("Item", "Value"), rows)]
    if not d["split_sha_matches"]:
        out.append(warn("split.csv differs from the manifest written at training time: the split was changed afterwards."))
    out.append(settings_table(d))
    out.append(note("The full configuration (config.toml) is the report's last section."))
    return "".join(out)


def section_curves(d: dict[str, Any]) -> str:
    if not d["history"]:
        return note("No epochs were recorded.")
    return image(plots.curves_png(d["history"], d["status"].get("best_epoch")), alt="training curves") + \
        note("Training loss is the mean over each epoch while the weights changed; validation loss is measured after it.")


def section_projection(d: dict[str, Any]) -> str:
    proj = d.get("projection")
    if not proj or not proj.get("points"):
        return note("Not available: no feature projection was saved for this run (projection.json).")
    scores = proj.get("scores") or {}
    measured = (f" In the features themselves, before projecting: k-NN accuracy {scores['knn_accuracy']:.2f}, silhouette "
                f"{scores['silhouette']:.2f}." if {"knn_accuracy", "silhouette"} <= set(scores) else "")
    return image(plots.projection_png(proj, d["class_names"]), 520, "feature projection") + note(
        f"Penultimate-layer features of {len(proj['points'])} validation images after epoch {proj.get('epoch', '?')}, "
        "projected to two dimensions. Well-separated clusters show a useful representation (paper, item 5)." + measured)


def _metric_tables(m: dict[str, Any], base: dict[str, Any] | None = None) -> str:
    ci = m.get("confidence_intervals", {})
    base = base or {}
    majority = {"accuracy": base.get("majority_accuracy"), "balanced_accuracy": base.get("majority_balanced_accuracy"),
                "macro_roc_auc": 0.5 if base else None}
    chance = {"accuracy": base.get("chance_accuracy"), "balanced_accuracy": base.get("chance_accuracy")}
    rows = []
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1"):
        interval = ci.get(key, {})
        rows.append((key.replace("_", " "), num(m.get(key)), f"{num(interval.get('low'))} – {num(interval.get('high'))}",
                     num(majority.get(key)), num(chance.get(key))))
    rows.append(("macro ROC AUC (one-vs-rest)", num(m.get("macro_roc_auc")), "—", num(majority["macro_roc_auc"]), "—"))
    rows.append(("expected calibration error", num(m.get("ece")), "—", "—", "—"))
    samples = next(iter(ci.values()), {}).get("samples", 0) if ci else 0
    headers = ("Metric", "Value", f"95% bootstrap CI ({samples} resamples)",
               f"Always '{base.get('majority_class', '?')}'" if base else "Majority class", "Chance")
    out = "<h3>Headline metrics</h3>" + table(headers, rows)
    if base:
        out += note(f"Baselines on the same {base['images']} images: always predicting the commonest class "
                    f"('{base['majority_class']}'), and guessing uniformly among {base['classes']} classes.")
    per = m.get("per_class", {})
    out += "<h3>Per class</h3>" + table(("Class", "Precision", "Recall", "F1", "Support"), [
        (name, num(v["precision"]), num(v["recall"]), num(v["f1"]), v["support"]) for name, v in per.items()])
    return out


def section_evaluation(d: dict[str, Any]) -> str:
    m = d.get("eval_metrics")
    uses = d["test_uses"]
    out = []
    if d["eval_split"] == "test":
        out.append(f"<p>Evaluated on the <b>locked test set</b> ({m.get('images', m.get('support', '?'))} images, weights of "
                   f"epoch {m.get('checkpoint_epoch', '?')}). The test set has been used <b>{uses.get('run_uses', 0)}</b> "
                   f"time(s) by this run and <b>{uses.get('project_uses', 0)}</b> time(s) by all runs on the same test images"
                   f" ({uses.get('distinct_configs', 0)} distinct configuration(s)).</p>")
        own, project = uses.get("history") or [], uses.get("project_history") or []
        deleted = set(uses.get("deleted_runs") or [])
        history = project if len(project) >= len(own) else own  # uses recorded before the ledger existed
        if history:
            out.append(table(("When", "Run", "Project", "Config hash", "Weights hash", "Accuracy"), [
                (h.get("time"), h.get("run_id", d["run_id"]) + (" (deleted or moved)" if h.get("run_id") in deleted else ""),
                 h.get("project", "—"), str(h.get("config_sha256", ""))[:10], str(h.get("checkpoint_sha256", ""))[:10],
                 num(h.get("accuracy"))) for h in history]))
        partial = m.get("partial_test_set") if m else None
        if partial:
            out.append(warn(f"PARTIAL EVALUATION: {partial['missing']} of {partial['total']} test image(s) were missing "
                            f"and {partial['changed']} changed. These figures are not those of the locked test set."))
        if uses.get("other_test_sets"):
            out.append(note(f"{len(uses['other_test_sets'])} further look(s) by this run at a changed or partial "
                            "version of the test set are not counted above."))
        if uses.get("project_uses", 0) > 1:
            out.append(warn(f"The test set was used {uses['project_uses']} times. Every look at test results that "
                            "influences a later choice makes the test score optimistic."))
    elif m:
        out.append(warn("Validation split shown: the locked test set has not been evaluated yet."))
    if not m:
        return "".join(out) + note("No evaluation results are stored for this run.")
    out.append(_metric_tables(m, d.get("baselines")))
    if m.get("confusion_matrix"):
        out.append("<h3>Confusion matrix</h3>" + confusion_images(m, d["class_names"]))
    if m.get("curves"):
        out.append("<h3>ROC and precision-recall curves</h3>"
                   + image(plots.roc_pr_png(m["curves"]), alt="ROC"))
    if m.get("calibration"):
        out.append("<h3>Calibration</h3>" + image(plots.calibration_png(m["calibration"]), alt="calibration") + note(
            "A well-calibrated model's bars follow the diagonal: of the predictions made with 80% confidence, about "
            "80% are right. ECE is the average gap, weighted by the share of predictions in each bin."))
    return "".join(out)


def section_reporting(d: dict[str, Any]) -> str:
    answered, questions = reporting_checklist(d)
    return ("<p>Modelled on CLAIM (Checklist for Artificial Intelligence in Medical Imaging) and PROBAST (Prediction "
            "model Risk Of Bias ASsessment Tool); items paraphrased. Useful beyond medicine.</p>"
            "<h3>Answered by Workbench</h3>"
            + table(("Source", "Item", "Answer"), [(a["source"], a["item"], a["answer"]) for a in answered])
            + "<h3>Questions only you can answer</h3>"
            + table(("Source", "Item", "Question", "Status"),
                    [(q["source"], q["item"], q["question"], q["status"]) for q in questions]))


RENDERERS = {
    "Summary": section_summary, "Data card": section_data, "Pitfall checklist": section_pitfalls,
    "Configuration and reproducibility": section_config, "Training curves": section_curves,
    "Feature projection": section_projection, "Evaluation": section_evaluation, "Misclassified gallery": section_gallery,
    "Test-time augmentation": section_tta, "Robustness": section_robustness, "External validation": section_external,
    "What was tried": section_tried, "Findings": section_findings, "Reporting checklist": section_reporting,
    "Full configuration": section_full_config,
}


NO_PAGE_BREAK = {"Summary", "Data card", "Feature projection", "Test-time augmentation", "Full configuration"}
SHORT_SECTION = 1500  # characters of markup: a section this short and without a figure shares the page


def starts_page(name: str, body: str) -> bool:
    """A long section starts a new page; a short one (a note that it was not run) follows the previous one,
    so the PDF has no page holding one line."""
    return name not in NO_PAGE_BREAK and ("<img" in body or len(body) > SHORT_SECTION)


def render_html(d: dict[str, Any]) -> str:
    """The whole report; a section that fails to render says so instead of stopping the report."""
    title = f"Workbench report: {d['config'].get('name', '')}, run {d['run_id']}"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{STYLE}</style>"
             f"</head><body><h1>{esc(title)}</h1>",
             f"<p class='note'>Written by Workbench {esc(d['versions'].get('workbench', ''))} on {esc(d['generated'])}.</p>"]
    parts.append("<p>" + " · ".join(f'<a href="#{anchor_of(s)}">{esc(s)}</a>' for s in SECTIONS) + "</p>")
    for number, name in enumerate(SECTIONS, start=1):
        try:
            body = RENDERERS[name](d)
        except Exception as error:  # one broken section must not cost the whole report
            body = warn(f"This section could not be drawn: {type(error).__name__}: {error}")
        parts.append(heading(f"{number}. {name}", anchor_of(name), page_break=starts_page(name, body)) + body)
    parts.append("</body></html>")
    return "".join(parts)
