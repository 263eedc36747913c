"""Length-aware batching: the seeded length-grouped sampler and the token-budget batch sampler."""

import random

import pytest
from accelerate.data_loader import BatchSamplerShard, SkipBatchSampler

from amharic_tts.training.sampler import SeededLengthGroupedSampler, TokenBudgetBatchSampler, real_token_share


@pytest.fixture
def lengths():
    rng = random.Random(0)
    return [rng.randint(60, 700) for _ in range(300)]  # text + speech tokens of 2-20 s clips


def test_length_grouped_order_is_a_seeded_permutation_per_epoch(lengths):
    sampler = SeededLengthGroupedSampler(8, lengths, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(len(lengths)))
    assert list(SeededLengthGroupedSampler(8, lengths, seed=3)) == first  # a resumed run sees the same order
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert real_token_share(lengths, first, 8) > 0.9 > real_token_share(lengths, list(range(len(lengths))), 8)


def test_token_budget_batches_hold_every_sample_once_within_the_budget(lengths):
    budget = 2400
    sampler = TokenBudgetBatchSampler(lengths, budget, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    costs = [len(batch) * max(lengths[i] for i in batch) for batch in batches]
    assert max(costs) <= budget
    assert costs[0] == max(costs)  # the costliest batch first: out of memory at step 1, not hours in
    sizes = {len(batch) for batch in batches}
    assert min(sizes) <= 3 and max(sizes) >= 20  # 20 s clips share a batch with few others, 2 s ones with many
    # as full as the budget allows: one more sample (the next shorter one) would not fit
    for batch, following in zip(sampler.batches, sampler.batches[1:]):
        assert (len(batch) + 1) * lengths[batch[0]] > budget
        assert lengths[batch[-1]] >= lengths[following[0]]
    real = sum(lengths)
    assert sampler.real_token_share() == pytest.approx(real / sum(costs))
    assert sampler.real_token_share() > 0.97


def test_token_budget_order_is_seeded_per_epoch_and_reproducible(lengths):
    sampler = TokenBudgetBatchSampler(lengths, 2400, seed=1)
    epoch0 = list(sampler)
    assert list(TokenBudgetBatchSampler(lengths, 2400, seed=1)) == epoch0
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert len(epoch1) == len(epoch0) == len(sampler)
    assert sorted(i for batch in epoch1 for i in batch) == list(range(len(lengths)))

    def shapes(batches):
        return sorted((len(b), max(lengths[i] for i in b)) for b in batches)

    def cost(batch):
        return len(batch) * max(lengths[i] for i in batch)

    assert shapes(epoch1) == shapes(epoch0)  # the same batch shapes (and memory use) every epoch ...
    assert set(map(frozenset, epoch1)) != set(map(frozenset, epoch0))  # ... but other samples share a batch
    assert cost(epoch1[0]) == cost(epoch0[0]) == max(map(cost, epoch1))  # the costliest first in every epoch
    sampler.set_epoch(0)
    assert list(sampler) == epoch0
    assert list(TokenBudgetBatchSampler(lengths, 2400, seed=2)) != epoch0


def test_token_budget_batches_shard_and_skip_as_accelerate_does(lengths):
    sampler = TokenBudgetBatchSampler(lengths, 2400, seed=1)
    sampler.set_epoch(2)
    batches = list(sampler)
    shards = [list(BatchSamplerShard(sampler, num_processes=2, process_index=rank)) for rank in (0, 1)]
    assert shards[0] == batches[0::2][: len(shards[0])] and shards[1] == batches[1::2][: len(shards[1])]
    assert len(shards[0]) == len(shards[1]) == len(BatchSamplerShard(sampler, num_processes=2, process_index=0))
    covered = {i for shard in shards for batch in shard for i in batch}
    assert covered == set(range(len(lengths)))
    # a resumed run skips the batches it has trained on; the epoch reaches the sampler through .sampler
    skipped = SkipBatchSampler(sampler, skip_batches=5)
    skipped.batch_sampler.sampler.set_epoch(2)
    assert list(skipped) == batches[5:]


def test_the_conditioning_every_sample_carries_counts_against_the_budget(lengths):
    plain = TokenBudgetBatchSampler(lengths, 2400, seed=1)
    with_cond = TokenBudgetBatchSampler(lengths, 2400, seed=1, overhead=34)
    assert len(with_cond) > len(plain)
    assert all(len(b) * (max(lengths[i] for i in b) + 34) <= 2400 for b in with_cond)
    assert any(len(b) * (max(lengths[i] for i in b) + 34) > 2400 for b in plain)  # what the prefix would add


def test_a_budget_below_the_longest_sample_is_refused(lengths):
    with pytest.raises(ValueError, match="smaller than the longest sample"):
        TokenBudgetBatchSampler(lengths, max(lengths) - 1)
    with pytest.raises(ValueError, match="must be positive"):
        TokenBudgetBatchSampler(lengths, 0)
    assert list(TokenBudgetBatchSampler([], 100)) == []


def test_the_trainer_tells_the_token_budget_sampler_its_epoch_on_resume(lengths):
    """Accelerate's ``set_epoch`` does not reach a batch sampler wrapped for several processes and then for
    skipping (a resumed run): the trainer's callback sets it from the resumed state."""
    from types import SimpleNamespace

    from amharic_tts.training.trainer import StopControlCallback

    sampler = TokenBudgetBatchSampler(lengths, 2400, seed=1)
    collator = SimpleNamespace(epoch=0)
    trainer = SimpleNamespace(collator=collator, args=SimpleNamespace(max_tokens_per_batch=2400),
                              token_budget_sampler=lambda: sampler)
    wrapped = SkipBatchSampler(BatchSamplerShard(sampler, num_processes=2, process_index=0), skip_batches=1)
    assert not hasattr(wrapped.batch_sampler, "sampler")  # so Accelerate's set_epoch stops short of ours
    StopControlCallback(trainer).on_epoch_begin(None, SimpleNamespace(epoch=2.5), None)
    assert sampler.epoch == 2 and collator.epoch == 2
