"""The pitfall doctor's commands: `workbench lr-find`, `workbench doctor` and `workbench attributions`.

Each prints readable lines (a line per stage on stderr, findings worst first with their fix) and returns the exit
status; `workbench.cli` parses the arguments and turns errors into one message.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path


class _StageLines:
    """Progress as one stderr line per stage ("Reading images ...") rather than a bar: readable in logs too."""

    def __init__(self) -> None:
        self.stage = ""

    def __call__(self, done: int, total: int, message: str) -> None:
        if message != self.stage:
            self.stage = message
            print(f"{message} ...", file=sys.stderr, flush=True)


def lr_table_lines(lrs, losses, suggested: float, current: float, rows: int = 12, width: int = 32) -> list[str]:
    """An ASCII view of loss against rate: `rows` rates spread evenly over the test, each with a bar."""
    import numpy as np

    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    picks = sorted({round(float(i)) for i in np.linspace(0, len(lrs) - 1, min(rows, len(lrs)))})
    low, high = float(np.min(losses)), float(np.max(losses))
    span = high - low or 1.0
    # Mark the shown row nearest (on the log axis) to each rate of interest.
    log_shown = np.log10(lrs[picks])
    marks: dict[int, list[str]] = {}
    for name, rate in (("suggested", suggested), ("current", current)):
        if lrs[0] / 2 <= rate <= lrs[-1] * 2:
            marks.setdefault(picks[int(np.argmin(np.abs(log_shown - np.log10(rate))))], []).append(f"{name} {rate:g}")
    lines = [f"  {'rate':>9}  {'loss':>7}  (the lower the loss, the shorter the bar)"]
    for i in picks:
        bar = "#" * (1 + round(float(losses[i] - low) / span * (width - 1)))
        note = f"  <- {' and '.join(marks[i])}" if i in marks else ""
        lines.append(f"  {lrs[i]:>9.2e}  {losses[i]:>7.4f}  {bar:<{width}}{note}".rstrip())
    return lines


def _write_patch(path: Path, patch: dict, code: str = "", title: str = "") -> str:
    """Set the patch's keys in the project file as a recorded fix (undoable), keeping its relative paths relative
    (load_config would resolve them); returns the change ("training.lr 0.025 → 0.0025") and any conflict."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    from workbench.core.config import config_from_dict, save_config
    from workbench.core.fixes import apply_fix, plan_fix

    raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    config = config_from_dict(raw, source=str(path))
    plan = plan_fix(config, patch, code, title)
    save_config(apply_fix(config, plan, force=True), path)  # asked for by name on the command line; atomic
    return plan.text() + "".join(f"\n  note: this undoes an earlier fix: {c}" for c in plan.conflicts)


def cmd_lr_find(args: argparse.Namespace) -> int:
    from workbench.core.config import load_config
    from workbench.core.diagnostics.lr_finder import find_learning_rate, lr_curve_png

    config = load_config(args.project)
    result = find_learning_rate(config, steps=args.steps, start=args.start, end=args.end, progress=_StageLines())
    print(f"Learning-rate range test: {len(result.lrs)} steps from {result.lrs[0]:.1e} to {result.lrs[-1]:.1e}, "
          f"training the {result.trained_parameters:,} parameters that follow training.lr ({config.strategy.name})")
    print("\n".join(lr_table_lines(result.lrs, result.losses, result.suggested, result.current)))
    finding = result.finding
    print(f"\nSuggested learning rate: {result.suggested:g}   (current: {result.current:g})")
    print(_wrap(finding.explanation))
    if args.plot is not None:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        args.plot.write_bytes(lr_curve_png(result))
        print(f"Curve saved to {args.plot}")
    if args.apply:
        change = _write_patch(args.project, finding.patch, finding.code, finding.title)
        print(f"Applied in {args.project}: {change}")
    else:
        print(f"To use it: workbench lr-find {args.project} --apply  (or set training.lr = {result.suggested:g})")
    return 0


def _wrap(text: str, first: str = "", rest: str | None = None) -> str:
    """Text wrapped at 100 columns, never inside a hyphenated word ("lower-capacity")."""
    return textwrap.fill(text, width=100, initial_indent=first, subsequent_indent=first if rest is None else rest,
                         break_on_hyphens=False)


def _setting(value: object) -> str:
    """A patch value as it reads in a TOML file (true, 0.5, "zscore")."""
    import json

    return json.dumps(value)


def _print_finding(finding) -> None:
    """A finding as the CLI shows it: severity and title, the explanation, the fix and its one-click settings."""
    print(f"\n[{finding.severity.upper()}] {finding.title}")
    print(_wrap(finding.explanation, "    "))
    if finding.fix:
        print(_wrap(f"Fix: {finding.fix}", "    ", "         "))
    for key, value in finding.patch.items():
        print(f"    set {key} = {_setting(value)}")


def cmd_doctor(args: argparse.Namespace) -> int:
    import json

    from workbench.core.config import load_config
    from workbench.core.data.pipeline import prepare_data
    from workbench.core.diagnostics import PROBLEM
    from workbench.core.diagnostics.check_store import checked_data
    from workbench.core.diagnostics.findings import plain, severity_rank

    config = load_config(args.project)
    stages = _StageLines()
    names = {"scan": "Finding images", "decode": "Reading images"}
    prepared = prepare_data(config, stage_progress=lambda stage, done, total: stages(done, total, names.get(stage, stage)))
    stored = checked_data(prepared, config, progress=lambda done, total: stages(done, total, "Checking the data"))
    findings = stored.findings
    if stored.reused:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(stored.created))
        print(f"(stored results of this dataset and these settings, checked {when}, were reused)")
    findings = sorted(findings, key=lambda f: -severity_rank(f.severity))  # worst first (stable)
    counts = {s: sum(f.severity == s for f in findings) for s in ("problem", "warning", "info")}
    print(f"Data checks of {args.project} ({len(prepared.splits)} images): "
          f"{counts['problem']} problem(s), {counts['warning']} warning(s), {counts['info']} note(s)")
    for finding in findings:
        _print_finding(finding)
    if not findings:
        print("No pitfalls found in the data.")
    if args.json is not None:
        rows = [{"code": f.code, "severity": f.severity, "title": f.title, "explanation": f.explanation, "fix": f.fix,
                 "evidence": plain(dict(f.evidence)), "pane": f.pane, "patch": plain(dict(f.patch)),
                 "paper_item": f.paper_item} for f in findings]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"project": str(args.project), "findings": rows}, indent=2), encoding="utf-8")
        print(f"\nFindings written to {args.json}")
    return 1 if any(f.severity == PROBLEM for f in findings) else 0


def cmd_attributions(args: argparse.Namespace) -> int:
    from workbench.core.diagnostics import PROBLEM, attribution_maps_for_run

    stages = _StageLines()
    result = attribution_maps_for_run(args.run, method=args.method, max_per_class=args.per_class,
                                      progress=lambda stage, done, total: stages(done, total, stage))
    print(f"Attribution maps ({result.method}) of {len(result.class_names)} class(es) on validation images, "
          f"saved in {result.folder}")
    if result.skipped:
        print(f"No map for {', '.join(result.skipped)}: fewer than 3 correctly predicted validation images.")
    for finding in result.findings:
        _print_finding(finding)
    if not result.findings:
        print("No class rests on a fixed small region or the border.")
    return 1 if any(f.severity == PROBLEM for f in result.findings) else 0
