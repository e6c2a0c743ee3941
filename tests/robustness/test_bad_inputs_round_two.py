"""Issue 17's second adversarial round: more kinds of bad input, each with its exact message or values.

Every user-reachable failure names the file, says what is wrong and what to do; nothing gives a bare
exception name. Each test (or parameter) below is one kind of bad input.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.helpers import shape_image
from workbench.cli import main
from workbench.core.config import ConfigError, load_config
from workbench.core.data.discovery import scan_dataset
from workbench.core.data.errors import DatasetError
from workbench.core.data.reading import ImageReadError, read_image

RNG = np.random.default_rng(3)


def _images(folder: Path, kind: int, n: int = 3) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        Image.fromarray(shape_image(kind, 16, RNG)).save(folder / f"{kind}_{i}.png")
        names.append(f"{folder.name}/{kind}_{i}.png")
    return names


def _manifest_rows(root: Path) -> list[list[str]]:
    rows = [[p, "café" if p.startswith("a/") else "b"] for p in _images(root / "a", 0) + _images(root / "b", 1)]
    return rows


def _csv_text(rows: list[list[str]], header: str = "path,label") -> str:
    return header + "\n" + "".join(",".join(r) + "\n" for r in rows)


# --- CSV manifests: encodings and split values ----------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_manifests_are_read(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "m.csv").write_bytes(_csv_text(_manifest_rows(tmp_path)).encode(encoding))
    scan = scan_dataset(tmp_path / "m.csv")
    assert scan.classes == ["b", "café"] and len(scan.samples) == 6 and scan.warnings == []


def test_latin1_manifest_is_read_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_bytes(_csv_text(_manifest_rows(tmp_path)).encode("latin-1"))
    scan = scan_dataset(tmp_path / "m.csv")
    assert scan.classes == ["b", "café"]
    assert scan.warnings == ["CSV manifest m.csv is not UTF-8; it was read as Windows-1252/Latin-1. If any name "
                             "looks wrong, save the file as UTF-8"]


def test_binary_file_named_csv_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_bytes(b"PK\x03\x04\x00\x00\xff\xfe\x00\x81garbage")
    with pytest.raises(DatasetError) as error:
        scan_dataset(tmp_path / "m.csv")
    assert str(error.value) == (f"CSV manifest {tmp_path / 'm.csv'} is not a text file (it holds binary data at "
                                "byte 6); save it as a UTF-8 CSV")


def test_unknown_split_values_are_refused_not_guessed(tmp_path: Path) -> None:
    rows = _manifest_rows(tmp_path)
    splits = ["train", "holdout", "tst", "", "Test", "holdout"]
    (tmp_path / "m.csv").write_text(_csv_text([[*r, s] for r, s in zip(rows, splits, strict=True)],
                                              "path,label,split"))
    with pytest.raises(DatasetError) as error:
        scan_dataset(tmp_path / "m.csv")
    assert str(error.value) == (
        "CSV manifest m.csv has split values Workbench does not know: 'holdout' in 2 row(s) (first: row 3); 'tst' in "
        "1 row(s) (first: row 4). Use train, val or test (or leave the cell empty to let Workbench choose), then load "
        "it again")


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "lacks the column(s) path, label; its first line must name at least 'path,label' (found: nothing)"),
    (b"path,label\n", "no usable images found in"),
    (b"path,label\nghost1.png,a\nghost2.png,b\n", "no usable images found in"),
], ids=["empty-file", "header-only", "no-file-exists"])
def test_empty_manifests_are_explained(tmp_path: Path, content: bytes, expected: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.csv").write_bytes(content)
    assert main(["init", str(tmp_path / "m.csv"), "-o", str(tmp_path / "p.toml")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "unexpected" not in err


# --- folder layouts that surprised ------------------------------------------------------------------

def test_split_like_folders_with_an_extra_folder_are_flagged(tmp_path: Path) -> None:
    for name, kind in (("train", 0), ("test", 1), ("holdout", 2)):
        _images(tmp_path / name, kind)
    scan = scan_dataset(tmp_path)
    assert scan.layout == "class_folders" and scan.classes == ["holdout", "test", "train"]
    assert scan.warnings == [f"the folders test, train in {tmp_path} look like train/val/test splits, but holdout is "
                             "not a split name, so every folder was taken as a class; move or rename the other "
                             "folder(s) to use the pre-split layout"]


def test_hidden_class_folders_are_named_not_dropped_silently(tmp_path: Path) -> None:
    for name, kind in (("1mm", 0), ("2mm", 1), (".5mm", 2)):
        _images(tmp_path / name, kind)
    (tmp_path / ".git").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / ".git" / "icon.png")
    scan = scan_dataset(tmp_path)
    assert scan.classes == ["1mm", "2mm"]
    assert scan.warnings == [f"the folder(s) .5mm in {tmp_path} hold images but start with a dot, so they are hidden "
                             "and were left out; rename them (for example '.5mm' to '0.5mm') to use them as classes"]


def test_presplit_class_without_training_images_is_warned_about(tmp_path: Path, tiny_project) -> None:
    from workbench.core.data.pipeline import prepare_data

    for kind, name in enumerate(("a", "b")):
        _images(tmp_path / "train" / name, kind, 6)
        _images(tmp_path / "test" / name, kind, 2)
    _images(tmp_path / "test" / "c", 2, 2)
    tiny_project.data.source = str(tmp_path)
    data = prepare_data(tiny_project)
    assert ("class(es) c have no training images (only validation or test ones), so the network cannot learn them; "
            "add images to their train/ folder or manifest rows") in data.warnings


@pytest.mark.parametrize(("make", "expected"), [
    (lambda root: Image.new("L", (8, 8)).save(root / "x.png") or root / "x.png",
     "is a file, not a folder or a CSV manifest; choose the folder of images instead"),
    (lambda root: root / "nowhere", "does not exist; check the path or choose another folder"),
    (lambda root: Path(" "), "no dataset chosen: pick a folder with one sub-folder per class, or a CSV manifest"),
], ids=["image-file-as-dataset", "missing-dataset", "blank-dataset"])
def test_dataset_sources_that_are_not_datasets(tmp_path: Path, make, expected: str) -> None:
    with pytest.raises(DatasetError) as error:
        scan_dataset(make(tmp_path))
    assert expected in str(error.value)


# --- images -----------------------------------------------------------------------------------------

def test_float_image_with_nan_is_skipped_with_the_reason(tmp_path: Path) -> None:
    values = np.full((8, 8), 0.5, np.float32)
    values[2, 3] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", values)
    with pytest.raises(ImageReadError, match=r"^image holds NaN or infinite pixel values$"):
        read_image(tmp_path / "nan.tif")


def test_multi_page_tiff_uses_page_one_and_says_so(tmp_path: Path) -> None:
    stack = np.stack([np.full((6, 6), 10 * (i + 1), np.uint8) for i in range(3)])
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")  # three pages
    notes: list[str] = []
    array = read_image(tmp_path / "stack.tif", notes=notes)
    assert array.shape == (6, 6, 1) and int(array.max()) == 10
    assert notes == ["multi-page TIFF (a stack): only its first page is used; save each page as its own image to use "
                     "them all"]


@pytest.mark.parametrize(("values", "dtype", "expected", "note"), [
    ([[-128, 0, 127]], np.int8, [[0, 128, 255]],
     "int8 pixel values were shifted by 128 into 0–255 (the full int8 range), so negative values are kept"),
    ([[-2000, 0, 2000]], np.int32, [[30768, 32768, 34768]],
     "int32 pixel values all fit in the int16 range (-2,000–2,000) and were shifted by 32,768 into 0–65,535, so "
     "negative values are kept"),
], ids=["int8", "int32-signed"])
def test_signed_integer_images_keep_their_values(tmp_path: Path, values, dtype, expected, note: str) -> None:
    tifffile.imwrite(tmp_path / "s.tif", np.array(values, dtype))
    notes: list[str] = []
    np.testing.assert_array_equal(read_image(tmp_path / "s.tif", notes=notes)[:, :, 0], expected)
    assert notes == [note]


# --- project files and command-line values ------------------------------------------------------------

def test_project_file_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is a folder, not a project file; give the \.toml file inside it$"):
        load_config(tmp_path)


def test_project_file_encodings(tmp_path: Path) -> None:
    (tmp_path / "u16.toml").write_bytes('name = "café"\n'.encode("utf-16"))
    assert load_config(tmp_path / "u16.toml").name == "café"
    (tmp_path / "l1.toml").write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "l1.toml")
    assert str(error.value) == f"project file {tmp_path / 'l1.toml'} is not UTF-8 text (byte 11 cannot be read); save it as UTF-8"


@pytest.mark.parametrize(("argv", "expected"), [
    (["train"], "give a project file (workbench train PROJECT.toml) or --resume RUN"),
    (["runs", "{tmp}/nowhere"], "runs folder {tmp}/nowhere does not exist"),
    (["eval", "{tmp}"], "{tmp} is not a Workbench run folder (it has no config.toml)"),
    (["train", "--resume", "{tmp}"], "{tmp} is not a Workbench run folder (it has no config.toml)"),
    (["predict", "{tmp}/nothing", "{tmp}"], "{tmp}/nothing does not exist; give a run folder or a .wbmodel bundle"),
    (["predict", "{run}", "{tmp}", "-o", "{tmp}"],
     "{tmp} is a folder; give the CSV file to write, such as -o {tmp}/predictions.csv"),
    (["compare", "{run}", "{tmp}"], "{tmp} is not a Workbench run folder (no config.toml); give the folders under runs/"),
    (["export", "{tmp}"], "run {tmpname} has no checkpoint yet; train at least one epoch first"),
], ids=["train-nothing", "runs-missing", "eval-not-a-run", "resume-not-a-run", "predict-missing-model",
        "predict-output-is-folder", "compare-not-a-run", "export-not-a-run"])
def test_command_line_mistakes(argv: list[str], expected: str, tmp_path: Path, trained_run: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    fill = {"tmp": str(tmp_path), "run": str(trained_run), "tmpname": tmp_path.name}
    assert main([a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err == f"workbench: error: {expected.format(**fill)}\n"


# --- damaged run folders --------------------------------------------------------------------------------

@pytest.fixture
def run_copy(trained_run: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "runs" / trained_run.name
    shutil.copytree(trained_run, dest, ignore=shutil.ignore_patterns("cache", "exports", "report"))
    return dest


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:300])


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda run: (run / "classes.json").write_text('{"a": 1}'),
     "{run}/classes.json is damaged: it should be a list of class names"),
    (lambda run: (run / "norm_stats.json").write_text('{"mode": "zscore"}'),
     "{run}/norm_stats.json is damaged: the normalisation statistics are incomplete: they need mode, mean, std, "
     "minimum, maximum, value_scale (found: mode)"),
    (lambda run: [_cut(run / "checkpoints" / n) for n in ("best.pt", "last.pt")],
     "checkpoint {run}/checkpoints/last.pt is damaged or incomplete ("),
    (lambda run: shutil.rmtree(run / "checkpoints"),
     "run {name} has no checkpoint yet (checkpoints/best.pt); train at least one epoch first"),
], ids=["classes-json-not-a-list", "norm-stats-incomplete", "both-checkpoints-cut", "no-checkpoints"])
def test_damaged_run_folders_are_named(run_copy: Path, damage, expected: str) -> None:
    from workbench.core.evaluation.evaluate import load_run

    damage(run_copy)
    with pytest.raises((ConfigError, RuntimeError)) as error:
        load_run(run_copy, device="cpu")
    assert expected.format(run=run_copy, name=run_copy.name) in str(error.value)


def test_damaged_best_checkpoint_falls_back_to_last(run_copy: Path) -> None:
    from workbench.core.evaluation.evaluate import load_run

    _cut(run_copy / "checkpoints" / "best.pt")
    run = load_run(run_copy, device="cpu")
    assert run.checkpoint_path == run_copy / "checkpoints" / "last.pt" and run.checkpoint_epoch == 3


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda rows: [{k: v for k, v in r.items() if k != "label"} for r in rows], "lacks the column(s) label"),
    (lambda rows: [{**r, "split": "holdout"} if i == 2 else r for i, r in enumerate(rows)],
     "has 1 damaged row(s) (first: row 4; each needs a path, a label and a split of train, val, test)"),
], ids=["split-csv-without-label", "split-csv-bad-split"])
def test_damaged_split_file_is_named_by_eval(run_copy: Path, damage, expected: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = run_copy / "split.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = damage(list(csv.DictReader(handle)))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["eval", str(run_copy), "--split", "val"]) == 2
    err = capsys.readouterr().err
    assert err == (f"workbench: error: the run's split file {path} {expected}; restore it from a backup or start a "
                   "new run\n")


def test_resume_after_images_changed_says_so(tiny_project, tmp_path: Path) -> None:
    from tests.helpers import write_shapes_dataset
    from workbench.core.training.engine import train

    data = write_shapes_dataset(tmp_path / "data", per_class=10)
    tiny_project.data.source = str(data)
    first = train(tiny_project)
    edited = sorted((data / "hbar").glob("*.png"))[0]
    Image.fromarray(shape_image(0, 20, RNG)).save(edited)
    messages: list[str] = []

    class Log:
        def on_event(self, event) -> None:
            messages.append(getattr(event, "message", ""))

    tiny_project.training.epochs = 3
    assert train(tiny_project, Log(), resume=first.run_dir).status == "completed"
    assert (f"since this run started, 1 image(s) were changed (first: {edited}). The run continues with the files as "
            "they are now, so its epochs rest on two versions of the data; start a new run for results on one "
            "version") in messages


# --- damaged bundles ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundle_bytes(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from workbench.core.export.bundle import write_bundle

    return write_bundle(trained_run, tmp_path_factory.mktemp("bundle") / "m.wbmodel").read_bytes()


def _resealed(source: bytes, dest: Path, replace: dict[str, bytes]) -> Path:
    """The bundle with members replaced and the manifest's checksums updated to match (a consistent fake)."""
    with zipfile.ZipFile(io.BytesIO(source)) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    members.update(replace)
    if "manifest.json" not in replace:
        manifest = json.loads(members["manifest.json"])
        manifest["files"] = {k: hashlib.sha256(v).hexdigest() for k, v in members.items() if k != "manifest.json"}
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dest, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dest


