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
from typing import Any

from workbench.core import checklist
from workbench.core.export.report.findings import checked_sources, merged_findings
from workbench.core.export.report.settings import augmentation_text

PITFALLS: tuple[tuple[int, str, str], ...] = (
    (1, "Input representation is fair", "Is the class-distinguishing detail still visible at the network's input size?"),
    (2, "Input data is normalised", "Are pixel values scaled with statistics of the training split only?"),
    (3, "Data has quality", "Are there unreadable, blank, duplicated, leaked or mislabelled images?"),
    (4, "Loss and metrics make sense", "Does the loss start near ln(C) and fall smoothly; do the metrics suit the task?"),
    (5, "Projected features have structure", "Do the learned features separate the classes in a 2-D projection?"),
    (6, "Tuning used validation, never the test set", "Was every choice made on validation data, and the test set used once?"),
    (7, "Internal and external validation", "Was the model checked on data from another source?"),
)

TO_COMPLETE = "to be completed by the authors"  # never "passed": Workbench holds no evidence for these
STATUS_ORDER = ("problem", "warning", "note", "passed", "not checked")


def finding_item(finding: dict[str, Any]) -> int | None:
    """The pitfall (1–7) a finding belongs to: the rule the in-app checklist uses."""
    return checklist.checklist_item(finding)


def normalise_findings(raw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(findings, checks run) from findings.json, which is a list of findings or {findings, checks}."""
    if isinstance(raw, list):
        return [f for f in raw if isinstance(f, dict)], []
    if isinstance(raw, dict):
        findings = [f for f in raw.get("findings", []) if isinstance(f, dict)]
        checks = raw.get("checks") or raw.get("checks_run") or []
        return findings, [c if isinstance(c, dict) else {"name": str(c)} for c in checks]
    return [], []


def pitfall_checklist(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per pitfall: status, evidence lines and the findings behind it, decided by the app's rule
    (`workbench.core.checklist.item_statuses`) from the run's and the dataset's findings."""
    own: dict[int, list[tuple[str, str]]] = {n: [] for n, _, _ in PITFALLS}
    _own_evidence(own, data)
    statuses = checklist.item_statuses(merged_findings(data), checked_sources(data), own)
    rows = []
    for number, title, question in PITFALLS:
        status = statuses[number]
        lines = [f"{f.get('severity', 'info')}: {f.get('title', f.get('code', ''))}" for f in status.findings]
        lines += [text for _, text in status.evidence]
        rows.append({"item": number, "title": title, "question": question, "status": status.status,
                     "status_line": checklist.status_line(status), "basis": status.basis,
                     "evidence": lines, "findings": status.findings})
    return rows


def _own_evidence(rows: dict[int, list[tuple[str, str]]], data: dict[str, Any]) -> None:
    """What Workbench knows about items 2, 4, 5, 6 and 7 without running any diagnostic."""
    stats = data.get("norm_stats") or {}

    def add(item: int, text: str, severity: str = "info") -> None:
        rows[item].append((severity, text))

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
        _projection_evidence(data["projection"], add)
    uses = data.get("test_uses") or {}
    model_selection = f"best epoch chosen on the validation split by {data.get('monitor', 'val_loss')}"
    n = int(uses.get("project_uses", 0) or 0)
    if n == 0:
        add(6, f"{model_selection}; the test set has not been used yet, so this item is decided at its first "
               "look", "pending")
    elif n == 1:
        add(6, f"{model_selection}; the test set was looked at once (ledger of test-set uses, "
               f"key {str(uses.get('test_set_sha256', ''))[:12]})")
    else:
        configs = int(uses.get("distinct_configs", 1) or 1)
        add(6, f"{model_selection}; the test set was looked at {n} times"
               + (f" with {configs} different configurations" if configs > 1 else ""), "warning")
        for look in uses.get("project_history") or []:
            add(6, f"look on {look.get('time', '?')} by run {look.get('run_id', '?')}"
                   + (f" (project {look['project']})" if look.get("project") else ""), "warning")
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


def _projection_evidence(projection: dict[str, Any], add: Any) -> None:
    """Item 5 from the projection's separability scores; points alone are no evidence of structure."""
    points = f"{len(projection.get('points', []))} points projected ({projection.get('method', 'projection')})"
    try:
        from workbench.core.projection.scores import structure_verdict
    except ImportError:  # an engine without the feature-structure verdict judges the item by the projection alone
        add(5, f"{points}; see the feature projection section")
        return
    verdict = structure_verdict(projection.get("scores") or {}, math.nan)
    if verdict is None:
        add(5, f"{points}, without separability scores: not judged", "warning")
    else:  # the status names the numbers it rests on
        add(5, f"{verdict.title.lower()}: {verdict.evidence['basis']}", verdict.severity)


# --- reporting checklist (CLAIM / PROBAST) -----------------------------------------------------------


def reporting_checklist(data: dict[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(answered items, questions for the author), each a dict with `source`, `item` and `answer`/`question`."""
    cfg = data.get("config") or {}
    pre, model, train, split = cfg.get("preprocessing", {}), cfg.get("model", {}), cfg.get("training", {}), cfg.get("data", {})
    report = data.get("data_report") or {}
    sizes = report.get("split_sizes", {})
    test = data.get("test_metrics") or {}
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
           f"augmentation: {augmentation_text(cfg)}, seed {train.get('seed', '?')}")
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
    tried = data.get("tried") or []
    if tried:
        answer("PROBAST", "Selective reporting (models tried)", f"{len(tried)} run(s) on this dataset, listed with their "
               "settings and validation scores in 'What was tried'")
    base = data.get("baselines") or {}
    if base and test:
        answer("CLAIM", "Comparison with a simple baseline", f"accuracy {test.get('accuracy', float('nan')):.3f} against "
               f"{base['majority_accuracy']:.3f} for always predicting '{base['majority_class']}'; balanced accuracy "
               f"{test.get('balanced_accuracy', float('nan')):.3f} against chance {base['chance_accuracy']:.3f}")
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
        ("CLAIM", "Comparison with experts", "How does the model compare with human readers or an established method?"),
    ]
    return answered, [{"source": s, "item": i, "question": q, "status": TO_COMPLETE} for s, i, q in questions]
