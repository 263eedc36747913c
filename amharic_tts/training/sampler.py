"""Length-aware sampling: samples of similar length share a batch, so padding stays small.

Two ways, both seeded by ``seed + epoch`` so a resumed run visits the samples in the same order as an
uninterrupted one:

- :class:`SeededLengthGroupedSampler` (the default, fixed batch size): transformers' ``LengthGroupedSampler``
  shuffles, cuts the order into mega-batches, and sorts each mega-batch by length.
- :class:`TokenBudgetBatchSampler` (``max_tokens_per_batch``): batches of varying size filled to a budget of
  padded positions, as speech toolkits batch by frames.
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


class TokenBudgetBatchSampler:
    """Batches filled to a token budget: each holds as many samples of similar length as fit in
    ``max_tokens`` padded positions (samples × the longest sample's length, conditioning ``overhead`` included),
    so a batch of short clips holds many and a batch of 20 s clips few, and memory use is about the same at every
    step (text and speech are padded separately, so a batch may take a few positions more than counted).

    Each epoch makes its batches from the samples sorted by length, samples of equal length shuffled (seeded by
    ``seed + epoch``): the batches' shapes, and so their number, are the same every epoch, but which samples
    share a batch changes. It visits them in a seeded random order, the costliest first so an out-of-memory
    error shows at the first step rather than hours in. The same batches and order on every run with the same
    seed make a resumed run continue exactly. ``batch_size`` is None, which is how Accelerate recognises
    batches of varying size when it shards them across processes.
    """

    batch_size = None
    drop_last = False

    def __init__(self, lengths: Sequence[int], max_tokens: int, seed: int = 0, overhead: int = 0):
        # each sample's positions: its text + speech tokens and the ``overhead`` every sample has (conditioning)
        lengths = [int(n) + int(overhead) for n in lengths]
        if max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        if lengths and max(lengths) > max_tokens:
            raise ValueError(f"a token budget of {max_tokens} per batch is smaller than the longest sample "
                             f"({max(lengths)} positions with its conditioning)")
        self.lengths = lengths
        self.max_tokens = int(max_tokens)
        self.seed = seed
        self.epoch = 0
        self.batches = self.batches_of_epoch(0)  # the first epoch's (every epoch's have the same shapes)

    def batches_of_epoch(self, epoch: int) -> list[list[int]]:
        ties = torch.randperm(len(self.lengths), generator=torch.Generator().manual_seed(self.seed + epoch)).tolist()
        order = sorted(range(len(self.lengths)), key=lambda i: (-self.lengths[i], ties[i]))
        batches: list[list[int]] = []
        for i in order:  # longest first, so a batch's first sample sets its padded width
            batch = batches[-1] if batches else None
            if batch is None or (len(batch) + 1) * self.lengths[batch[0]] > self.max_tokens:
                batches.append([i])
            else:
                batch.append(i)
        return batches

    @property
    def sampler(self):  # Accelerate passes the epoch on through ``batch_sampler.sampler.set_epoch``
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        if not self.batches:
            return iter(())
        batches = self.batches_of_epoch(self.epoch)
        costs = [len(batch) * self.lengths[batch[0]] for batch in batches]
        first = max(range(len(batches)), key=lambda b: costs[b])
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        rest = [b for b in torch.randperm(len(batches), generator=generator).tolist() if b != first]
        return iter([batches[b] for b in [first, *rest]])

    def real_token_share(self) -> float:
        """Share of real (non-pad) positions over an epoch of these batches."""
        real = sum(self.lengths)
        padded = sum(len(batch) * self.lengths[batch[0]] for batch in self.batches)
        return real / padded if padded else 1.0