@pytest.mark.parametrize(("replace", "expected"), [
    ({"classes.json": b"7"}, "bundle member classes.json should hold a JSON list, not int; the bundle is damaged"),
    ({"metrics.json": b"[" * 100_000 + b"]" * 100_000},
     "bundle member metrics.json is not valid JSON (nested too deeply); the bundle is damaged"),
    ({"manifest.json": b"[1, 2]"}, "bundle member manifest.json should hold a JSON object, not list; the bundle is "
                                   "damaged"),
    ({"norm_stats.json": b'{"mode": "zscore"}'}, "the bundle's norm_stats.json is damaged: the normalisation "
                                                  "statistics are incomplete"),
    ({"preprocessing.json": b'{"channels": 3}'}, "the bundle's preprocessing.json names channels 3; expected "
                                                  "grayscale or rgb"),
], ids=["classes-not-a-list", "json-nested-too-deeply", "manifest-not-an-object", "bundle-norm-stats-incomplete",
        "bundle-bad-channels"])
def test_damaged_bundles_are_named(bundle_bytes: bytes, tmp_path: Path, replace: dict[str, bytes], expected: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _resealed(bundle_bytes, tmp_path / "bad.wbmodel", replace)
    images = tmp_path / "images"
    _images(images, 0, 2)
    assert main(["predict", str(bundle), str(images), "-o", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "unexpected" not in err, err


@pytest.mark.parametrize(("number", "text", "expected"), [
    (30, "Read-only file system", "/archive/runs/x/run.json: Read-only file system; the disk is read-only; choose a "
                                  "writable folder (for example with -o)"),
    (21, "Is a directory", "/archive/runs/x/run.json: Is a directory; a folder of that name is in the way; give a "
                           "file name instead"),
    (28, "No space left on device", "/archive/runs/x/run.json: No space left on device; the disk is full; free "
                                    "space or choose another folder"),
], ids=["read-only-archive", "folder-in-the-way", "disk-full"])
def test_file_system_errors_name_the_file_and_what_to_do(number: int, text: str, expected: str, trained_run: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import workbench.core.evaluation.evaluate as evaluate

    def refuse(*args, **kwargs):
        raise OSError(number, text, "/archive/runs/x/run.json")

    monkeypatch.setattr(evaluate, "evaluate_run", refuse)
    assert main(["eval", str(trained_run), "--split", "val"]) == 2
    assert capsys.readouterr().err == f"workbench: error: {expected}\n"


def test_run_whose_dataset_was_moved_says_so(tiny_project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import write_shapes_dataset
    from workbench.core.training.engine import train

    data = write_shapes_dataset(tmp_path / "data", per_class=10)
    tiny_project.data.source = str(data)
    first = train(tiny_project)
    data.rename(tmp_path / "moved")
    assert main(["train", "--resume", str(first.run_dir), "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert f"all of the 30 images listed in the run's split.csv cannot be read (first: {data}/" in err
    assert "was the dataset moved, renamed or deleted? Put it back where it was, then try again" in err
    assert json.loads((first.run_dir / "run.json").read_text())["status"] == "completed", "the refusal left it as it was"
    (tmp_path / "moved").rename(data)
    assert main(["train", "--resume", str(first.run_dir), "--epochs", "3"]) == 0
