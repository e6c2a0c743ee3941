"""Findings as the app's checks word them, shared by the report tests (core) and the checklist-report tests (GUI)."""

from __future__ import annotations

# What the app's data checks said before the first run (the user then applied the imbalance fix).
DATA_FINDINGS = [
    {"code": "class-imbalance", "severity": "warning", "title": "Classes are imbalanced (14.3 : 1)",
     "explanation": "The training split has 1430 images of 'functional' but only 100 of 'defective'.",
     "fix": "Weight the loss by inverse class frequency.", "pane": "data",
     "evidence": {"ratio": 14.3, "counts": {"functional": 1430, "defective": 100},
                  "patch": {"training.class_weighting": True}, "paper_item": "II-C"}},
    {"code": "small-data", "severity": "info", "title": "Few training images per class (smallest class: 100)",
     "explanation": "Studies suggest about 1,500 per class.", "fix": "Consider transfer learning.", "pane": "data",
     "evidence": {"smallest": 100, "paper_item": "II-B"}},
    {"code": "duplicates-within-split", "severity": "warning", "title": "3 duplicate images within the training split",
     "explanation": "The same image appears more than once.", "fix": "Remove the copies.", "pane": "data",
     "evidence": {"copies": 3, "paper_item": "II-A.3"}},
]
# What the run's own checks said: its data checks, the training monitors and the end-of-run checks.
RUN_FINDINGS = [
    {"code": "class-imbalance", "severity": "info", "title": "Classes are imbalanced (14.3 : 1)",
     "explanation": "Class weighting is already on.", "fix": "", "pane": "data",
     "evidence": {"ratio": 14.3, "paper_item": "II-C"}},
    {"code": "loss-not-decreasing", "severity": "warning", "title": "The validation loss has reached a plateau",
     "explanation": "No improvement for 8 epochs.", "fix": "Lower the learning rate.", "pane": "train",
     "evidence": {"epochs_without_improvement": 8, "paper_item": "II-A.4"}},
    {"code": "overfitting", "severity": "warning", "title": "Overfitting from epoch 3", "explanation": "The gap grew.",
     "fix": "Add augmentation.", "pane": "train", "evidence": {"gap": 0.4}, "status": "resolved",
     "history": [{"status": "raised", "epoch": 3, "note": "gap 0.4"},
                 {"status": "resolved", "epoch": 9, "note": "the validation loss fell to a new best"}]},
    {"code": "shortcut-border", "severity": "problem", "title": "The model relies on the image border",
     "explanation": "Masking the border drops accuracy by 0.31.", "fix": "Crop the border.", "pane": "evaluate",
     "evidence": {"drop": 0.31, "paper_item": "II-E"}},
    *({"code": "shortcut-region", "severity": "info", "title": f"Predictions of '{name}' rest on a small fixed region",
       "explanation": "Much of the attribution lies in 3% of the pixels.", "fix": "Look at the attribution map.",
       "pane": "evaluate", "evidence": {"concentration": 0.31, "maps": "/runs/r/diagnostics/attribution_maps.npy"}}
      for name in ("square", "hbar")),
]
