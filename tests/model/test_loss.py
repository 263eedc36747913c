import math

import pytest
import torch
import torch.nn.functional as F
from chatterbox.models.t3.modules.cond_enc import T3Cond

from amharic_tts.model.generate import SamplingConfig, generate_speech_tokens
from amharic_tts.model.loss import (
    T3Batch,
    backbone_hidden,
    build_layout,
    t3_logits,
    t3_loss,
)
from amharic_tts.testing.batches import random_batch
from amharic_tts.testing.tiny_base import tiny_t3


def test_speech_loss_at_random_init_is_near_ln_vocab(t3):
    out = t3_loss(t3.train(), random_batch(t3, [12, 7, 20, 9], [40, 25, 60, 33], seed=4))
    assert abs(out.speech_loss.item() - math.log(8194)) < 0.5
    assert abs(out.text_loss.item() - math.log(2454)) < 0.5
    assert out.speech_accuracy.item() < 0.01
    assert out.num_speech_targets == (40 - 1) + (25 - 1) + (60 - 1) + (33 - 1)  # every real token but the first
    assert out.num_text_targets == 11 + 6 + 19 + 8
    assert torch.allclose(out.loss, out.speech_loss + 0.1 * out.text_loss)


def test_targets_are_next_tokens_including_stop_and_never_the_first_prompt_region(t3):
    """Recompute the loss by hand from the hidden states, sample by sample."""
    batch = random_batch(t3, [5, 9], [7, 12], seed=5)
    t3.eval()
    with torch.no_grad():
        out = t3_loss(t3, batch)
        layout = build_layout(t3, batch)
        hidden = backbone_hidden(t3, layout)
    C = layout.cond_len
    assert C == 1 + 32 + 1  # speaker, Perceiver queries, emotion: what inference prepends
    losses = []
    for b in range(2):
        lt, ls = int(batch.text_token_lens[b]), int(batch.speech_token_lens[b])
        # inputs: the second start_speech .. the last real token (the first start_speech copy predicts nothing)
        speech_hidden = hidden[b, C + lt + 1: C + lt + 1 + ls - 1]
        targets = batch.speech_tokens[b, 1:ls]  # s1 .. stop_speech
        assert targets[-1] == 6562
        losses.append(F.cross_entropy(t3.speech_head(speech_hidden), targets, reduction="none"))
    assert torch.allclose(out.speech_loss, torch.cat(losses).mean(), atol=1e-5)
    assert torch.allclose(out.speech_loss_per_sample, torch.stack([l.mean() for l in losses]), atol=1e-5)


def test_packed_layout_puts_two_start_speech_then_speech_right_after_each_samples_text(t3):
    batch = random_batch(t3, [4, 10], [6, 3], seed=6)
    layout = build_layout(t3, batch)
    C = layout.cond_len
    emb = t3.text_emb(batch.text_tokens) + t3.text_pos_emb(batch.text_tokens)
    sp = t3.speech_emb(batch.speech_tokens) + t3.speech_pos_emb(batch.speech_tokens)
    bos = sp[0, 0]  # start_speech at speech position 0
    assert torch.equal(bos, t3.speech_emb.weight[6561] + t3.speech_pos_emb.emb.weight[0])
    x = layout.inputs_embeds
    assert x.shape[1] == C + 10 + 1 + 6
    # sample 0: 4 text, start_speech twice (both at speech position 0), s1@1 ..., then 6 pads
    assert torch.equal(x[0, C:C + 4], emb[0, :4])
    assert torch.equal(x[0, C + 4], bos) and torch.equal(x[0, C + 5:C + 11], sp[0, :6])
    assert torch.equal(layout.attention_mask[0], torch.tensor([1] * (C + 11) + [0] * 6))
    assert not x[0, C + 11:].any()
    # sample 1: 10 text, the extra start_speech, 3 speech, 3 pads
    assert torch.equal(x[1, C:C + 10], emb[1]) and torch.equal(x[1, C + 10], bos)
    assert torch.equal(x[1, C + 11:C + 14], sp[1, :3])
    assert layout.attention_mask[1].sum() == C + 14
    assert torch.equal(layout.speech_positions(2), torch.tensor([[C + 5, C + 6], [C + 11, C + 12]]))


