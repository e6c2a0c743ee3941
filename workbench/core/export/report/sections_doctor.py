"""Report sections of the pitfall doctor and of the search: every finding with its fix, the settings that
differ from the defaults, and every run tried on this dataset."""

from __future__ import annotations

from typing import Any

from workbench.core.export.report.findings import report_findings
from workbench.core.export.report.html import badge, esc, note, num, table, warn
from workbench.core.export.report.settings import changed_settings, show_value

LABELS = {"model.architecture": "model", "strategy.name": "strategy", "training.lr": "learning rate",
          "preprocessing.image_size": "input size"}
STATE_WORDS = {"open": "open", "resolved": "resolved", "withdrawn": "withdrawn", "note": "note"}


def _fix_cell(row: dict[str, Any]) -> str:
    lines = []
    for fix in row["fixes"]:
        if fix.get("inferred"):  # no record of Apply: the suggested setting is simply what this run used
            lines.append(f"<b>suggested setting in effect:</b> {esc(fix['setting'])} = {esc(show_value(fix['to']))} "
                         "(this run's settings; no record of when it was set)")
            continue
        used = "used by this run" if fix["in_run"] else "NOT used by this run"
        lines.append(f"<b>applied:</b> {esc(fix['setting'])}: {esc(show_value(fix['from']))} → "
                     f"{esc(show_value(fix['to']))} ({used})")
    if not lines:
        lines.append("no fix applied" + (f"; suggested: {esc(row['fix'])}" if row["fix"] else ""))
    return "<br>".join(lines)


def _story(history: list[Any]) -> str:
    parts = []
    for entry in history:
        if not isinstance(entry, dict):
            continue
        when = f" at epoch {entry['epoch']}" if entry.get("epoch") is not None else ""
        parts.append(f"{entry.get('status', '?')}{when}" + (f": {entry['note']}" if entry.get("note") else ""))
    return "; ".join(parts)


def section_findings(d: dict[str, Any]) -> str:
    rows = report_findings(d)
    checked = (d.get("dataset_record") or {}).get("checked")
    intro = ("<p>Every finding of the pitfall doctor on this run and its dataset, as the app showed them: the data "
             "checks made before training" + (f" (last on {esc(checked)})" if checked else " (none stored)")
             + " and the run's own checks (data, training and end of run). A fix names the setting it changed.</p>")
    if not rows:
        if d.get("findings_raw") is None and not checked:
            return intro + note("No findings are stored: the diagnostics did not run for this run (no findings.json).")
        return intro + "<p>No findings: the checks that ran raised nothing.</p>"
    open_rows = [r for r in rows if r["state"] == "open"]
    body = []
    for row in rows:
        text = f"<b>{esc(row['title'])}</b> <font color='#707b7c'>[{esc(row['code'])}]</font><br>{esc(row['explanation'])}"
        if row["evidence"]:
            text += f"<br><b>Evidence:</b> {esc(row['evidence'])}"
        if row["first"] is not None:
            text += (f"<br><i>First raised by the data checks before the run as {esc(row['first'].get('severity'))}: "
                     f"{esc(row['first'].get('title'))}</i>")
        story = _story(row["history"])
        if story:
            text += f"<br><i>History: {esc(story)}</i>"
        text += f"<br><i>Source: {esc(row['source'])}" + (f"; checklist item {row['item']}" if row["item"] else "") + "</i>"
        state = f"<b>{esc(STATE_WORDS.get(row['state'], row['state']).upper())}</b><br>{esc(row['why'])}"
        body.append((badge(row["severity"] if row["severity"] != "info" else "note"), text, _fix_cell(row), state))
    summary = f"<p>{len(rows)} finding(s): {len(open_rows)} open, " \
              f"{sum(r['state'] in ('resolved', 'withdrawn') for r in rows)} resolved, " \
              f"{sum(r['state'] == 'note' for r in rows)} note(s).</p>"
    return intro + summary + table(("Severity", "Finding and evidence", "Fix", "State"), body, raw=True)


def settings_table(d: dict[str, Any]) -> str:
    """Every setting that differs from the defaults, with its value and the default."""
    rows = [(key, show_value(value), show_value(default)) for key, value, default in changed_settings(d["config"])
            if key != "diagnostics.applied_fixes"]
    fixes = ((d["config"].get("diagnostics") or {}).get("applied_fixes")) or []
    out = "<h3>Settings that differ from the defaults</h3>"
    out += table(("Setting", "Value", "Default"), rows) if rows else "<p>None: every setting has its default value.</p>"
    if fixes:
        out += note(f"{len(fixes)} of these changes came from the pitfall doctor's fixes; see the findings section.")
    return out


def section_tried(d: dict[str, Any]) -> str:
    runs = d.get("tried") or []
    if not runs:
        return note("No run folder on this dataset could be read besides the reported one.")
    rows = []
    for run in runs:
        best = run["best_metrics"]
        score = ", ".join(f"{k.replace('_', ' ')} {num(best[k])}" for k in ("balanced_accuracy", "accuracy", "val_loss")
                          if isinstance(best.get(k), (int, float)))
        settings = "; ".join(f"{LABELS.get(k, k.split('.')[-1].replace('_', ' '))} {show_value(v)}"
                             for k, v in run["key_settings"].items())
        rows.append((("<b>" + esc(run["id"]) + " (this report)</b>") if run["this"] else esc(run["id"]),
                     esc(f"{run['status']}, {run['epochs_run'] if run['epochs_run'] is not None else '?'} epoch(s)"),
                     esc(settings), esc(score or "—"), esc(run["test_looks"])))
    out = (f"<p>{len(runs)} run(s) on this dataset, oldest first, found in the runs folder and in the test-set ledger. "
           "A model chosen among many looks better than it is; report how many were tried (PROBAST, selective "
           "reporting). Validation scores are at each run's best epoch.</p>"
           + table(("Run", "Status", "Strategy, model and key settings", "Best validation score", "Test looks"), rows,
                   raw=True))
    deleted = (d.get("test_uses") or {}).get("deleted_runs") or []
    if deleted:
        out += warn(f"{len(deleted)} run(s) that looked at this test set no longer exist (deleted or moved): "
                    f"{', '.join(deleted)}. Their looks still count.")
    return out
