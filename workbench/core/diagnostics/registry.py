"""The diagnostics registry; it lives in the torch-free catalog (`workbench.core.catalog.diagnostics`)."""

from __future__ import annotations

from workbench.core.catalog.diagnostics import DIAGNOSTICS, KINDS, DiagnosticInfo, diagnostics_of_kind, register_diagnostic

__all__ = ["DIAGNOSTICS", "KINDS", "DiagnosticInfo", "diagnostics_of_kind", "register_diagnostic"]
