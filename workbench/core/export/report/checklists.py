"""The two checklists of the report: the paper's seven pitfalls, and a reporting checklist after CLAIM and PROBAST.

Pitfall statuses come from the diagnostics' findings (`run_dir/findings.json`) and from what Workbench
itself knows about the run (normalisation, loss curve, projection, test-set uses, external validation).
An item nobody checked says "not checked" rather than pretending to pass.

The reporting checklist is modelled on CLAIM (Checklist for AI in Medical Imaging) and PROBAST (risk of
bias of prediction-model studies); its items are paraphrased. Items Workbench can answer are filled in;
the rest are questions only the author can answer.
"""

from __future__ import annotations

import math
import re
from typing import Any

PITFALLS: tuple[tuple[int, str, str], ...] = (
    (1, "Input representation is fair", "Is the class-distinguishing detail still visible at the network's input size?"),
    (2, "Input data is normalised", "Are pixel values scaled with statistics of the training split only?"),
    (3, "Data has quality", "Are there unreadable, blank, duplicated, leaked or mislabelled images?"),
    (4, "Loss and metrics make sense", "Does the loss start near ln(C) and fall smoothly; do the metrics suit the task?"),
    (5, "Projected features have structure", "Do the learned features separate the classes in a 2-D projection?"),
    (6, "Tuning used validation, never the test set", "Was every choice made on validation data, and the test set used once?"),
    (7, "Internal and external validation", "Was the model checked on data from another source?"),
)

STATUS_ORDER = ("problem", "warning", "passed", "not checked")
_KEYWORDS = {
    1: ("input_size", "representation", "resolution", "resize"),
    2: ("normal", "bit_depth", "intensity"),
    3: ("duplicate", "leak", "unreadable", "blank", "label", "quality", "corrupt"),
    4: ("loss", "nan", "gradient", "dead", "pairing", "output"),
    5: ("projection", "feature", "tsne", "umap"),
    6: ("test_use", "tuning", "overfit"),
    7: ("external", "shortcut"),
}


def finding_item(finding: dict[str, Any]) -> int | None:
    """The pitfall (1–7) a finding belongs to, from its paper item ('II-A.3') or, failing that, its code."""
    evidence = finding.get("evidence") if isinstance(finding.get("evidence"), dict) else {}
    explicit = finding.get("item") or finding.get("checklist_item")
    if isinstance(explicit, int) and 1 <= explicit <= 7:
        return explicit
    paper = str(finding.get("paper_item") or evidence.get("paper_item") or "")
    match = re.match(r"II-A\.(\d)", paper)
    if match and 1 <= int(match.group(1)) <= 7:
        return int(match.group(1))
    code = str(finding.get("code", "")).lower().replace("-", "_")
    for item, words in _KEYWORDS.items():
        if any(w in code for w in words):
            return item
    return None


