"""The run report: one self-contained HTML page and the same content as PDF."""

from workbench.core.export.report.builder import ReportFiles, write_report

__all__ = ["ReportFiles", "write_report"]
