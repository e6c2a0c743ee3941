"""Running every registered data check over prepared data: callable from a worker thread.

Progress is reported per check; `should_stop` is polled inside the longer checks, which then raise
InterruptedError (as decoding does). A check that fails unexpectedly is logged and skipped, so one
broken check never hides the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.core.diagnostics.context import CheckContext
from workbench.core.diagnostics.findings import Finding, severity_rank
from workbench.core.diagnostics.settings import settings_from_config
from workbench.core.fixes import coherent

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData

log = logging.getLogger(__name__)


def run_data_checks(
    prepared: PreparedData,
    config: ProjectConfig,
    *,
    evidence_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    checks: Sequence[str] | None = None,
    pred_probs: np.ndarray | None = None,
    on_finding: Callable[[Finding], None] | None = None,
) -> list[Finding]:
    """The findings of the data checks (all registered ones, or those named in `checks`), worst first.

    `pred_probs`, out-of-sample probabilities for every sample (e.g. from k-fold training), make the label
    check use them instead of its quick pixel model. `on_finding` receives each finding as soon as it is known.
    """
    from workbench.core.diagnostics.registry import diagnostics_of_kind

    settings = settings_from_config(config)
    entries = [d for d in diagnostics_of_kind("data") if checks is None or d.name in checks]
    if checks is None and not settings.label_check:
        entries = [d for d in entries if d.name != "label_issues"]
    ctx = CheckContext(Path(evidence_dir) if evidence_dir is not None else None, should_stop,
                       config.data.seed, settings, pred_probs)
    findings: list[Finding] = []
    for done, entry in enumerate(entries):
        if progress is not None:
            progress(done, len(entries))
        ctx.check_stop()
        try:
            found = entry.load()(prepared, config, ctx)
        except InterruptedError:
            raise
        except Exception:  # a broken check must not hide the others
            log.warning("data check %s failed", entry.name, exc_info=True)
            continue
        for finding in found:
            finding = coherent(finding, config)  # never offer to undo an earlier fix
            findings.append(finding)
            if on_finding is not None:
                on_finding(finding)
    if progress is not None:
        progress(len(entries), len(entries))
    return sorted(findings, key=lambda f: -severity_rank(f.severity))
