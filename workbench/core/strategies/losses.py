"""Losses of self-supervised and metric learning, written out plainly (each a few lines, after its paper).

Written here rather than taken from `lightly`: that package would bring PyTorch Lightning and other
dependencies into a desktop application for a few short functions; these are checked in the tests.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy: each view must pick its partner among 2N − 1 others."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(float("-inf"))  # a view is not its own partner
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(similarity, partner)


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """−cos(p, z) with z treated as a constant (stop-gradient), as in SimSiam; BYOL's loss is 2 + 2 × this."""
    return -F.cosine_similarity(p, z.detach(), dim=1).mean()


def byol_loss(p1: torch.Tensor, p2: torch.Tensor, t1: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
    """BYOL: the online prediction of each view regresses the target projection of the other (symmetrised)."""
    return (2 + 2 * negative_cosine(p1, t2)) + (2 + 2 * negative_cosine(p2, t1))


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, off_diagonal_weight: float = 5e-3) -> torch.Tensor:
    """Barlow Twins: the cross-correlation of the two views' standardised embeddings should be the identity."""
    n = z1.shape[0]
    a = (z1 - z1.mean(0)) / (z1.std(0) + 1e-5)
    b = (z2 - z2.mean(0)) / (z2.std(0) + 1e-5)
    c = a.T @ b / n
    on_diagonal = (torch.diagonal(c) - 1).pow(2).sum()
    off_diagonal = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return on_diagonal + off_diagonal_weight * off_diagonal


def _pairwise_distance(embeddings: torch.Tensor) -> torch.Tensor:
    """Euclidean distances with a safe gradient at zero (torch.cdist's is not)."""
    squared = (embeddings.unsqueeze(1) - embeddings.unsqueeze(0)).pow(2).sum(-1)
    return (squared + 1e-12).sqrt()


def batch_hard_triplet(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Triplet loss with batch-hard mining (Hermans et al. 2017): for each anchor, its farthest positive
    should be closer than its nearest negative by at least `margin`."""
    distance = _pairwise_distance(embeddings)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive, negative = same & ~eye, ~same
    valid = positive.any(1) & negative.any(1)
    if not valid.any():
        return embeddings.sum() * 0.0
    hardest_positive = distance.masked_fill(~positive, 0.0).max(1).values
    hardest_negative = distance.masked_fill(~negative, float("inf")).min(1).values
    return F.relu(hardest_positive - hardest_negative + margin)[valid].mean()


def contrastive_pairs(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Contrastive loss (Hadsell et al. 2006): same-class pairs are pulled together, other pairs pushed at least
    `margin` apart. Positive and negative pairs are averaged separately, so the many negatives do not drown
    the few positives."""
    distance = _pairwise_distance(embeddings)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    upper = torch.ones_like(same).triu(1)
    positive, negative = same & upper, ~same & upper
    loss = embeddings.sum() * 0.0
    if positive.any():
        loss = loss + distance[positive].pow(2).mean()
    if negative.any():
        loss = loss + F.relu(margin - distance[negative]).pow(2).mean()
    return loss


def projection_mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """Linear → batch norm → ReLU → linear: the projector and predictor heads of SimCLR, BYOL, SimSiam, Barlow."""
    return nn.Sequential(nn.Linear(in_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, out_dim))
