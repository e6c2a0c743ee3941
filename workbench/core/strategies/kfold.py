"""k-fold cross-validation of any strategy: k runs on the same training pool, each validated on its own fold.

The test split is set aside before the folds are cut (data/splits.py) and no fold run touches it. The
folds' best validation metrics are summarised as mean ± standard deviation (sample std, n − 1) and
written to `kfold-<first run id>.json` in the runs folder. A stopped cross-validation continues from that
file (`resume`): finished folds are kept, the stopped fold continues from its checkpoint, the rest run.

When the folds saved their validation predictions (the label check of the diagnostics), cleanlab judges
every label of the training pool by the fold that held it out; the finding is emitted and saved with the
summary.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.callbacks import Callback
from workbench.core.config import ConfigError, ProjectConfig
from workbench.core.events import LogMessage
from workbench.core.run_folder import RunFolder
from workbench.core.training.control import RunControl

SUMMARISED = ("accuracy", "balanced_accuracy", "macro_f1", "val_loss")


@dataclass
class KFoldResult:
    folds: list[Any]  # one TrainResult per fold run (fewer when stopped or failed)
    k: int
    status: str  # "completed", "stopped" or "failed"
    metrics: dict[str, tuple[float, float]] = field(default_factory=dict)  # name → (mean, std) over completed folds
    summary_path: Path | None = None
    reason: str = ""
    findings: list[Any] = field(default_factory=list)  # label-issue findings from the out-of-fold predictions

    def summary(self) -> str:
        parts = [f"{name.replace('_', ' ')} {mean:.4f} ± {std:.4f}" for name, (mean, std) in self.metrics.items()]
        done = sum(1 for f in self.folds if f.status in ("completed", "early_stopped"))
        return f"{done} of {self.k} folds: " + ("; ".join(parts) if parts else "no completed fold")

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k, "status": self.status, "reason": self.reason,
            "metrics": {name: {"mean": m, "std": s} for name, (m, s) in self.metrics.items()},
            "folds": [{"fold": i, "run_id": f.run_id, "run_dir": str(f.run_dir or ""), "status": f.status,
                       "best_epoch": f.best_epoch, "best_metrics": f.best_metrics} for i, f in enumerate(self.folds)],
            "summary": self.summary(),
            "findings": [f.to_dict() for f in self.findings],
        }


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _earlier_folds(summary_path: Path) -> tuple[ProjectConfig, list[Any]]:
    """The project settings and fold results a stopped cross-validation saved (see `KFoldResult.to_dict`)."""
    from workbench.core.config import load_config
    from workbench.core.runs import read_json
    from workbench.core.training.engine import TrainResult

    saved = read_json(summary_path, None)
    if not isinstance(saved, dict) or not saved.get("folds"):
        raise ConfigError(f"{summary_path} is not the summary of a k-fold cross-validation (kfold-*.json)")
    folds = [TrainResult(f["run_id"], Path(f["run_dir"]) if f.get("run_dir") else None, f["status"],
                         int(f.get("best_epoch") or 0), dict(f.get("best_metrics") or {})) for f in saved["folds"]]
    first = folds[0].run_dir
    if first is None or not RunFolder(first).is_run():
        raise ConfigError(f"the first fold's run folder ({first}) is missing; the cross-validation cannot continue")
    config = load_config(RunFolder(first).config)
    config = config.model_copy(update={"runs_dir": str(first.parent),
                                       "data": config.data.model_copy(update={"k_folds": int(saved["k"])})})
    return config, folds


def run_k_fold(config: ProjectConfig | None, callback: Callback | None = None, control: RunControl | None = None,
               *, resume: str | Path | None = None) -> KFoldResult:
    """Train `config` once per fold (data.fold = 0 … k − 1); stops early when a fold is stopped or fails.

    With `resume` (the kfold-*.json of a stopped cross-validation; `config` may then be None) the finished
    folds are kept, a stopped fold continues from its checkpoint and a failed one starts again.
    """
    from workbench.core.runs import write_json
    from workbench.core.training.engine import train

    earlier: list[Any] = []
    if resume is not None:
        config, earlier = _earlier_folds(Path(resume))
    if config is None:
        raise ConfigError("no project configuration given")
    k = config.data.k_folds
    if k < 2:
        raise ConfigError(f"k-fold cross-validation needs data.k_folds of 2 or more (it is {k})")
    control = control or RunControl()
    folds = []
    status, reason = "completed", ""
    for fold in range(k):
        if control.stop_requested:
            status = "stopped"
            break
        before = earlier[fold] if fold < len(earlier) else None
        if before is not None and before.status in ("completed", "early_stopped"):
            folds.append(before)
            continue
        if callback is not None:
            callback.on_event(LogMessage("info", f"k-fold: fold {fold + 1} of {k}"))
        fold_config = config.model_copy(update={"data": config.data.model_copy(update={"fold": fold})})
        if before is not None and before.status == "stopped" and before.run_dir is not None:
            result = train(None, callback, control, resume=before.run_dir)
        else:
            result = train(fold_config, callback, control)
        folds.append(result)
        if result.status in ("failed", "stopped"):
            status, reason = result.status, result.reason
            break
    done = [f for f in folds if f.status in ("completed", "early_stopped")]
    metrics = {name: mean_std([f.best_metrics.get(name, math.nan) for f in done]) for name in SUMMARISED}
    metrics = {name: value for name, value in metrics.items() if not math.isnan(value[0])}
    result = KFoldResult(folds, k, status, metrics, reason=reason)
    if len(done) >= 2:
        from workbench.core.diagnostics.label_issues import out_of_fold_findings

        result.findings = out_of_fold_findings([f.run_dir for f in done if f.run_dir is not None])
        for finding in result.findings:
            if callback is not None:
                callback.on_event(finding.to_event())
    if resume is not None:
        result.summary_path = Path(resume)
        write_json(result.summary_path, result.to_dict())
    elif folds and config.runs_dir:
        name = f"kfold-{folds[0].run_id or time.strftime('%Y%m%d-%H%M%S')}.json"
        result.summary_path = Path(config.runs_dir) / name
        write_json(result.summary_path, result.to_dict())
    if callback is not None:
        callback.on_event(LogMessage("info", f"k-fold cross-validation: {result.summary()}"))
    return result
