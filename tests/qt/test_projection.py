"""The live feature projection in the Train pane: points drawn by class, the epoch slider, scores, hover text."""

from __future__ import annotations

from workbench.core.events import ProjectionReady


def _projection(epoch: int, shift: float, partial: bool = False) -> ProjectionReady:
    points = tuple((float(i % 3) * shift, float(i // 3)) for i in range(6))
    return ProjectionReady(epoch, "pca", points, (0, 0, 1, 1, 2, 2), partial,
                           {"knn_accuracy": 0.3 * epoch, "silhouette": 0.1 * epoch})


def test_projection_events_draw_points_and_the_slider_switches_epochs(window, tmp_path) -> None:
    view = window.panes["train"].projection
    view.set_class_names(["circle", "cross", "square"])
    window.runner.projection.emit(_projection(1, 1.0))
    assert len(view.scatter.points()) == 6
    assert not view.slider.isEnabled()
    window.runner.projection.emit(_projection(3, 10.0))
    assert view.slider.isEnabled() and view.slider.maximum() == 1 and view.current == 1
    assert max(p.pos().x() for p in view.scatter.points()) == 20.0
    view.slider.setValue(0)
    assert view.current == 0 and "Epoch 1" in view.epoch_label.text()
    assert max(p.pos().x() for p in view.scatter.points()) == 2.0
    brushes = {p.brush().color().name() for p in view.scatter.points()}
    assert len(brushes) == 3  # one colour per class
    xs, ys = view._score_curves["knn_accuracy"].getData()
    assert list(xs) == [1, 3] and abs(ys[1] - 0.9) < 1e-9
    # a final projection of an epoch replaces its partial one
    window.runner.projection.emit(_projection(3, 5.0))
    assert len(view.projections) == 2


def test_hovering_names_the_class_and_shows_the_validation_image(window, tmp_path) -> None:
    view = window.panes["train"].projection
    view.set_class_names(["circle", "cross", "square"])
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    train_row = (str(tmp_path / "train.png"), "circle", "train")
    samples = [train_row] + [(str(image), name, "val") for name in ("circle", "circle", "cross", "cross", "square", "square")]
    view.set_samples(samples)
    window.runner.projection.emit(_projection(2, 1.0))  # no row indices (older runs): the validation rows in order
    text = view.hover_text(2)
    assert "cross" in text and "a.png" in text and "<img" in text
    view.set_samples([train_row, *reversed(samples[1:])])  # rows that do not match: no wrong thumbnail
    assert "<img" not in view.hover_text(0)


def test_hover_uses_the_split_rows_the_projection_names(window, tmp_path) -> None:
    """A subsampled projection lists the split.csv row of each point; the thumbnail is that row's image."""
    view = window.panes["train"].projection
    view.set_class_names(["circle", "cross"])
    rows = [(str(tmp_path / f"{i}.png"), "circle" if i % 2 == 0 else "cross", "val" if i >= 3 else "train")
            for i in range(9)]
    view.set_samples(rows)
    window.runner.projection.emit(ProjectionReady(1, "pca", ((0.0, 0.0), (1.0, 1.0), (2.0, 0.0)), (1, 0, 0),
                                                  indices=(7, 4, 8)))
    assert view.sample_of(0) == (rows[7][0], "cross")
    assert view.sample_of(2) == (rows[8][0], "circle")
    assert "8.png" in view.hover_text(2) and "<img" in view.hover_text(2)
    window.runner.projection.emit(ProjectionReady(2, "pca", ((0.0, 0.0),), (0,), indices=(5,)))  # row 5 is a cross
    assert view.sample_of(0) is None and "<img" not in view.hover_text(0)
