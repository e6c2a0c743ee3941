"""The headless command line: train, eval, predict, runs and init, and plain error messages."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.core.config import save_config


@pytest.fixture
def project_file(tiny_project, tmp_path: Path) -> Path:
    path = tmp_path / "project.toml"
    save_config(tiny_project, path)
    return path


def test_train_eval_predict_runs(project_file: Path, shapes_dataset: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(project_file), "--evaluate"]) == 0
    out = capsys.readouterr().out
    assert "epoch   2/2" in out and "Test set" in out and "accuracy" in out
    run_dir = next((tmp_path / "runs").glob("2*"))
    assert "Validation baseline: always answering" in out and "(majority 0." in out  # every score has its baseline
    assert main(["eval", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "used 2 times" in out, "the second test use is counted and warned about"
    assert "baseline: always answering" in out and "the majority baseline" in out
    output = tmp_path / "pred.csv"
    assert main(["predict", str(run_dir), str(shapes_dataset / "vbar"), "-o", str(output)]) == 0
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 30 and {"file", "predicted", "confidence", "top1", "top2", "top3"} <= set(rows[0])
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in rows)
    assert main(["runs", str(tmp_path / "runs")]) == 0
    assert run_dir.name in capsys.readouterr().out


def test_resume_from_cli(project_file: Path, tmp_path: Path) -> None:
    assert main(["train", str(project_file), "--epochs", "1"]) == 0
    run_dir = next((tmp_path / "runs").glob("2*"))
    assert main(["train", "--resume", str(run_dir)]) == 0


def test_init_writes_a_project(shapes_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.toml"
    assert main(["init", str(shapes_dataset), "-o", str(out)]) == 0
    assert "90 images in 3 classes" in capsys.readouterr().out and out.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [("[training]\nlr = 50.0\n", "training.lr = 50.0"),
     ("[data]\nsource = 'nowhere'\n", "does not exist")],
)
def test_bad_projects_give_one_clear_line(tmp_path: Path, content: str, expected: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_missing_project_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval", str(tmp_path)]) == 2
    assert "not a Workbench run folder" in capsys.readouterr().err


def test_module_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "workbench", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("workbench ")


def test_self_test_reports_every_component() -> None:
    done = subprocess.run([sys.executable, "-m", "workbench", "--self-test"], capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("torch", "torchvision", "timm", "Qt", "plugins", "device", "CUDA", "engine"):
        assert any(line.startswith(name) for line in done.stdout.splitlines()), name
    assert "self-test passed" in done.stdout


def test_a_command_line_job_exits_quickly_after_its_exit_handlers_and_with_its_output(trained_run: Path,
                                                                                      tmp_path: Path) -> None:
    """After a command-line job the entry point skips only Python's module teardown: the exit handlers run,
    every line printed arrives, and the exit code is the command's."""
    marker = tmp_path / "exit-handlers-ran"
    script = ("import atexit, sys; "
              f"atexit.register(lambda: open({str(marker)!r}, 'w').write('yes')); "
              f"sys.argv = ['workbench', 'runs', {str(trained_run.parent)!r}]; "
              "from workbench.cli_entry import entry; entry()")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert trained_run.name in out.stdout and "completed" in out.stdout
    assert marker.read_text() == "yes"
    missing = subprocess.run([sys.executable, "-c", script.replace(str(trained_run.parent), str(tmp_path / "none"))],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and missing.stderr.strip()
