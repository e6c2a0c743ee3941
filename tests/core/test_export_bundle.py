"""The model bundle (round trip, and refusal of unsafe archives), TorchScript and ONNX exports with parity checks."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.core.eval_fixtures import *  # noqa: F403
from workbench.core.evaluation.evaluate import evaluate_run, load_split
from workbench.core.evaluation.inference import predict_set
from workbench.core.evaluation.predict import predict_folder
from workbench.core.evaluation.run_loading import load_run
from workbench.core.export.bundle import WEIGHTS, bundle_model_card, load_bundle, write_bundle
from workbench.core.export.bundle_safety import BundleError, looks_like_pickle
from workbench.core.export.deploy import PARITY_TOLERANCE, export_onnx, export_torchscript, sample_images
from workbench.core.export.run_export import export_run


def _rewrite(bundle: Path, dest: Path, extra: dict[str, bytes] | None = None, drop: str = "",
             replace: dict[str, bytes] | None = None) -> Path:
    """A copy of `bundle` with members added, dropped or replaced (written without any checks)."""
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(dest, "w") as target:
        for info in source.infolist():
            if info.filename == drop:
                continue
            target.writestr(info.filename, (replace or {}).get(info.filename, source.read(info)))
        for name, data in (extra or {}).items():
            target.writestr(zipfile.ZipInfo(name), data)
    return dest


@pytest.fixture
def bundle(eval_run: Path, tmp_path: Path) -> Path:
    evaluate_run(eval_run, "test", gallery=0, bootstrap_samples=50)
    return write_bundle(eval_run, tmp_path / "model.wbmodel")


def test_bundle_round_trip_gives_identical_predictions(eval_run: Path, bundle: Path) -> None:
    run = load_run(eval_run)
    loaded = load_bundle(bundle)
    assert loaded.kind == "bundle" and loaded.class_names == run.class_names and loaded.channels == run.channels
    assert loaded.config.model_dump(exclude={"runs_dir"}) == run.config.model_dump(exclude={"runs_dir"})
    images = load_split(run, "test")
    assert np.array_equal(predict_set(run, images)["probs"], predict_set(loaded, images)["probs"])
    assert loaded.metrics["test_uses"] == 1 and "accuracy" in loaded.metrics["test"]
    card = bundle_model_card(bundle)
    assert card.startswith("# Model card") and "Locked test set (used 1 time(s))" in card
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
    assert {WEIGHTS, "config.toml", "classes.json", "norm_stats.json", "preprocessing.json", "metrics.json",
            "MODEL_CARD.md", "manifest.json"} == names
    assert not any(n.endswith((".pt", ".pkl")) for n in names)


def test_predict_accepts_a_bundle(bundle: Path, eval_dataset: Path, tmp_path: Path) -> None:
    count, _ = predict_folder(bundle, eval_dataset / "square", tmp_path / "out.csv", tta=("vflip",))
    assert count == 30


def test_loading_a_bundle_never_unpickles(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a bundle must not be unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert load_bundle(bundle).kind == "bundle"


@pytest.mark.parametrize("name", ["extra.pkl", "weights.pt", "sub/model.pth", "data.pickle"])
def test_pickle_members_are_refused_by_name(bundle: Path, tmp_path: Path, name: str) -> None:
    bad = _rewrite(bundle, tmp_path / "bad.wbmodel", extra={name: b"harmless?"})
    with pytest.raises(BundleError, match="pickle"):
        load_bundle(bad)


def test_pickle_content_under_an_innocent_name_is_refused(bundle: Path, tmp_path: Path) -> None:
    payload = pickle.dumps({"x": 1})
    bad = _rewrite(bundle, tmp_path / "bad.wbmodel", extra={"notes.txt": payload})
    with pytest.raises(BundleError, match="pickle"):
        load_bundle(bad)
    old = pickle.dumps([1, 2], protocol=0)  # protocol 0 is plain ASCII
    with pytest.raises(BundleError, match="pickle"):
        load_bundle(_rewrite(bundle, tmp_path / "bad0.wbmodel", replace={"metrics.json": old}))


def test_a_torch_checkpoint_disguised_as_weights_is_refused(bundle: Path, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer)
    bad = _rewrite(bundle, tmp_path / "bad.wbmodel", replace={WEIGHTS: buffer.getvalue()})
    with pytest.raises(BundleError, match="archive"):
        load_bundle(bad)
    legacy = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)  # a bare pickle stream
    with pytest.raises(BundleError, match="not a safetensors file"):
        load_bundle(_rewrite(bundle, tmp_path / "bad2.wbmodel", replace={WEIGHTS: legacy.getvalue()}))


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "C:/evil.json", "..\\x"])
def test_paths_that_escape_the_bundle_are_refused(bundle: Path, tmp_path: Path, name: str) -> None:
    bad = _rewrite(bundle, tmp_path / "bad.wbmodel", extra={name: b"{}"})
    with pytest.raises(BundleError, match="refused"):
        load_bundle(bad)


def test_damaged_or_incomplete_bundles_are_refused(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"lacks model\.safetensors"):
        load_bundle(_rewrite(bundle, tmp_path / "a.wbmodel", drop=WEIGHTS))
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(_rewrite(bundle, tmp_path / "b.wbmodel", replace={"classes.json": json.dumps(["x", "y", "z"]).encode()}))
    (tmp_path / "c.wbmodel").write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="not a Workbench model bundle"):
        load_bundle(tmp_path / "c.wbmodel")


def test_pickle_detection() -> None:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert looks_like_pickle(pickle.dumps({"a": [1, 2.0, "x"]}, protocol=protocol))
    for text in (b'{"a": 1}', b"schema_version = 1\nname = 'x'\n", b"# Model card\n", b"", b"[1, 2]"):
        assert not looks_like_pickle(text)


# --- TorchScript and ONNX --------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["eval_run", "rgb_run"])
def test_onnx_matches_pytorch_on_real_images(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    run = load_run(request.getfixturevalue(which))
    images, source = sample_images(run)
    assert "validation split" in source and images.shape[1] == run.in_channels
    check = export_onnx(run, tmp_path / "model.onnx")
    assert check.max_abs_diff < PARITY_TOLERANCE and check.passed and check.samples == len(images)
    import onnxruntime as ort

    session = ort.InferenceSession(str(check.path), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).random((5, *images.shape[1:]), dtype=np.float32)  # dynamic batch size
    assert session.run(None, {"pixels": batch})[0].shape == (5, 3)


def test_torchscript_matches_pytorch(eval_run: Path, tmp_path: Path) -> None:
    check = export_torchscript(load_run(eval_run), tmp_path / "model.ts")
    assert check.max_abs_diff < PARITY_TOLERANCE


def test_export_run_writes_every_file(eval_run: Path, tmp_path: Path) -> None:
    written = export_run(eval_run, tmp_path / "export")
    names = {p.name for p in written}
    assert {"model.onnx", "model.torchscript.pt", "MODEL_CARD.md", "metrics.csv", "curves.png", "export.json"} <= names
    assert any(n.endswith(".wbmodel") for n in names)
    summary = json.loads((tmp_path / "export" / "export.json").read_text())
    assert summary["onnx_max_abs_diff"] < PARITY_TOLERANCE and summary["onnx_passed"] is True
    assert (eval_run / "exports" / "export.json").exists()
