"""Confidence that means what the script's threshold says.

A logistic model turns a decision's features (`closed_set.features`) into the probability
that the decision is right; fitted by `bench/asr_eval.py --fit` on the *calibration* half of
the evaluation set (utterances split by sentence, so no sentence is both fitted and measured)
and stored in `calibration.json` beside this module.

A probability alone would not make a threshold of 0.45 mean "at most 5% wrong" (half of the
decisions at p = 0.5 are wrong). So the probability is mapped through knots fitted on the same
half: for each target error rate E in `TARGETS`, the lowest probability p_E such that the
decisions with p ≥ p_E are wrong at most E of the time — by the one-sided 90% upper bound of
their error rate, not the rate observed on a hundred utterances; p_E becomes confidence
`TARGETS[E]`.
Hence with the 19115 threshold 0.45, the decisions accepted are those of a group that was
wrong at most 5% of the time on held-out speech; 0.7 means at most 2%. Between knots the map
is linear and monotone. The measurement on the other half is printed by the benchmark.

Rules: confidence is in 0..1 and never decreases when the probability rises; without a fitted
file the confidence is the raw probability (and the benchmark says the calibration is
missing).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FITTED = HERE / "calibration.json"
# accepted-error rate on held-out speech → the confidence that stands for it
TARGETS: tuple[tuple[float, float], ...] = (
    (0.30, 0.15), (0.15, 0.30), (0.05, 0.45), (0.02, 0.70), (0.01, 0.90))


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    bias: float
    knots: tuple[tuple[float, float], ...] = ()  # (probability, confidence), rising

    def probability(self, features: Sequence[float]) -> float:
        if len(features) != len(self.weights):
            return 0.0
        z = self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def confidence(self, features: Sequence[float]) -> float:
        p = self.probability(features)
        if not self.knots:
            return round(p, 4)
        xs = [0.0, *(k[0] for k in self.knots), 1.0]
        ys = [0.0, *(k[1] for k in self.knots), 1.0]
        return round(float(np.interp(p, xs, ys)), 4)

    def to_json(self) -> str:
        return json.dumps({"weights": self.weights, "bias": self.bias,
                           "knots": self.knots}, indent=1) + "\n"

    @classmethod
    def load(cls, path: Path = FITTED) -> Calibration:
        if not path.is_file():
            return UNFITTED
        data = json.loads(path.read_text())
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]),
                   tuple((float(p), float(c)) for p, c in data.get("knots", ())))


# Before any fit: margin and key words speak for the choice, a forced phrase far less likely
# than the free transcript speaks against it.
UNFITTED = Calibration((0.8, 1.0, 0.3, -2.0, 0.3, 2.0), -1.0)


def fit(features: Sequence[Sequence[float]], right: Sequence[bool],
        l2: float = 0.01, steps: int = 200, z: float = 1.2816) -> Calibration:
    """Logistic regression (Newton steps, small L2) plus the knots of `TARGETS`."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(right, dtype=np.float64)
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        grad = design.T @ (p - y) + l2 * np.r_[w[:-1], 0.0]
        hess = design.T @ (design * (p * (1 - p))[:, None]) + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    raw = Calibration(tuple(float(v) for v in w[:-1]), float(w[-1]))
    probs = np.array([raw.probability(f) for f in features])
    return Calibration(raw.weights, raw.bias, knots(probs, y.astype(bool), z))


def knots(probs: np.ndarray, right: np.ndarray,
          z: float = 1.2816) -> tuple[tuple[float, float], ...]:
    """For each target error rate, the lowest probability whose accepted group meets it."""
    order = np.argsort(-probs)
    p_sorted, r_sorted = probs[order], right[order]
    n = np.arange(1, len(r_sorted) + 1)
    # not the observed error rate of the accepted group but its one-sided 90% Wilson upper
    # bound: on ~100 fitted utterances the observed rate flatters (seen: 4.8% fitted, 21%
    # held out)
    wrong_rate = _wilson_upper(np.cumsum(~r_sorted), n, z)
    out: list[tuple[float, float]] = []
    ceiling = 1.0
    for rate, conf in reversed(TARGETS):  # strictest first: its cut is kept exact
        ok = np.nonzero(wrong_rate <= rate)[0]
        # the largest accepted group (lowest cutoff) that meets the rate
        cut = min(float(p_sorted[ok[-1]]) if len(ok) else 1.0, ceiling)
        if out and cut >= ceiling:
            cut = ceiling - 1e-4  # knots must rise strictly; a looser group may only grow
        ceiling = cut
        out.append((round(cut, 6), conf))
    return tuple(reversed(out))


def _wilson_upper(wrong: np.ndarray, n: np.ndarray, z: float = 1.2816) -> np.ndarray:
    rate = wrong / n
    centre = rate + z * z / (2 * n)
    spread = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    bound: np.ndarray = (centre + spread) / (1 + z * z / n)
    return bound
