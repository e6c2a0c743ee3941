"""The `workbench` command: the GUI by default, and train, demo, eval, predict, runs, lr-find and doctor headless.

Every command calls the same engine functions as the GUI. Errors print one readable message and
exit with status 2; nothing prints a traceback at the user.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from workbench.cli_doctor import cmd_attributions, cmd_doctor, cmd_lr_find, lr_table_lines

EXIT_USER_ERROR = 2
__all__ = ["build_parser", "lr_table_lines", "main"]


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _err(message: str) -> int:
    print(f"workbench: error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR


def build_parser() -> argparse.ArgumentParser:
    from workbench.core.catalog.tta import COMBINE_RULES, tta_help

    parser = argparse.ArgumentParser(prog="workbench", description="Train image classifiers, and see whether "
                                     "they really learned. With no command, the desktop application opens.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="check that torch, timm, Qt, the plugins and the GPU load, and print a diagnostics table")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("gui", help="open the desktop application (the default)")

    demo = sub.add_parser("demo", help="train and evaluate a small CNN on the bundled digits dataset")
    demo.add_argument("--data-dir", type=Path, help="where to write the demo dataset and runs")
    demo.add_argument("--epochs", type=int, help="override the number of epochs")

    train = sub.add_parser("train", help="train the model described by a project file")
    train.add_argument("project", nargs="?", type=Path, help="project file (.toml)")
    train.add_argument("--resume", metavar="RUN", type=Path,
                       help="continue an interrupted or stopped run folder, or a stopped cross-validation (its kfold-*.json)")
    train.add_argument("--epochs", type=int, help="override the number of epochs")
    train.add_argument("--evaluate", action="store_true", help="evaluate on the locked test split afterwards")
    train.add_argument("--k-fold", type=int, nargs="?", const=-1, metavar="K",
                       help="cross-validate: K runs, one per validation fold, reported as mean ± std (test set untouched)")

    ev = sub.add_parser("eval", help="evaluate a run on its locked test split (the use is recorded)")
    ev.add_argument("run", type=Path, help="run folder")
    ev.add_argument("--split", choices=("test", "val", "train"), default="test")
    ev.add_argument("--tta", metavar="AUGS", help=f"test-time augmentations, comma-separated: {tta_help()}")
    ev.add_argument("--tta-rule", choices=tuple(COMBINE_RULES), help="how TTA views are combined (default: mean)")
    ev.add_argument("--robustness", action="store_true", help="also evaluate on perturbed copies (noise, blur, shift, ...)")
    ev.add_argument("--gallery", type=int, metavar="N", help="most confident errors to save with saliency maps")
    ev.add_argument("--external", metavar="DIR", type=Path,
                    help="evaluate on a separate dataset folder (same class names) instead; not a test-set use")
    ev.add_argument("--allow-partial", action="store_true",
                    help="evaluate even when test images are missing or changed; the result is marked partial")

    pred = sub.add_parser("predict", help="classify a folder of images with a trained run or a .wbmodel bundle")
    pred.add_argument("run", type=Path, help="run folder or .wbmodel bundle")
    pred.add_argument("images", type=Path, help="folder of images")
    pred.add_argument("-o", "--output", type=Path, default=Path("predictions.csv"), help="CSV file to write")
    pred.add_argument("--tta", metavar="AUGS", help="test-time augmentations, comma-separated (see eval --tta)")
    pred.add_argument("--tta-rule", choices=tuple(COMBINE_RULES), default="mean")

    export = sub.add_parser("export", help="export a run: .wbmodel bundle, TorchScript, ONNX (checked), model card")
    export.add_argument("run", type=Path, help="run folder")
    export.add_argument("-o", "--output", type=Path, help="folder to write to (default: RUN/exports)")
    export.add_argument("--no-onnx", action="store_true", help="skip the ONNX export")

    report = sub.add_parser("report", help="write the run's report as HTML and PDF (never uses the test set)")
    report.add_argument("run", type=Path, help="run folder")
    report.add_argument("-o", "--output", type=Path, help="folder to write to (default: RUN/report)")
    report.add_argument("--no-pdf", action="store_true", help="write the HTML only")

    compare = sub.add_parser("compare", help="compare runs: metrics side by side and the settings that differ")
    compare.add_argument("runs", type=Path, nargs="+", help="run folders")

    runs = sub.add_parser("runs", help="list the runs stored in a runs folder")
    runs.add_argument("runs_dir", type=Path, nargs="?", default=Path("runs"))

    init = sub.add_parser("init", help="write a project file for a dataset folder")
    init.add_argument("dataset", type=Path)
    init.add_argument("-o", "--output", type=Path, default=Path("project.toml"))

    lr_find = sub.add_parser(
        "lr-find", help="learning-rate range test: train briefly at growing rates and suggest a learning rate",
        description="Trains a fresh copy of the project's model for a few steps while the learning rate grows "
                    "exponentially, prints the loss at each rate and suggests a rate (a tenth of the rate at the "
                    "lowest loss). Nothing is written unless --apply or --plot is given.")
    lr_find.add_argument("project", type=Path, help="project file (.toml)")
    lr_find.add_argument("--steps", type=int, default=100, help="training steps of the test (default: 100)")
    lr_find.add_argument("--start", type=float, default=1e-6, help="first learning rate tested (default: 1e-6)")
    lr_find.add_argument("--end", type=float, default=1.0, help="last learning rate tested (default: 1)")
    lr_find.add_argument("--apply", action="store_true", help="write the suggested rate into the project file")
    lr_find.add_argument("--plot", metavar="FILE.png", type=Path, help="also save the loss curve as a PNG image")

    doctor = sub.add_parser(
        "doctor", help="check the project's dataset for pitfalls (duplicates across splits, imbalance, ...)",
        description="Runs the pitfall doctor's data checks on the project's dataset and prints each finding, worst "
                    "first, with its fix. Exit status 0 when no finding is a problem, 1 otherwise.")
    doctor.add_argument("project", type=Path, help="project file (.toml)")
    doctor.add_argument("--json", metavar="FILE", type=Path, help="also write the findings to this JSON file")

    attributions = sub.add_parser(
        "attributions", help="per-class attribution maps on validation images, and the shortcut check (test set untouched)",
        description="Loads the run's best model and its validation images, averages attribution maps per class and flags "
                    "classes whose predictions rest on a fixed small region or the border (paper, section II-E). Writes "
                    "RUN/diagnostics/attribution_maps.{npy,txt,png}. Exit status 1 when a shortcut is a problem.")
    attributions.add_argument("run", type=Path, help="run folder")
    attributions.add_argument("--method", choices=("auto", "occlusion", "gradcam", "integrated_gradients"), default="auto",
                              help="attribution method (default: occlusion up to 64 px, else Grad-CAM or integrated gradients)")
    attributions.add_argument("--per-class", type=int, default=16, metavar="N",
                              help="correctly predicted validation images averaged per class (default: 16)")
    return parser


_last_command = ""


def last_command() -> str:
    """The command the last main() call ran ("gui" for the window; "" before any)."""
    return _last_command


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # a frozen app's helper processes (UMAP) must not start a second app
    args = build_parser().parse_args(argv)
    if args.version:
        from workbench import __version__

        print(f"workbench {__version__}")
        return 0
    if args.self_test:
        from workbench.selftest import run_self_test

        return run_self_test()
    command = args.command or "gui"
    global _last_command
    _last_command = command
    from workbench.core.plugins import load_plugins

    load_plugins()
    if command == "gui":
        from workbench.qt.app import main as gui_main

        return gui_main([])
    handlers = {"demo": cmd_demo, "train": cmd_train, "eval": cmd_eval, "predict": cmd_predict, "runs": cmd_runs,
                "export": cmd_export, "report": cmd_report, "compare": cmd_compare,
                "init": cmd_init, "lr-find": cmd_lr_find, "doctor": cmd_doctor,
                "attributions": cmd_attributions}
    try:
        return handlers[command](args)
    except KeyboardInterrupt:
        return _err("interrupted")
    except Exception as error:  # the engine's own errors are readable; say them plainly
        from workbench.core.config import ConfigError
        from workbench.core.data.errors import DatasetError
        from workbench.core.data.reading import ImageReadError
        from workbench.core.training.checkpoints import CheckpointError

        if isinstance(error, (ConfigError, DatasetError, ValueError, CheckpointError, ImageReadError)):
            return _err(str(error))
        if isinstance(error, OSError):
            from workbench.core.io import os_error_message

            return _err(os_error_message(error))
        return _err(f"unexpected {type(error).__name__}: {error}")


def _print_metrics(title: str, metrics: dict) -> None:
    print(f"\n{title}")
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1"):
        if key in metrics:
            print(f"  {key.replace('_', ' '):<18} {metrics[key]:.4f}")
    per_class = metrics.get("per_class") or {}
    if per_class:
        print(f"  {'class':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>5}")
        for name, m in per_class.items():
            print(f"  {name[:16]:<16} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>5}")


def _train(config, resume: Path | None = None, overrides: dict | None = None):
    from workbench.core.training.control import RunControl
    from workbench.core.training.engine import train
    from workbench.core.training.signals import stop_on_signals
    from workbench.progress import ConsoleProgress

    callback = ConsoleProgress() if _is_main_rank() else None
    with stop_on_signals(RunControl()) as control:  # SIGTERM/Ctrl+C: checkpoint, then 'stopped'
        return train(config, callback, control, resume=resume, overrides=overrides or None)


def cmd_train(args: argparse.Namespace) -> int:
    from workbench.core.config import ProjectConfig, load_config, with_updates

    if args.project is None and args.resume is None:
        return _err("give a project file (workbench train PROJECT.toml) or --resume RUN")
    config = None
    overrides = {"training.epochs": args.epochs} if args.epochs is not None else {}
    if args.project is not None:
        config = load_config(args.project)
        if args.resume is None:  # on resume the engine decides which settings may change, and says so
            config = with_updates(config, overrides, source="--epochs") if overrides else config
    resume_folds = args.resume if args.resume is not None and args.resume.suffix == ".json" else None
    if args.k_fold is not None or resume_folds is not None:
        return _cross_validate(config, args.k_fold, resume_folds)
    if args.resume is not None and overrides:
        from workbench.core.config import ConfigError

        try:  # check the value at once, with the flag's name, before the run folder is read
            with_updates(config or ProjectConfig(), overrides, source="--epochs")
        except ConfigError as error:
            return _err(str(error))
    result = _train(config, args.resume, overrides)
    if not _is_main_rank():
        return 0 if result.status != "failed" else 1
    if result.status == "failed":
        return _err(result.reason)
    print(f"\nrun {result.run_id} {result.status}; best epoch {result.best_epoch}; saved in {result.run_dir}")
    if args.evaluate and result.run_dir is not None:
        from workbench.core.evaluation.evaluate import evaluate_run

        _print_metrics("Test set (locked; this use is recorded):", evaluate_run(result.run_dir))
    return 0


def _cross_validate(config, k: int | None, resume: Path | None) -> int:
    """`train --k-fold [K]`, or `train --resume kfold-….json` to continue a stopped cross-validation."""
    from workbench.core.strategies.kfold import run_k_fold
    from workbench.progress import ConsoleProgress

    if resume is None:
        if config is None:
            return _err("--k-fold needs a project file")
        from workbench.core.config import with_updates

        k = k if k is not None and k != -1 else (config.data.k_folds or 5)
        config = with_updates(config, {"data.k_folds": k}, source="--k-fold")
    from workbench.core.training.control import RunControl
    from workbench.core.training.signals import stop_on_signals

    with stop_on_signals(RunControl()) as control:
        folds = run_k_fold(None if resume is not None else config, ConsoleProgress(), control, resume=resume)
    if folds.status == "failed":
        return _err(folds.reason)
    print(f"\nk-fold: {folds.summary()}; summary in {folds.summary_path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from workbench.core.demo import default_data_dir, demo_config, write_digits_dataset
    from workbench.core.evaluation.evaluate import evaluate_run

    base = args.data_dir or default_data_dir() / "demo"
    started = time.perf_counter()
    dataset = write_digits_dataset(base / "digits")
    print(f"Demo dataset: 1,797 real 8×8 handwritten digit scans (scikit-learn), 10 classes, in {dataset}")
    config = demo_config(dataset, base / "runs")
    if args.epochs is not None:
        from workbench.core.config import with_updates

        config = with_updates(config, {"training.epochs": args.epochs}, source="--epochs")
    from workbench.core.config import save_config

    save_config(config, base / "digits-demo.toml")
    print(f"Project file: {base / 'digits-demo.toml'}")
    result = _train(config)
    if result.status == "failed" or result.run_dir is None:
        return _err(result.reason)
    metrics = evaluate_run(result.run_dir)
    _print_metrics("Held-out test set:", metrics)
    print(f"\nTest accuracy: {metrics['accuracy']:.4f}  (in {time.perf_counter() - started:.0f} s)")
    print(f"Run saved in: {result.run_dir}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from workbench.core.evaluation.summaries import evaluation_lines, external_lines, parse_tta

    tta = parse_tta(args.tta) if args.tta else None
    if args.external is not None:
        from workbench.core.evaluation.external import evaluate_external

        result = evaluate_external(args.run, args.external, tta=tta or (), tta_rule=args.tta_rule or "mean")
        print("\n".join(external_lines(result)))
        return 0
    from workbench.core.evaluation.evaluate import evaluate_run

    result = evaluate_run(args.run, split=args.split, tta=tta, tta_rule=args.tta_rule,
                          robustness=True if args.robustness else None, gallery=args.gallery,
                          allow_partial=args.allow_partial)
    print("\n".join(evaluation_lines(result)))
    if result.get("warning"):
        print(f"\nwarning: {result['warning']}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from workbench.core.evaluation.predict import predict_folder
    from workbench.core.evaluation.summaries import parse_tta
    from workbench.progress import StagedBar

    if args.output.is_dir():  # say so before the predictions are computed, not after
        return _err(f"{args.output} is a folder; give the CSV file to write, such as -o {args.output / 'predictions.csv'}")
    if not args.run.exists():
        return _err(f"{args.run} does not exist; give a run folder or a .wbmodel bundle")
    staged = StagedBar()
    try:
        count, problems = predict_folder(args.run, args.images, args.output, progress=staged.update,
                                         tta=parse_tta(args.tta), tta_rule=args.tta_rule, stage=staged.stage)
    finally:
        staged.close()
    for path, reason in problems:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"{count} prediction(s) written to {args.output}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from workbench.core.evaluation.summaries import export_lines
    from workbench.core.export.run_export import export_model

    summary = export_model(args.run, args.output or args.run / "exports", onnx=False if args.no_onnx else None,
                           progress=lambda step: print(f"{step} ...", file=sys.stderr))
    print("\n".join(export_lines(summary)))
    return 0 if summary.get("onnx_passed", True) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from workbench.core.export.report import write_report
    from workbench.qt.report_pdf import html_to_pdf

    files = write_report(args.run, args.output, pdf=not args.no_pdf, pdf_renderer=html_to_pdf)
    print(f"HTML report: {files.html}")
    if files.pdf is not None:
        print(f"PDF report:  {files.pdf}")
    elif not args.no_pdf:
        print(f"warning: {files.pdf_error}", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from workbench.core.evaluation.compare import compare_runs
    from workbench.core.evaluation.summaries import comparison_lines

    print("\n".join(comparison_lines(compare_runs(args.runs))))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from workbench.core.runs import open_runs_folder

    if not args.runs_dir.is_dir():
        return _err(f"runs folder {args.runs_dir} does not exist")
    store = open_runs_folder(args.runs_dir)
    records = store.list_runs()
    for note in store.notes:
        print(f"note: {note}", file=sys.stderr)
    if not records:
        print(f"no runs in {args.runs_dir}")
        return 0
    print(f"{'run':<22} {'status':<13} {'model':<14} {'best':>4} {'val acc':>8}  project")
    for r in records:
        acc = (r.best_metrics or {}).get("accuracy")
        shown = f"{acc:.4f}" if isinstance(acc, (int, float)) else "—"  # failed or stopped before an epoch ended
        print(f"{r.id:<22} {r.status:<13} {r.model[:14]:<14} {r.best_epoch or 0:>4} {shown:>8}  {r.project}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from workbench.core.config import ProjectConfig, save_config
    from workbench.core.data.discovery import scan_dataset

    scan = scan_dataset(args.dataset)
    config = ProjectConfig(name=args.dataset.resolve().name)
    config.data.source = str(args.dataset.resolve())
    save_config(config, args.output)
    counts = ", ".join(f"{k}: {v}" for k, v in scan.counts().items())
    print(f"{len(scan.samples)} images in {len(scan.classes)} classes ({counts}); project written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
