"""The `workbench` command: the GUI by default, and train, demo, eval, predict and runs headless.

Every command calls the same engine functions as the GUI. Errors print one readable message and
exit with status 2; nothing prints a traceback at the user.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_USER_ERROR = 2


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _err(message: str) -> int:
    print(f"workbench: error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR


def build_parser() -> argparse.ArgumentParser:
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
    train.add_argument("--resume", metavar="RUN", type=Path, help="continue an interrupted or stopped run folder")
    train.add_argument("--epochs", type=int, help="override the number of epochs")
    train.add_argument("--evaluate", action="store_true", help="evaluate on the locked test split afterwards")

    ev = sub.add_parser("eval", help="evaluate a run on its locked test split (the use is recorded)")
    ev.add_argument("run", type=Path, help="run folder")
    ev.add_argument("--split", choices=("test", "val", "train"), default="test")

    pred = sub.add_parser("predict", help="classify a folder of images with a trained run")
    pred.add_argument("run", type=Path, help="run folder")
    pred.add_argument("images", type=Path, help="folder of images")
    pred.add_argument("-o", "--output", type=Path, default=Path("predictions.csv"), help="CSV file to write")

    runs = sub.add_parser("runs", help="list the runs stored in a runs folder")
    runs.add_argument("runs_dir", type=Path, nargs="?", default=Path("runs"))

    init = sub.add_parser("init", help="write a project file for a dataset folder")
    init.add_argument("dataset", type=Path)
    init.add_argument("-o", "--output", type=Path, default=Path("project.toml"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        from workbench import __version__

        print(f"workbench {__version__}")
        return 0
    if args.self_test:
        from workbench.selftest import run_self_test

        return run_self_test()
    command = args.command or "gui"
    from workbench.core.plugins import load_plugins

    load_plugins()
    if command == "gui":
        from workbench.qt.app import main as gui_main

        return gui_main([])
    handlers = {"demo": cmd_demo, "train": cmd_train, "eval": cmd_eval, "predict": cmd_predict, "runs": cmd_runs,
                "init": cmd_init}
    try:
        return handlers[command](args)
    except KeyboardInterrupt:
        return _err("interrupted")
    except Exception as error:  # the engine's own errors are readable; say them plainly
        from workbench.core.config import ConfigError
        from workbench.core.data.errors import DatasetError

        if isinstance(error, (ConfigError, DatasetError, FileNotFoundError, PermissionError, ValueError)):
            return _err(str(error))
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


def _train(config, resume: Path | None = None):
    from workbench.core.training.engine import train
    from workbench.progress import ConsoleProgress

    callback = ConsoleProgress() if _is_main_rank() else None
    return train(config, callback, resume=resume)


def cmd_train(args: argparse.Namespace) -> int:
    from workbench.core.config import load_config

    if args.project is None and args.resume is None:
        return _err("give a project file (workbench train PROJECT.toml) or --resume RUN")
    config = None
    if args.project is not None:
        config = load_config(args.project)
        if args.epochs:
            config = config.model_copy(update={"training": config.training.model_copy(update={"epochs": args.epochs})})
    result = _train(config, args.resume)
    if not _is_main_rank():
        return 0 if result.status != "failed" else 1
    if result.status == "failed":
        return _err(result.reason)
    print(f"\nrun {result.run_id} {result.status}; best epoch {result.best_epoch}; saved in {result.run_dir}")
    if args.evaluate and result.run_dir is not None:
        from workbench.core.evaluation.evaluate import evaluate_run

        _print_metrics("Test set (locked; this use is recorded):", evaluate_run(result.run_dir))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from workbench.core.demo import default_data_dir, demo_config, write_digits_dataset
    from workbench.core.evaluation.evaluate import evaluate_run

    base = args.data_dir or default_data_dir() / "demo"
    started = time.perf_counter()
    dataset = write_digits_dataset(base / "digits")
    print(f"Demo dataset: 1,797 real 8×8 handwritten digit scans (scikit-learn), 10 classes, in {dataset}")
    config = demo_config(dataset, base / "runs")
    if args.epochs:
        config.training.epochs = args.epochs
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
    from workbench.core.evaluation.evaluate import evaluate_run

    metrics = evaluate_run(args.run, split=args.split)
    _print_metrics(f"Run {args.run.name}, {args.split} split:", metrics)
    if metrics.get("warning"):
        print(f"\nwarning: {metrics['warning']}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from workbench.core.evaluation.predict import predict_folder
    from workbench.progress import bar

    with bar("predicting") as update:
        count, problems = predict_folder(args.run, args.images, args.output, progress=update)
    for path, reason in problems:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"{count} prediction(s) written to {args.output}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from workbench.core.runs import RunStore

    if not args.runs_dir.is_dir():
        return _err(f"runs folder {args.runs_dir} does not exist")
    records = RunStore(args.runs_dir).list_runs()
    if not records:
        print(f"no runs in {args.runs_dir}")
        return 0
    print(f"{'run':<22} {'status':<13} {'model':<14} {'best':>4} {'val acc':>8}  project")
    for r in records:
        acc = r.best_metrics.get("accuracy")
        print(f"{r.id:<22} {r.status:<13} {r.model[:14]:<14} {r.best_epoch or 0:>4} "
              f"{acc if acc is None else f'{acc:.4f}':>8}  {r.project}")
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
