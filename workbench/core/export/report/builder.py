"""Writing a run's report: collect the stored results, render HTML, lay it out as PDF."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.core.export.report.collect import collect_report_data
from workbench.core.export.report.render import render_html


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None
    pdf_error: str = ""  # why there is no PDF, when there is none


def write_report(run_dir: str | Path, out_dir: str | Path | None = None, *, pdf: bool = True,
                 evaluate_validation: bool = True) -> ReportFiles:
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
    from workbench.core.export.report.pdf import html_to_pdf

    try:
        pdf_path = html_to_pdf(page, folder / "report.pdf", title=f"Workbench report, run {data['run_id']}")
    except (ImportError, RuntimeError, OSError) as error:  # the HTML is still there; say why the PDF is not
        return ReportFiles(html_path, None, f"the PDF could not be written: {error}")
    return ReportFiles(html_path, pdf_path)