def normalise_findings(raw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(findings, checks run) from findings.json, which is a list of findings or {findings, checks}."""
    if isinstance(raw, list):
        return [f for f in raw if isinstance(f, dict)], []
    if isinstance(raw, dict):
        findings = [f for f in raw.get("findings", []) if isinstance(f, dict)]
        checks = raw.get("checks") or raw.get("checks_run") or []
        return findings, [c if isinstance(c, dict) else {"name": str(c)} for c in checks]
    return [], []


def _check_item(check: dict[str, Any]) -> int | None:
    if check.get("paper_item"):
        return finding_item({"paper_item": check["paper_item"]})
    try:  # the diagnostics registry knows each check's paper item
        from workbench.core.diagnostics.registry import DIAGNOSTICS

        info = DIAGNOSTICS.get(str(check.get("name")))
        return finding_item({"paper_item": info.paper_item}) if info else None
    except Exception:
        return None


def _worst(severities: list[str]) -> str:
    if "problem" in severities or "error" in severities:
        return "problem"
    if "warning" in severities:
        return "warning"
    return "passed"


def pitfall_checklist(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per pitfall: status, evidence lines and the findings behind it."""
    findings, checks = normalise_findings(data.get("findings_raw"))
    rows = {n: {"item": n, "title": t, "question": q, "status": "not checked", "evidence": [], "findings": []}
            for n, t, q in PITFALLS}
    for finding in findings:
        item = finding_item(finding)
        if item is None:
            continue
        rows[item]["findings"].append(finding)
        rows[item]["evidence"].append(f"{finding.get('severity', 'info')}: {finding.get('title', finding.get('code', ''))}")
    for check in checks:
        item = _check_item(check)
        if item is not None:
            rows[item]["evidence"].append(f"check run: {check.get('label') or check.get('name')}")
            rows[item]["checked"] = True
    _own_evidence(rows, data)
    for row in rows.values():
        severities = [str(f.get("severity", "info")) for f in row["findings"]] + row.pop("own_severities", [])
        if severities or row.pop("checked", False):
            row["status"] = _worst(severities)
    return list(rows.values())


def _own_evidence(rows: dict[int, dict[str, Any]], data: dict[str, Any]) -> None:
    """What Workbench knows about items 2, 4, 5, 6 and 7 without running any diagnostic."""
    stats = data.get("norm_stats") or {}

    def add(item: int, text: str, severity: str = "info") -> None:
        rows[item]["evidence"].append(text)
        rows[item].setdefault("own_severities", []).append(severity)

    if stats:
        mode = stats.get("mode", "?")
        if mode == "none":
            add(2, "normalisation is off: raw pixel values reach the network", "warning")
        else:
            add(2, f"{mode} normalisation with statistics of the training split only (mean "
                   f"{[round(m, 3) for m in stats.get('mean', [])]}, std {[round(s, 3) for s in stats.get('std', [])]})")
    history = data.get("history") or []
    classes = data.get("class_names") or []
    if history and classes:
        first = history[0].get("train_loss")
        expected = math.log(max(len(classes), 2))
        last_val = history[-1].get("val_loss")
        if isinstance(first, (int, float)) and math.isfinite(first):
            severity = "warning" if first > 3 * expected else "info"
            add(4, f"first-epoch training loss {first:.3f} against ln(C) = {expected:.3f} for a uniform guess "
                   "(the first epoch's mean already includes learning)", severity)
        if isinstance(last_val, (int, float)) and math.isfinite(last_val):
            add(4, f"loss curves recorded for {len(history)} epoch(s); final validation loss {last_val:.3f}")
    if data.get("projection"):
        add(5, f"{len(data['projection'].get('points', []))} points projected "
               f"({data['projection'].get('method', 'projection')}); see the feature projection section")
    uses = data.get("test_uses") or {}
    model_selection = f"best epoch chosen on the validation split by {data.get('monitor', 'val_loss')}"
    n = int(uses.get("project_uses", 0) or 0)
    if n == 0:
        add(6, f"{model_selection}; the test set has not been used yet")
    elif n == 1:
        add(6, f"{model_selection}; the test set was used once")
    else:
        changed = int(uses.get("distinct_configs", 1) or 1) > 1
        add(6, f"{model_selection}; the test set was used {n} times"
               + (f" with {uses.get('distinct_configs')} different configurations" if changed else ""), "warning")
    externals = data.get("external") or []
    if externals:
        for ext in externals:
            drop = (ext.get("difference_to_internal") or {}).get("balanced_accuracy")
            text = f"external set '{ext.get('name')}' ({ext.get('images')} images): balanced accuracy " \
                   f"{ext.get('balanced_accuracy', float('nan')):.3f}"
            severity = "info"
            if isinstance(drop, (int, float)):
                text += f" ({drop:+.3f} against the internal test set)"
                severity = "warning" if drop < -0.1 else "info"
            add(7, text, severity)
    elif uses.get("project_uses"):
        add(7, "internal test set evaluated; no external validation yet", "warning")


# --- reporting checklist (CLAIM / PROBAST) -----------------------------------------------------------


def reporting_checklist(data: dict[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(answered items, questions for the author), each a dict with `source`, `item` and `answer`/`question`."""
    cfg = data.get("config") or {}
    pre, model, train, split = cfg.get("preprocessing", {}), cfg.get("model", {}), cfg.get("training", {}), cfg.get("data", {})
    report = data.get("data_report") or {}
    sizes = report.get("split_sizes", {})
    test = data.get("test_metrics") or {}
    aug = pre.get("augmentation", {})
    augs = [k for k, v in aug.items() if v not in (False, 0, 0.0, 1.0)] if aug else []
    uses = data.get("test_uses") or {}
    answered: list[dict[str, str]] = []

    def answer(source: str, item: str, text: str) -> None:
        answered.append({"source": source, "item": item, "answer": text})

    answer("CLAIM", "Data source", f"{report.get('source', split.get('source', '?'))} (layout {report.get('layout', '?')})")
    channels = report.get("channels") or pre.get("channels", "?")
    answer("CLAIM", "Data preprocessing", f"{channels} channels, resized to {pre.get('image_size', '?')} px "
           f"by '{pre.get('resize_mode', '?')}', {pre.get('normalization', '?')} normalisation from the training split; "
           f"{len(report.get('skipped', []))} unreadable file(s) left out")
    answer("CLAIM", "Partitioning of the data", f"train {sizes.get('train', '?')} / validation {sizes.get('val', '?')} / "
           f"test {sizes.get('test', '?')} images, {'stratified' if split.get('stratified') else 'random'} split with seed "
           f"{split.get('seed', '?')}; manifest SHA-256 {str(data.get('split_sha256', '?'))[:16]}…")
    params = data.get("parameter_count")
    answer("CLAIM", "Model", f"{model.get('architecture', '?')}"
           + (f", {params:,} parameters" if isinstance(params, int) else "")
           + (", pretrained initialisation" if model.get("pretrained") else ", random initialisation"))
    answer("CLAIM", "Training", f"{train.get('optimizer', '?')}, learning rate {train.get('lr', '?')}, batch size "
           f"{train.get('batch_size', '?')}, {data.get('epochs_run', '?')} epoch(s) run, schedule {train.get('scheduler', '?')}, "
           f"augmentation: {', '.join(augs) if augs else 'none'}, seed {train.get('seed', '?')}")
    answer("CLAIM", "Model selection", f"the epoch with the best {train.get('monitor', '?')} on the validation split")
    if test:
        ci = (test.get("confidence_intervals") or {}).get("balanced_accuracy") or {}
        answer("CLAIM", "Performance with uncertainty", f"balanced accuracy {test.get('balanced_accuracy', float('nan')):.3f}"
               + (f" (95% bootstrap CI {ci['low']:.3f}–{ci['high']:.3f}, {ci.get('samples')} resamples)" if "low" in ci else "")
               + f"; macro F1 {test.get('macro_f1', float('nan')):.3f}; per-class figures in the evaluation section")
        answer("PROBAST", "Discrimination and calibration", f"one-vs-rest ROC AUC (macro) {test.get('macro_roc_auc', float('nan')):.3f}; "
               f"expected calibration error {test.get('ece', float('nan')):.3f}")
        answer("PROBAST", "Overfitting and optimism", f"held-out test set used {uses.get('project_uses', 0)} time(s); "
               "selection on a separate validation split")
    else:
        answer("CLAIM", "Performance with uncertainty", "the locked test set has not been evaluated yet")
    answer("CLAIM", "Test-time augmentation and ensembling", (
        f"TTA with {', '.join((data.get('tta') or {}).get('augmentation_labels', []))} "
        f"({(data.get('tta') or {}).get('rule_label', '')})") if data.get("tta") else "none used for the reported figures")
    answer("CLAIM", "Robustness analysis", (data.get("robustness") or {}).get("summary", "not performed"))
    answer("CLAIM", "Failure analysis", f"{len(data.get('gallery') or [])} most confident errors shown with saliency maps"
           if data.get("gallery") else "no misclassified gallery")
    answer("CLAIM", "External validation", "; ".join(f"{e.get('name')} ({e.get('images')} images)" for e in data["external"])
           if data.get("external") else "none: performance on data from another source is unknown")
    answer("PROBAST", "Number of outcome events", ", ".join(f"{c}: {n}" for c, n in zip(
        data.get("class_names") or [], (report.get("class_counts") or {}).get("train", []), strict=False)) + " training images")
    answer("CLAIM", "Software and availability", f"Workbench {data.get('versions', {}).get('workbench', '?')}; "
           "the model can be exported as a .wbmodel bundle, TorchScript and ONNX")

    questions = [
        ("CLAIM", "Study design and aim", "What question does the model answer, and what is its intended use and role in practice?"),
        ("CLAIM", "Ground truth", "How were the labels obtained (by whom, with what expertise, with what instructions)? "
         "How consistent are they between annotators?"),
        ("PROBAST", "Participants", "Where, when and how were the imaged subjects or specimens selected? What were the "
         "inclusion and exclusion criteria?"),
        ("CLAIM", "Independence of the splits", "Are all images of one patient, specimen, site or session in a single split? "
         "(Workbench checks for duplicate images, not for shared subjects.)"),
        ("PROBAST", "Predictors", "Will images at prediction time be acquired the same way (instrument, settings, "
         "preprocessing) as the training images?"),
        ("PROBAST", "Outcome", "Was the label determined without knowledge of the image-based prediction, and in the same "
         "way for every subject?"),
        ("CLAIM", "Sample size", "Why is this number of images enough? Are rare classes represented well enough?"),
        ("CLAIM", "Demographics and subgroups", "How does performance differ between relevant subgroups (sex, age, site, "
         "instrument)?"),
        ("PROBAST", "Applicability", "Does the population of the data match the population where the model will be used?"),
        ("CLAIM", "Comparison with experts or baselines", "How does the model compare with human readers or a simpler method?"),
    ]
    return answered, [{"source": s, "item": i, "question": q} for s, i, q in questions]