def test_padding_does_not_change_any_samples_loss(t3):
    t3.eval()
    tight = random_batch(t3, [6, 11, 8], [20, 9, 30], seed=7)
    padded = random_batch(t3, [6, 11, 8], [20, 9, 30], seed=7, pad_to=(25, 57), pad_value=4242)
    alone = random_batch(t3, [11], [9], seed=7)
    alone.text_tokens, alone.speech_tokens = tight.text_tokens[1:2, :11], tight.speech_tokens[1:2, :9]
    alone.speaker_emb, alone.cond_prompt_speech_tokens = tight.speaker_emb[1:2], tight.cond_prompt_speech_tokens[1:2]
    with torch.no_grad():
        a, b, c = t3_loss(t3, tight), t3_loss(t3, padded), t3_loss(t3, alone)
    assert torch.allclose(a.speech_loss_per_sample, b.speech_loss_per_sample, atol=1e-5, rtol=0)
    assert torch.allclose(a.speech_loss_per_sample[1], c.speech_loss_per_sample[0], atol=1e-5, rtol=0)
    assert torch.allclose(a.text_loss, b.text_loss, atol=1e-5, rtol=0)
    assert (a.num_speech_targets, a.num_text_targets) == (b.num_speech_targets, b.num_text_targets)


def test_conditioning_length_and_overhead_are_the_layouts(t3):
    from amharic_tts.model.loss import conditioning_length, layout_overhead

    layout = build_layout(t3, random_batch(t3, [6], [9], seed=3))
    assert conditioning_length(t3.hp) == layout.cond_len == 34  # speaker, 32 Perceiver queries, emotion
    assert layout_overhead(t3.hp) == layout.inputs_embeds.shape[1] - 6 - 9 == 35  # and the extra start_speech


def test_the_backbone_is_causal_without_an_attention_mask(t3):
    """The packed rows go through the backbone without a mask (padding is at the end): a position must still
    never see a later one, or the next-token loss would be learnt by looking ahead."""
    t3.eval()
    layout = build_layout(t3, random_batch(t3, [6, 11], [20, 9], seed=3))
    changed = layout.inputs_embeds.clone()
    changed[:, 25:] = torch.randn_like(changed[:, 25:])
    with torch.no_grad():
        before = backbone_hidden(t3, layout)
        layout.inputs_embeds = changed
        after = backbone_hidden(t3, layout)
    assert torch.allclose(before[:, :25], after[:, :25], atol=1e-5, rtol=0)
    assert not torch.allclose(before[:, 25:], after[:, 25:], atol=1e-3)


def _copy_input_model(t3):
    """Make T3 a perfect copier: every layer adds nothing, speech head = speech embedding (scaled)."""
    with torch.no_grad():
        for layer in t3.tfmr.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        t3.speech_pos_emb.emb.weight.zero_()
        t3.tfmr.norm.weight.fill_(1.0)
        t3.speech_head.weight.copy_(20 * t3.speech_emb.weight / t3.speech_emb.weight.norm(dim=1, keepdim=True))
    return t3.eval()


def test_a_model_that_copies_its_input_cannot_reach_zero_loss(t3):
    """Guard against upstream's unshifted targets: scored against the *same* position, a copier is perfect."""
    copier = _copy_input_model(t3)
    batch = random_batch(copier, [8, 8], [40, 40], seed=8)
    with torch.no_grad():
        _, speech_logits = t3_logits(copier, batch)
        unshifted = F.cross_entropy(speech_logits.flatten(0, 1), batch.speech_tokens.flatten())
        out = t3_loss(copier, batch)
    assert unshifted.item() < 0.05  # the copier really copies
    assert out.speech_loss.item() > 5.0
    assert out.speech_accuracy.item() < 0.05


def test_upstream_t3_loss_is_still_broken(t3):
    """We do not use T3.loss; this notices when upstream changes it (chatterbox-tts 0.1.7)."""
    from chatterbox.models.t3.modules.cond_enc import T3Cond

    batch = random_batch(t3, [6, 6, 6, 6], [40, 40, 40, 40], seed=9)
    cond = T3Cond(speaker_emb=batch.speaker_emb, cond_prompt_speech_tokens=batch.cond_prompt_speech_tokens,
                  emotion_adv=torch.full((4, 1, 1), 0.5))
    with pytest.raises((RuntimeError, ValueError), match=r"Expected target size \[4, 2454\], got \[4, 6\]"):
        t3.loss(t3_cond=cond, text_tokens=batch.text_tokens, text_token_lens=batch.text_token_lens,
                speech_tokens=batch.speech_tokens, speech_token_lens=batch.speech_token_lens)


