"""Plain-language help for every pane, following the reasoning of "Training Deep Networks from Zero to Hero".

Each pane's help names the paper's sections it draws on (e.g. "Checklist item 1 (section II-A)"), so a
reader can look up the argument. The texts are simple HTML and go through `QCoreApplication.translate`
with the context "help", so a translation can replace them. `panes/base.py` shows them in a side panel,
so every pane gets its help without any code of its own. `CHECKLIST` lists the paper's seven checklist
items, for the checklist view of the pitfall doctor.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication

PAPER = "Training Deep Networks from Zero to Hero (Ponti et al.)"


@dataclass(frozen=True)
class HelpTopic:
    """One choice on a pane: a heading, the explanation, and the paper section it follows."""

    heading: str
    text: str
    section: str  # e.g. "Checklist item 1 (section II-A)"


@dataclass(frozen=True)
class ChecklistItem:
    number: int
    title: str
    question: str
    pane: str  # the pane whose findings decide this item


CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem(1, "Input representation is fair", "Are the patterns still visible at the size the network sees?",
                  "samples"),
    ChecklistItem(2, "Input data is normalised", "Are the pixel values scaled to a common range?", "samples"),
    ChecklistItem(3, "Data has quality", "Wrong labels, duplicates, blank or unreadable images?", "data"),
    ChecklistItem(4, "Loss and metrics make sense", "Does the loss start near -ln(1/classes) and fall smoothly?",
                  "train"),
    ChecklistItem(5, "Projected features have structure", "Do the classes form groups in the feature projection?",
                  "train"),
    ChecklistItem(6, "Tuning uses validation, never the test set", "Is the test set kept locked until the end?",
                  "evaluate"),
    ChecklistItem(7, "Internal and external validation", "Was the model checked on data from another source?",
                  "evaluate"),
)

_TOPICS: dict[str, tuple[HelpTopic, ...]] = {
    "data": (
        HelpTopic("Where the images come from",
                  "Point Workbench at a folder with one sub-folder per class, a CSV list, or folders already split "
                  "into train/val/test. Every image is checked; unreadable files are listed, not silently dropped.",
                  "Checklist item 3 (section II-A)"),
        HelpTopic("Training, validation and test sets",
                  "The network learns from the training set. You make every decision (settings, when to stop) by "
                  "looking at the validation set. The test set stays locked until the very end; looking at it "
                  "while tuning makes the final number optimistic and not generalisable.",
                  "Checklist item 6 (section II-A)"),
        HelpTopic("Balanced classes",
                  "When one class has many more images than another, a model can score well by always guessing "
                  "the big class. Weigh the classes, use balanced accuracy, or add (augmented) images of the "
                  "rare classes.", "Imbalance (section II-C)"),
        HelpTopic("How many images",
                  "Coarse categories need roughly 1,500 images per class to learn from scratch; with fewer, start "
                  "from a pre-trained network (transfer learning) or use it as a feature extractor.",
                  "Small datasets (section II-B)"),
    ),
    "samples": (
        HelpTopic("Is the pattern still visible?",
                  "Compare each original with what the network sees. If you cannot tell the classes apart after "
                  "resizing, neither can the network: choose a larger image size.",
                  "Checklist item 1 (section II-A)"),
        HelpTopic("Normalisation",
                  "Networks learn badly from arbitrary value ranges. 0–1 scaling or z-score standardisation "
                  "(mean and standard deviation of the training set) makes the loss fall faster and more reliably.",
                  "Checklist item 2 (section II-A)"),
        HelpTopic("Augmentation",
                  "Small rotations, crops and brightness changes make the training set larger and more varied, and "
                  "can help rare classes. Only use changes that keep the label true (a flipped '6' is not a '6').",
                  "Data augmentation (section IV-E)"),
    ),
    "model": (
        HelpTopic("Size of the network",
                  "Wider networks are easier to train and capture finer detail; deeper ones do well on clear, "
                  "single-object images. With little or noisy data, a smaller network is often more robust.",
                  "Width, depth and resolution (section III-B)"),
        HelpTopic("Convolutions and pooling",
                  "Depthwise-separable convolutions give the same output shape at a fraction of the cost. Max "
                  "pooling is the usual choice for classification.",
                  "Convolution types and pooling (sections III-A, III-C)"),
        HelpTopic("Normalisation layers, dropout and activation",
                  "Batch normalisation smooths optimisation. Dropout switches off a share of units while training "
                  "so no unit memorises the data. Swish or Mish can do slightly better than ReLU.",
                  "Normalisation, dropout, activations (sections IV-C, IV-D, VI-A)"),
        HelpTopic("Transformers",
                  "Vision transformers have little built-in knowledge of images and need far more data than CNNs; "
                  "prefer a CNN unless you start from pre-trained weights.", "Transformers and ViT (section III-D)"),
    ),
    "strategy": (
        HelpTopic("From scratch or pre-trained",
                  "Training from scratch needs a lot of data. Transfer learning keeps a pre-trained network, "
                  "freezes it and trains a new last layer; fine-tuning then unfreezes the top layers with a small "
                  "learning rate (10⁻⁴ or less).", "Training beyond the basics (section V)"),
        HelpTopic("Feature extraction",
                  "With very few images, use a pre-trained network only to turn images into feature vectors and "
                  "fit a simple classifier on them.", "Feature extraction (section V)"),
        HelpTopic("Curriculum and self-supervision",
                  "Curriculum learning shows easy examples first; self-supervised pre-training learns from the "
                  "images alone, when labels are scarce but images are plenty.",
                  "Curriculum, self-supervised learning (sections V-A, V-C)"),
        HelpTopic("Finding a learning rate",
                  "“Find learning rate…” trains a fresh copy of the model for a few steps while the rate grows from "
                  "10⁻⁶ to 1, and plots the loss against the rate. The loss stays flat while the rate is too small, "
                  "falls at useful rates and shoots up when it is too large; the suggestion is a tenth of the rate "
                  "with the lowest loss. Your settings change only when you click Use.",
                  "Learning rate (section IV-B)"),
    ),
    "train": (
        HelpTopic("Reading the loss curve",
                  "With C classes, an untrained network's loss should start near -ln(1/C) (2.30 for 10 classes). "
                  "It should then fall fairly smoothly. If training and validation curves drift apart, the model "
                  "is memorising the training set.", "Checklist item 4 (section II-A)"),
        HelpTopic("Over- and underfitting",
                  "A loss that stays far from zero means underfitting (too small a model or poor optimisation). "
                  "Training loss near zero with rising validation loss means overfitting: use more data, "
                  "augmentation, dropout or a smaller model.", "Complexity of models (section II-D)"),
        HelpTopic("Optimiser, batch size and learning rate",
                  "A bad learning rate may ruin all other choices. Adam wants about 0.001 or lower; SGD about "
                  "0.01. A schedule (step, exponential, cosine) lowers the rate as training goes on.",
                  "Optimisation (sections IV-A, IV-B)"),
        HelpTopic("Feature projection",
                  "The scatter shows the validation images in the network's learned feature space (the layer "
                  "before the output). Separate groups per class mean a useful representation; a structureless "
                  "cloud means little was learned, even when accuracy is above chance.",
                  "Checklist item 5 (section II-A)"),
    ),
    "evaluate": (
        HelpTopic("The locked test set",
                  "Evaluate on the test set once, after every decision is made. Results on a test set used for "
                  "tuning are biased.", "Checklist item 6 (section II-A)"),
        HelpTopic("Metrics that fit the task",
                  "Accuracy misleads on unbalanced classes; look at balanced accuracy, the per-class results and "
                  "the confusion matrix.", "Checklist item 4 and imbalance (sections II-A, II-C)"),
        HelpTopic("External validation and shortcuts",
                  "A model may use a shortcut (a stain colour, a marker, a background) instead of the pattern you "
                  "mean. Check saliency maps, and test on data from another source before trusting the model.",
                  "Checklist item 7 and attacks (sections II-A, II-E)"),
        HelpTopic("Test-time augmentation",
                  "Averaging predictions over several augmented copies of each test image can make predictions "
                  "more robust, and shows how stable the model is.", "Test augmentation (section VI-B)"),
    ),
    "export": (
        HelpTopic("What to share",
                  "The bundle holds the model, its preprocessing and class names, so others get the same results. "
                  "The report lists the checks behind the numbers.", "Checklist item 7 (section II-A)"),
        HelpTopic("Report the risk of bias",
                  "For decision support (e.g. diagnosis), check the study against PROBAST or CLAIM before "
                  "claiming results; many published models failed there.", "Checklist item 7 (section II-A)"),
    ),
}


def _tr(text: str) -> str:
    return QCoreApplication.translate("help", text)


def topics(pane: str) -> tuple[HelpTopic, ...]:
    """The help topics of a pane (empty for an unknown pane)."""
    return tuple(HelpTopic(_tr(t.heading), _tr(t.text), _tr(t.section)) for t in _TOPICS.get(pane, ()))


def help_html(pane: str) -> str:
    """The pane's help as HTML: one heading, text and paper section per topic."""
    parts = []
    for topic in topics(pane):
        parts.append(f"<h4 style='margin-bottom:2px'>{topic.heading}</h4><p style='margin-top:2px'>{topic.text}"
                     f"<br><i>{_tr('Paper')}: {topic.section}</i></p>")
    if not parts:
        return ""
    footer = _tr("The sections refer to “{0}”.").format(PAPER)
    return "".join(parts) + f"<p style='color:gray'><small>{footer}</small></p>"


def panes_with_help() -> tuple[str, ...]:
    return tuple(_TOPICS)
