"""Strategy building blocks without the engine: registry, weights loading and matching, blocks and unfreezing,
pacing, losses, tensor classifiers against scikit-learn, metric-learning batches and retrieval metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from workbench.core.config import ConfigError, ProjectConfig, StrategyConfig, config_from_dict
from workbench.core.models.factory import build_model
from workbench.core.models.pretrained import (
    WeightsError,
    load_matched,
    match_state_dict,
    read_state_dict,
    timm_pretrained_state,
    timm_weights_file,
)
from workbench.core.strategies import STRATEGIES, load_strategy, losses
from workbench.core.strategies.blocks import model_blocks, set_trainable, trainable_layers
from workbench.core.strategies.feature_heads import ForestHead, fit_head, make_head
from workbench.core.strategies.inference import build_run_model
from workbench.core.strategies.metric_learning import pk_batches, retrieval_metrics
from workbench.core.strategies.pacing import easiest_subset, fill_epoch, pacing_fraction
from workbench.core.strategies.unfreezing import UnfreezePlan


def small_config(**strategy: object) -> ProjectConfig:
    config = ProjectConfig()
    config.preprocessing.image_size = 16
    config.model.small_cnn.width = 8
    config.model.small_cnn.depth = 3
    for key, value in strategy.items():
        setattr(config.strategy, key, value)
    return config


# --- registry and config --------------------------------------------------------------------------


def test_every_strategy_is_described_and_loadable() -> None:
    fields = set(StrategyConfig.model_fields)
    for info in STRATEGIES.values():
        assert info.label and info.description and info.paper_section, info.name
        assert set(info.params) <= fields, f"{info.name} lists unknown parameters"
        assert load_strategy(info.name) is not None
    assert {"transfer", "fine_tune", "feature_extraction", "curriculum", "self_supervised", "autoencoder",
            "metric_learning"} <= set(STRATEGIES)


def test_strategy_fields_have_defaults_ranges_and_descriptions() -> None:
    for name, info in StrategyConfig.model_fields.items():
        assert info.description, name
    config = config_from_dict({"strategy": {"name": "fine_tune", "weights": "run", "weights_path": "/r",
                                            "unfreeze_blocks": 1, "unfreeze_every": 2}})
    assert config.strategy.finetune_lr == 1e-4
    with pytest.raises(ConfigError, match=r"strategy\.min_match"):
        config_from_dict({"strategy": {"min_match": 0.0}})
    with pytest.raises(ConfigError, match="unknown strategy"):
        config_from_dict({"strategy": {"name": "magic"}})


# --- weights files and matching -------------------------------------------------------------------


def test_weights_files_are_read_safely(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    model = build_model(small_config(), 1, 3)
    save_file(model.state_dict(), tmp_path / "w.safetensors")
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}, "epoch": 3}, tmp_path / "w.pt")
    assert set(read_state_dict(tmp_path / "w.safetensors")) == set(model.state_dict())
    assert set(read_state_dict(tmp_path / "w.pt")) == set(model.state_dict()), "containers and 'module.' are unwrapped"

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="never unpickles"):
        read_state_dict(tmp_path / "evil.pth")
    (tmp_path / "w.pkl").write_bytes(b"x")
    with pytest.raises(WeightsError, match=r"\.safetensors"):
        read_state_dict(tmp_path / "w.pkl")
    with pytest.raises(WeightsError, match="does not exist"):
        read_state_dict(tmp_path / "missing.pt")


def test_matching_by_name_then_order_and_adapting_the_input_channels() -> None:
    source = build_model(small_config(), 3, 10).state_dict()  # RGB, 10 classes
    renamed = {k.replace("features", "body"): v for k, v in source.items()}  # same network, other names
    target_model = build_model(small_config(), 1, 3)  # grey, 3 classes
    _, report = match_state_dict(target_model.state_dict(), renamed, ["classifier"], "renamed")
    assert report.share == 1.0 and not report.matched_by_name and report.matched_by_order
    assert report.head == ["classifier.weight", "classifier.bias"]
    direct = load_matched(target_model, source, "source", min_match=0.5)
    assert direct.share == 1.0 and direct.adapted == ["features.0.0.weight"]
    grey = source["features.0.0.weight"].sum(1, keepdim=True)
    assert torch.equal(target_model.state_dict()["features.0.0.weight"], grey)
    assert not torch.equal(target_model.state_dict()["classifier.weight"][:3], source["classifier.weight"][:3])
    assert set(direct.to_dict()) >= {"matched_by_name", "missing", "unused", "share", "summary"}


def test_too_little_matching_is_refused() -> None:
    other = small_config()
    other.model.small_cnn.width = 16  # every tensor has another shape
    with pytest.raises(WeightsError, match="do not fit"):
        load_matched(build_model(small_config(), 1, 3), build_model(other, 1, 3).state_dict(), "wide", 0.5)


def test_timm_weights_are_found_only_in_the_local_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import timm
    from huggingface_hub import constants
    from safetensors.torch import save_file

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsError, match=r"models--timm--test_resnet\.r160_in1k.*weights = 'file'"):
        timm_weights_file("test_resnet")
    snapshot = tmp_path / "models--timm--test_resnet.r160_in1k" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc123")
    imagenet = timm.create_model("test_resnet", pretrained=False)  # 3 channels, 1000 classes
    save_file(imagenet.state_dict(), snapshot / "model.safetensors")
    assert timm_weights_file("test_resnet") == snapshot / "model.safetensors"
    state, _ = timm_pretrained_state("test_resnet", 1, 3, 32)
    assert state["fc.weight"].shape == (3, imagenet.num_features) and state["conv1.0.weight"].shape[1] == 1
    assert torch.allclose(state["layer4.0.conv1.weight"], imagenet.state_dict()["layer4.0.conv1.weight"])


# --- blocks and unfreezing ------------------------------------------------------------------------


def test_blocks_and_trainable_layers() -> None:
    model = build_model(small_config(), 1, 3)
    assert [b.name for b in model_blocks(model)] == ["features.0", "features.1", "features.2"]
    set_trainable(model, {"features.2"})
    rows = trainable_layers(model)
    assert [(name, flag) for name, flag, _ in rows] == [("features.0", False), ("features.1", False),
                                                        ("features.2", True), ("head", True)]
    assert sum(n for *_, n in rows) == sum(p.numel() for p in model.parameters())
    timm_config = small_config()
    timm_config.model.architecture = "test_resnet"
    timm_model = build_model(timm_config, 1, 3)
    assert model_blocks(timm_model)[0].name == "stem" and trainable_layers(timm_model)[-1][0] == "head"


def test_frozen_batch_norm_keeps_its_statistics_in_training_mode() -> None:
    model = build_model(small_config(), 1, 3)
    set_trainable(model, set())
    before = model.features[0][1].running_mean.clone()
    model.train()
    model(torch.randn(8, 1, 16, 16) * 5 + 3)
    assert torch.equal(model.features[0][1].running_mean, before)


def test_gradual_unfreezing_schedule_and_discriminative_rates() -> None:
    config = small_config(unfreeze_blocks=2, unfreeze_every=2, finetune_lr=1e-4, lr_decay=0.5)
    config.training.lr = 1e-2
    model = build_model(config, 1, 3)
    plan = UnfreezePlan(model, config, fine_tune=True)
    assert [plan.unfrozen_at(e) for e in range(1, 8)] == [0, 0, 1, 1, 2, 2, 2]
    groups = plan.param_groups(model)
    assert [(g["name"], g["lr"]) for g in groups] == [("head", 1e-2), ("features.2", 1e-4), ("features.1", 5e-5)]
    plan.apply(model, 3)
    assert [flag for _, flag, _ in trainable_layers(model)] == [False, False, True, True]
    transfer = UnfreezePlan(model, config, fine_tune=False)
    assert [g["name"] for g in transfer.param_groups(model)] == ["head"]


# --- curriculum pacing ----------------------------------------------------------------------------


def test_pacing_functions() -> None:
    assert [pacing_fraction(e, "exponential", 0.2, 2.0, 2) for e in range(1, 8)] == pytest.approx(
        [0.2, 0.2, 0.4, 0.4, 0.8, 0.8, 1.0])
    assert [pacing_fraction(e, "step", 0.3, 2.0, 3) for e in (1, 3, 4)] == [0.3, 0.3, 1.0]
    assert [pacing_fraction(e, "linear", 0.25, 2.0, 1) for e in (1, 2, 4, 9)] == [0.25, 0.5, 1.0, 1.0]


def test_easiest_subset_keeps_every_class_in_proportion() -> None:
    labels = np.array([0] * 40 + [1] * 20)
    indices = np.arange(100, 160)
    difficulty = np.random.default_rng(0).random(60)
    subset = easiest_subset(indices, labels, difficulty, 0.25)
    assert np.bincount(labels[subset - 100]).tolist() == [10, 5]
    easiest_of_0 = indices[np.argsort(np.where(labels == 0, difficulty, np.inf))[:10]]
    assert set(easiest_of_0) <= set(subset)
    filled = fill_epoch(subset, 60, np.random.default_rng(1))
    assert len(filled) == 60 and set(filled) == set(subset)


# --- self-supervised views -----------------------------------------------------------------------


def test_each_method_has_its_two_view_recipe() -> None:
    from torchvision.transforms import v2

    from workbench.core.strategies.views import RECIPES, ssl_views, two_views

    assert set(RECIPES) == {"simclr", "byol", "simsiam", "barlow_twins"}
    first, second = ssl_views("byol", 32, 3)
    kinds = [[type(t).__name__ for t in pipeline.transforms] for pipeline in (first, second)]
    assert "RandomSolarize" in kinds[1] and "RandomSolarize" not in kinds[0], "BYOL's views are asymmetric"
    assert not any(isinstance(t, v2.RandomApply) and "GaussianBlur" in repr(t) for t in ssl_views("simclr", 16, 1)[0].transforms)
    batch = torch.rand(4, 1, 16, 16)
    a, b = two_views(batch, ssl_views("simclr", 16, 1))
    assert a.shape == b.shape == batch.shape and not torch.equal(a, b)


# --- losses ---------------------------------------------------------------------------------------


def test_self_supervised_losses_reward_agreeing_views() -> None:
    torch.manual_seed(0)
    z = torch.randn(16, 8)
    noise = torch.randn(16, 8)
    assert losses.nt_xent(z, z + 0.01 * noise, 0.2) < losses.nt_xent(z, noise, 0.2)
    # NT-Xent by its definition: each of the 2N views against its partner, among the 2N - 1 others
    zn = nn.functional.normalize(torch.cat([z, z + 0.1 * noise]), dim=1)
    sim = zn @ zn.T / 0.5
    terms = [-sim[i, (i + 16) % 32] + torch.logsumexp(torch.cat([sim[i, :i], sim[i, i + 1:]]), 0) for i in range(32)]
    assert float(losses.nt_xent(z, z + 0.1 * noise, 0.5)) == pytest.approx(float(torch.stack(terms).mean()), rel=1e-5)
    assert float(losses.byol_loss(z, z, z, z)) == pytest.approx(0.0, abs=1e-5)
    assert float(losses.simsiam_loss(z, z, z, z)) == pytest.approx(-1.0, abs=1e-5)
    assert losses.barlow_twins_loss(z, z + 0.01 * noise) < losses.barlow_twins_loss(z, noise)


def test_metric_losses() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    separated = nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.99, 0.1], [-1.0, 0.0], [-0.99, 0.1]]), dim=1)
    mixed = separated[[0, 2, 1, 3]]
    for loss in (losses.batch_hard_triplet, losses.contrastive_pairs):
        assert float(loss(separated, labels, 0.5)) < 0.05 < float(loss(mixed, labels, 0.5))
    lonely = losses.batch_hard_triplet(separated, torch.tensor([0, 1, 2, 3]), 0.5)
    assert float(lonely) == 0.0, "anchors without positives contribute nothing"


# --- tensor classifiers ---------------------------------------------------------------------------


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("kind", ["logistic", "linear_svm", "rbf_svm", "knn", "random_forest"])
def test_tensor_heads_predict_like_scikit_learn(kind: str, classes: int) -> None:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC, LinearSVC

    x, y = make_classification(150, 6, n_informative=4, n_redundant=0, n_classes=classes, random_state=1)
    x = x.astype(np.float32)
    reference = {"logistic": LogisticRegression(max_iter=5000), "linear_svm": LinearSVC(max_iter=20000, random_state=0),
                 "rbf_svm": SVC(random_state=0), "knn": KNeighborsClassifier(5),
                 "random_forest": RandomForestClassifier(20, random_state=0, n_jobs=-1)}[kind].fit(x, y)
    head = fit_head(kind, x, y, classes, trees=20)
    queries = x + np.random.default_rng(2).normal(0, 0.3, x.shape).astype(np.float32)
    logits = head(torch.from_numpy(queries))
    assert (logits.argmax(1).numpy() == reference.predict(queries)).mean() >= 0.99
    if kind in ("logistic", "random_forest"):
        probs = torch.softmax(logits, 1) if kind == "logistic" else torch.exp(logits) - 1e-4
        assert np.allclose(probs.numpy(), reference.predict_proba(queries), atol=1e-4)
    reloaded = make_head(kind, classes)
    reloaded.load_state_dict(head.state_dict())
    assert torch.equal(reloaded(torch.from_numpy(queries)), logits)


def test_unfitted_head_gives_uniform_logits() -> None:
    assert torch.equal(ForestHead(4)(torch.randn(3, 5)), torch.zeros(3, 4))


def test_strategy_models_are_rebuilt_for_reloading() -> None:
    config = small_config(classifier="knn")
    config.strategy.name = "feature_extraction"
    model = build_run_model(config, 1, 3)
    assert model(torch.randn(2, 1, 16, 16)).shape == (2, 3)
    config.strategy.name = "fine_tune"
    assert type(build_run_model(config, 1, 3)).__name__ == "SmallCNN"


# --- metric learning batches and retrieval metrics ------------------------------------------------


def test_pk_batches_give_every_anchor_a_positive() -> None:
    labels = np.repeat(np.arange(5), 9)
    indices = np.arange(45) + 1000
    batches = pk_batches(indices, labels, 16, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == indices.tolist()
    for batch in batches:
        counts = np.bincount(labels[batch - 1000])
        assert (counts[counts > 0] >= 2).all()
    uneven = np.repeat(np.arange(3), 6)  # groups of 4 and 2 images, shuffled: the count must not vary by epoch
    counts = {len(pk_batches(np.arange(18), uneven, 8, np.random.default_rng(seed))) for seed in range(20)}
    assert len(counts) == 1, "every epoch has as many batches as the schedule counted"


def test_retrieval_metrics() -> None:
    gallery = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[0.05], [4.0], [2.6]])
    metrics = retrieval_metrics(query, torch.tensor([0, 1, 0]), gallery, labels, 1, 2)
    assert metrics["knn_accuracy"] == pytest.approx(2 / 3) and metrics["recall_at_1"] == pytest.approx(2 / 3)
    assert metrics["recall_at_5"] == 1.0
    loo = retrieval_metrics(gallery, labels, gallery, labels, 1, 2, same_set=True)
    assert loo["knn_accuracy"] == 1.0