def test_malformed_batches_are_rejected_clearly(t3):
    batch = random_batch(t3, [5, 7], [9, 9], seed=1)
    no_stop = T3Batch(**{**vars(batch), "speech_tokens": batch.speech_tokens.clone()})
    no_stop.speech_tokens[0, 8] = 17
    with pytest.raises(ValueError, match="every speech sequence must start with 6561 and end with 6562"):
        t3_loss(t3, no_stop)
    no_start = T3Batch(**{**vars(batch), "text_tokens": batch.text_tokens.clone()})
    no_start.text_tokens[1, 0] = 3
    with pytest.raises(ValueError, match="every text sequence must start with 255"):
        t3_loss(t3, no_start)
    too_long = T3Batch(**{**vars(batch), "speech_token_lens": torch.tensor([9, 12])})
    with pytest.raises(ValueError, match=r"speech_token_lens must be in 2\.\.9"):
        t3_loss(t3, too_long)


def test_200_steps_on_4_samples_memorise_them_and_the_decoder_reproduces_them():
    # A narrower tiny T3 (hidden 256, no Perceiver) keeps this under 15 s on 2 CPU cores.
    torch.manual_seed(0)
    t3 = tiny_t3(hidden_size=256, perceiver=False).train()
    batch = random_batch(t3, [5, 8, 6, 7], [10, 16, 14, 12], seed=11, prompt_len=20)
    optimizer = torch.optim.AdamW(t3.parameters(), lr=1e-3, weight_decay=0.0)
    for _ in range(200):
        out = t3_loss(t3, batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    assert out.speech_loss.item() < 0.1
    assert out.speech_accuracy.item() == 1.0
    t3.eval()
    for b in range(4):  # greedy, without CFG or a repetition penalty: the memorised tokens, then stop
        cond = T3Cond(speaker_emb=batch.speaker_emb[b:b + 1],
                      cond_prompt_speech_tokens=batch.cond_prompt_speech_tokens[b:b + 1], emotion_adv=0.5)
        result = generate_speech_tokens(t3, batch.text_tokens[b, :batch.text_token_lens[b]], cond,
                                        sampling=SamplingConfig(greedy=True, cfg_weight=0, repetition_penalty=1),
                                        max_new_tokens=30)
        expected = batch.speech_tokens[b, 1:batch.speech_token_lens[b] - 1]  # without start/stop speech
        assert result.stopped and torch.equal(result.tokens, expected), b


def test_conditioning_dropout_zeroes_text_as_upstream_cfg_does_and_skips_its_text_loss(t3):
    t3.eval()
    batch = random_batch(t3, [7, 9], [12, 10], seed=12)
    dropped = T3Batch(**{**vars(batch), "text_keep": torch.tensor([0.0, 1.0]),
                         "prompt_keep": torch.tensor([1.0, 0.0])})
    layout = build_layout(t3, dropped)
    C = layout.cond_len
    positions = t3.text_pos_emb(batch.text_tokens)
    assert torch.equal(layout.inputs_embeds[0, C:C + 7], positions[:7])  # text embedding zeroed, positions kept
    assert not torch.equal(layout.inputs_embeds[1, C:C + 9], positions[:9])
    with torch.no_grad():
        full, part = t3_loss(t3, batch), t3_loss(t3, dropped)
    assert part.num_text_targets == 8 and full.num_text_targets == 6 + 8
    assert not torch.allclose(part.speech_loss_per_sample[0], full.speech_loss_per_sample[0])  # text dropped
    assert not torch.allclose(part.speech_loss_per_sample[1], full.speech_loss_per_sample[1])  # prompt dropped
    all_dropped = T3Batch(**{**vars(batch), "text_keep": torch.zeros(2)})
    assert t3_loss(t3, all_dropped).text_loss.item() == 0.0
