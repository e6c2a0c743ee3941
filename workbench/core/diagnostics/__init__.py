"""The pitfall doctor: checks of the data, the training and the model, after the paper's checklist (section II).

Importing this package registers the diagnostic monitors with the engine, so every run gets them unless the
project's `diagnostics` settings turn them off. Heavy libraries (cleanlab, captum, scikit-image) are imported
only when a check runs.
"""

from __future__ import annotations

from workbench.core.diagnostics.data_checks import run_data_checks
from workbench.core.diagnostics.findings import INFO, PROBLEM, SEVERITIES, WARNING, Finding, apply_patch, at_least
from workbench.core.diagnostics.label_issues import label_issue_findings, pixel_out_of_sample_probs
from workbench.core.diagnostics.lr_finder import lr_finding, lr_range_test
from workbench.core.diagnostics.pairing import check_output_pairing
from workbench.core.diagnostics.registry import DIAGNOSTICS, DiagnosticInfo, register_diagnostic
from workbench.core.diagnostics.run_attributions import (
    AttributionResult,
    attribution_maps_for_run,
    load_attribution_maps,
    load_attribution_result,
)
from workbench.core.diagnostics.run_monitors import diagnostic_monitors
from workbench.core.diagnostics.settings import DiagnosticsSettings, settings_from_config
from workbench.core.diagnostics.shortcut import ShortcutReport, shortcut_check, shortcut_check_for_run
from workbench.core.training.monitors import register_monitor_factory

register_monitor_factory(diagnostic_monitors)

__all__ = [
    "DIAGNOSTICS", "INFO", "PROBLEM", "SEVERITIES", "WARNING", "AttributionResult", "DiagnosticInfo",
    "DiagnosticsSettings", "Finding", "ShortcutReport", "apply_patch", "at_least", "attribution_maps_for_run",
    "check_output_pairing", "diagnostic_monitors", "label_issue_findings", "load_attribution_maps",
    "load_attribution_result", "lr_finding", "lr_range_test", "pixel_out_of_sample_probs", "register_diagnostic",
    "run_data_checks", "settings_from_config", "shortcut_check", "shortcut_check_for_run",
]
