"""The run report: one self-contained HTML page and the same content as PDF."""

from workbench.core.export.report.builder import ReportFiles, set_pdf_renderer, write_report

__all__ = ["ReportFiles", "set_pdf_renderer", "write_report"]
