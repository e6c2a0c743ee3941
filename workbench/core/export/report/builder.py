"""Writing a run's report: collect the stored results, render HTML, lay it out as PDF."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.core.export.report.collect import collect_report_data
from workbench.core.export.report.render import render_html


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None
    pdf_error: str = ""  # why there is no PDF, when there is none


PdfRenderer = Callable[..., Path]  # (html, dest, title=...) -> the PDF written
_renderer: PdfRenderer | None = None


def set_pdf_renderer(renderer: PdfRenderer | None) -> None:
    """Install the HTML-to-PDF renderer; the engine has none of its own, so it stays free of GUI libraries."""
    global _renderer
    _renderer = renderer


def write_report(run_dir: str | Path, out_dir: str | Path | None = None, *, pdf: bool = True,
                 evaluate_validation: bool = True, pdf_renderer: PdfRenderer | None = None) -> ReportFiles:
    """Write `report.html` and `report.pdf` for a run (into `out_dir`, by default `run_dir/report`).

    The report reads stored evaluation results and never uses the test set itself. With
    `evaluate_validation`, a run whose test set is still unused gets its validation split evaluated so
    the report has figures to show (clearly labelled as validation).
    """
    data = collect_report_data(run_dir, evaluate_validation=evaluate_validation)
    folder = Path(out_dir) if out_dir is not None else Path(data["run_dir"]) / "report"
    folder.mkdir(parents=True, exist_ok=True)
    page = render_html(data)
    html_path = folder / "report.html"
    html_path.write_text(page, encoding="utf-8")
    if not pdf:
        return ReportFiles(html_path, None, "PDF not requested")
    renderer = pdf_renderer or _renderer
    if renderer is None:
        return ReportFiles(html_path, None, "no PDF renderer is installed (the CLI and the GUI install Qt's)")
    try:
        pdf_path = renderer(page, folder / "report.pdf", title=f"Workbench report, run {data['run_id']}")
    except (ImportError, RuntimeError, OSError) as error:  # the HTML is still there; say why the PDF is not
        return ReportFiles(html_path, None, f"the PDF could not be written: {error}")
    return ReportFiles(html_path, pdf_path)
