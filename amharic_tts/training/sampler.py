"""Length-aware sampling: samples of similar length share a batch, so padding stays small.

transformers' ``LengthGroupedSampler`` shuffles, cuts the order into mega-batches, and sorts each mega-batch by
length. This subclass draws that shuffle from a generator seeded by ``seed + epoch``, so a resumed run visits
the samples in the same order as an uninterrupted one.
"""

from __future__ import annotations

from typing import Sequence

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices


class SeededLengthGroupedSampler(LengthGroupedSampler):
    def __init__(self, batch_size: int, lengths: Sequence[int], seed: int = 0):
        super().__init__(batch_size, lengths=list(lengths))
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))


def real_token_share(lengths: Sequence[int], order: Sequence[int], batch_size: int) -> float:
    """Share of real (non-pad) positions when ``order`` is cut into batches of ``batch_size``."""
    real = padded = 0
    for start in range(0, len(order), batch_size):
        batch = [lengths[i] for i in order[start:start + batch_size]]
        real += sum(batch)
        padded += max(batch) * len(batch)
    return real / padded if padded else 1.0
