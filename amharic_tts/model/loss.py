"""T3's training forward pass and next-token loss (upstream's ``T3.loss`` cannot be used).

Upstream ``T3.loss`` (chatterbox-tts 0.1.7) passes (B, T, V) logits to ``F.cross_entropy`` and, even transposed,
scores the hidden state at position t against the token at t: no next-token shift. ``T3.forward`` splices samples
in a Python loop and concatenates *padded* text before the speech, so padding sits between a short sample's text
and its speech. This module does it the way inference sees it.

Sequence layout, one row per sample, packed and right-padded (tensor ops only, no loop over the batch)::

    [cond (C)] [START] text ... [STOP] [start_speech] [start_speech] s1 ... sn [stop_speech] [pad ...]
                                        speech pos 0   speech pos 0   1 ...  n   n+1

This is the one layout of the project: training, :mod:`amharic_tts.model.generate` (``AmharicTTS``, the
synthesis CLI, evaluation, the studio, the in-training samples) and upstream's own ``T3.inference`` all feed it.
Upstream's ``T3.inference`` embeds its ``initial_speech_tokens`` (one ``start_speech`` by default) and then
appends a second ``start_speech``, both at speech position 0; training on exactly that makes a model exported
by this project right for anyone who loads ``t3_am.safetensors`` into upstream ``T3`` and calls upstream's
inference as upstream calls it (``SPEECH_BOS_COPIES``; the README's "One layout" says why).

``cond`` is upstream's conditioning (speaker embedding, 32 Perceiver queries over the speech prompt, emotion):
``C`` is the same for every sample of a batch. Text and speech carry their learned position embeddings from 0,
exactly as ``T3.inference`` builds them, and the Llama backbone's positions run contiguously over the real
tokens. The attention mask marks padding; being at the end, padding cannot influence real positions under causal
attention, so the backbone runs with plain causal attention (no mask).

Targets: the hidden state at the last ``start_speech`` predicts s1, the one at s_t predicts s_t+1 (so
``start_speech`` is only ever an input and every real token after it, ``stop_speech`` included, is a target; the
first ``start_speech`` copy predicts nothing); no prompt-length masking (clips under 6 s keep their loss). Text
positions likewise predict the next text token; the text loss has a small weight (``text_loss_weight``,
default 0.1) and is reported separately.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# T3's voice conditioning (upstream's Perceiver, run by build_layout for every batch and every spoken sentence)
# enters torch.backends.cuda.sdp_kernel(), which torch 2.5+ deprecates for torch.nn.attention.sdpa_kernel:
# upstream's to change, nothing to act on here. The warning is raised through contextlib's frame.
warnings.filterwarnings("ignore", message=r"`torch\.backends\.cuda\.sdp_kernel\(\)` is deprecated",
                        category=FutureWarning, module="contextlib")

# ``start_speech`` copies that open the speech part, all at speech position 0 (upstream's T3.inference feeds 2).
# Read at call time, so an experiment (bench/learnability.py's ablation) can change it for a whole run.
SPEECH_BOS_COPIES = 2


@dataclass
class T3Batch:
    """A collated batch. Token tensors are right-padded (the pad value is never read)."""

    text_tokens: torch.Tensor  # (B, Tt) long: [START] ... [STOP]
    text_token_lens: torch.Tensor  # (B,) long
    speech_tokens: torch.Tensor  # (B, Ts) long: start_speech ... stop_speech
    speech_token_lens: torch.Tensor  # (B,) long
    speaker_emb: torch.Tensor  # (B, 256) float
    cond_prompt_speech_tokens: torch.Tensor | None = None  # (B, P) long, P = speech_cond_prompt_len (150)
    emotion_adv: torch.Tensor | None = None  # (B,) float, upstream's default is 0.5
    # conditioning dropout (classifier-free guidance keeps working): 0 drops that sample's text embeddings
    # (what upstream's CFG feeds its unconditional branch) or its speech prompt
    text_keep: torch.Tensor | None = None  # (B,) float 0/1
    prompt_keep: torch.Tensor | None = None  # (B,) float 0/1

    def to(self, device) -> "T3Batch":
        return T3Batch(**{k: (v.to(device) if torch.is_tensor(v) else v) for k, v in vars(self).items()})


@dataclass
class T3Layout:
    """Where each part of each sample sits in the packed sequence."""

    inputs_embeds: torch.Tensor  # (B, L, D)
    attention_mask: torch.Tensor  # (B, L) long, 1 = real position
    cond_len: int  # C
    text_lens: torch.Tensor  # (B,)
    speech_lens: torch.Tensor  # (B,) speech tokens of the batch (the extra start_speech copies not counted)
    bos_extra: int = 0  # start_speech copies before the sample's own start_speech

    def speech_positions(self, length: int) -> torch.Tensor:
        """(B, length) index in the packed sequence of speech token k (k = 0: the last ``start_speech``)."""
        k = torch.arange(length, device=self.text_lens.device)
        return self.cond_len + self.text_lens[:, None] + self.bos_extra + k[None]


@dataclass
class T3LossOutput:
    loss: torch.Tensor  # speech_loss + text_loss_weight * text_loss
    speech_loss: torch.Tensor  # mean next-token cross-entropy over all real speech targets of the batch
    text_loss: torch.Tensor  # the same over text targets
    speech_accuracy: torch.Tensor  # top-1 accuracy over speech targets
    speech_loss_per_sample: torch.Tensor  # (B,) mean speech cross-entropy of each sample
    speech_hits_per_sample: torch.Tensor  # (B,) correct top-1 speech predictions of each sample
    num_speech_targets: int
    num_text_targets: int


def check_batch(t3, batch: T3Batch) -> None:
    """Fail with a readable message on a malformed batch (missing start/stop tokens, lengths out of range)."""
    hp = t3.hp
    B = batch.text_tokens.shape[0]
    for name, tokens, lens, start, stop in (
        ("text", batch.text_tokens, batch.text_token_lens, hp.start_text_token, hp.stop_text_token),
        ("speech", batch.speech_tokens, batch.speech_token_lens, hp.start_speech_token, hp.stop_speech_token),
    ):
        if tokens.shape[0] != B or lens.shape != (B,):
            raise ValueError(f"{name}_tokens {tuple(tokens.shape)} and {name}_token_lens {tuple(lens.shape)} "
                             f"do not describe {B} samples")
        if (lens < 2).any() or (lens > tokens.shape[1]).any():
            raise ValueError(f"{name}_token_lens must be in 2..{tokens.shape[1]}, got {lens.tolist()}")
        last = tokens.gather(1, (lens - 1)[:, None]).squeeze(1)
        if (tokens[:, 0] != start).any() or (last != stop).any():
            raise ValueError(f"every {name} sequence must start with {start} and end with {stop} "
                             f"(first: {tokens[:, 0].tolist()}, last: {last.tolist()})")


def conditioning_embeds(t3, batch: T3Batch) -> torch.Tensor:
    """Upstream's conditioning encoder on the batch: (B, C, D). Unlike ``T3.prepare_conditioning`` it does not
    cache the prompt embedding on a shared ``T3Cond`` (which would reuse a stale graph on the next step)."""
    from chatterbox.models.t3.modules.cond_enc import T3Cond

    B = batch.text_tokens.shape[0]
    device = t3.speech_head.weight.device
    prompt_tokens = batch.cond_prompt_speech_tokens
    prompt_emb = None
    if prompt_tokens is not None and prompt_tokens.shape[1] > 0:
        prompt_emb = t3.speech_emb(prompt_tokens) + t3.speech_pos_emb(prompt_tokens)
        if batch.prompt_keep is not None:
            prompt_emb = prompt_emb * batch.prompt_keep.to(prompt_emb.dtype)[:, None, None]
    else:
        prompt_tokens = None
    emotion = batch.emotion_adv
    if emotion is None:
        emotion = torch.full((B,), 0.5, device=device)
    cond = T3Cond(
        speaker_emb=batch.speaker_emb.to(t3.cond_enc.spkr_enc.weight.dtype),
        cond_prompt_speech_tokens=prompt_tokens,
        cond_prompt_speech_emb=prompt_emb,
        emotion_adv=emotion.reshape(B, 1, 1).to(t3.cond_enc.spkr_enc.weight.dtype),
    )
    return t3.cond_enc(cond)


def conditioning_length(hp) -> int:
    """``C``, the positions upstream's conditioning takes before the text: the speaker embedding, the speech prompt
    (32 Perceiver queries, or the prompt itself without a Perceiver) and the emotion value."""
    prompt = 32 if hp.use_perceiver_resampler else hp.speech_cond_prompt_len
    return 1 + prompt + (1 if hp.emotion_adv else 0)


def layout_overhead(hp) -> int:
    """Positions a sample takes besides its text and speech tokens: the conditioning and the extra
    ``start_speech`` copies (what token budgets and length limits add to a sample's own length)."""
    return conditioning_length(hp) + SPEECH_BOS_COPIES - 1


def _without_padding(tokens: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Padding positions set to id 0, so any pad value (-100, a too-large id) is safe to embed."""
    pad = torch.arange(tokens.shape[1], device=tokens.device)[None] >= lens[:, None]
    return tokens.masked_fill(pad, 0)


def build_layout(t3, batch: T3Batch) -> T3Layout:
    """Embed conditioning, text and speech and pack them per sample (see the module docstring)."""
    cond = conditioning_embeds(t3, batch)  # (B, C, D)
    text_tokens = _without_padding(batch.text_tokens, batch.text_token_lens)
    speech_tokens = _without_padding(batch.speech_tokens, batch.speech_token_lens)
    text = t3.text_emb(text_tokens)
    if batch.text_keep is not None:  # as upstream's CFG: the text embedding zeroed, its positions kept
        text = text * batch.text_keep.to(text.dtype)[:, None, None]
    text = text + t3.text_pos_emb(text_tokens)  # (B, Tt, D)
    speech = t3.speech_emb(speech_tokens) + t3.speech_pos_emb(speech_tokens)  # (B, Ts, D): start_speech at 0
    extra = SPEECH_BOS_COPIES - 1
    if extra:  # the extra start_speech copies, at speech position 0 as upstream's T3.inference embeds them
        speech = torch.cat([speech[:, :1].expand(-1, extra, -1), speech], dim=1)
    B, C, D = cond.shape
    Tt, Ts = text.shape[1], speech.shape[1]
    source = torch.cat([cond, text.to(cond.dtype), speech.to(cond.dtype)], dim=1)  # unpacked: (B, C+Tt+Ts, D)

    text_lens, speech_lens = batch.text_token_lens, batch.speech_token_lens + extra
    pos = torch.arange(C + Tt + Ts, device=cond.device)[None]  # (1, L)
    in_text = (pos >= C) & (pos < C + text_lens[:, None])
    speech_k = pos - C - text_lens[:, None]  # index into the speech part
    in_speech = (speech_k >= 0) & (speech_k < speech_lens[:, None])
    real = (pos < C) | in_text | in_speech  # (B, L)
    index = torch.where(in_speech, C + Tt + speech_k, pos)  # cond and text stay where they are
    index = torch.where(real, index, torch.zeros_like(index))
    packed = source.gather(1, index[..., None].expand(B, -1, D))
    packed = packed * real[..., None].to(packed.dtype)  # padding is zeros
    return T3Layout(packed, real.long(), C, text_lens, batch.speech_token_lens, extra)


def backbone_hidden(t3, layout: T3Layout) -> torch.Tensor:
    """Run the Llama backbone on the packed embeddings: (B, L, D) final (normed) hidden states.

    No attention mask is passed: padding sits only at the end of each row, so under causal attention no real
    position can see it, and plain causal attention lets SDPA use its fused causal kernels (FlashAttention on a
    GPU) instead of a materialised (B, L, L) mask (tests check causality and that padding leaves every
    sample's loss unchanged). Hidden states at padded positions are never read."""
    out = t3.tfmr(inputs_embeds=layout.inputs_embeds, use_cache=False, return_dict=True)
    return out.last_hidden_state


def _next_token_ce(head, hidden: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor):
    """Cross-entropy of ``head(hidden)`` against ``targets`` on ``valid`` positions only (logits are never
    computed for padding). Returns per-target losses (N,) and top-1 hits (N,)."""
    logits = head(hidden[valid]).float()  # (N, V)
    target = targets[valid]
    losses = F.cross_entropy(logits, target, reduction="none")
    hits = logits.argmax(dim=-1) == target
    return losses, hits


def t3_loss(t3, batch: T3Batch, *, text_loss_weight: float = 0.1, check: bool = True) -> T3LossOutput:
    """The training loss of T3 on a collated batch (see the module docstring for the layout and targets)."""
    if check:
        check_batch(t3, batch)
    layout = build_layout(t3, batch)
    hidden = backbone_hidden(t3, layout)
    B, L, D = hidden.shape
    C = layout.cond_len
    Tt, Ts = batch.text_tokens.shape[1], batch.speech_tokens.shape[1]

    # speech: input k (0..Ts-2) at packed position C + len_text + k predicts speech token k+1
    speech_pos = layout.speech_positions(Ts - 1).clamp(max=L - 1)
    speech_hidden = hidden.gather(1, speech_pos[..., None].expand(B, -1, D))
    speech_valid = torch.arange(Ts - 1, device=hidden.device)[None] < (batch.speech_token_lens - 1)[:, None]
    speech_losses, speech_hits = _next_token_ce(t3.speech_head, speech_hidden, batch.speech_tokens[:, 1:],
                                                speech_valid)

    # text: position C + j (0..Tt-2) predicts text token j+1 (not scored where the text was dropped)
    text_valid = torch.arange(Tt - 1, device=hidden.device)[None] < (batch.text_token_lens - 1)[:, None]
    if batch.text_keep is not None:
        text_valid = text_valid & (batch.text_keep > 0)[:, None]
    text_losses, _ = _next_token_ce(t3.text_head, hidden[:, C:C + Tt - 1], batch.text_tokens[:, 1:], text_valid)

    speech_loss = speech_losses.mean()
    text_loss = text_losses.mean() if text_losses.numel() else speech_losses.sum() * 0.0
    sample = torch.arange(B, device=hidden.device)[:, None].expand_as(speech_valid)[speech_valid]
    per_sample = torch.zeros(B, device=hidden.device).index_add(0, sample, speech_losses.detach())
    per_sample = per_sample / (batch.speech_token_lens - 1).to(per_sample.dtype)
    hits = torch.zeros(B, device=hidden.device).index_add(0, sample, speech_hits.float())
    return T3LossOutput(
        loss=speech_loss + text_loss_weight * text_loss,
        speech_loss=speech_loss,
        text_loss=text_loss,
        speech_accuracy=speech_hits.float().mean(),
        speech_loss_per_sample=per_sample,
        speech_hits_per_sample=hits,
        num_speech_targets=int(speech_losses.numel()),
        num_text_targets=int(text_losses.numel()),
    )


def t3_logits(t3, batch: T3Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Text logits at every text position (B, Tt, V_text) and speech logits at every speech position
    (B, Ts, V_speech), padding positions included (their values are meaningless)."""
    layout = build_layout(t3, batch)
    hidden = backbone_hidden(t3, layout)
    B, L, D = hidden.shape
    Tt, Ts = batch.text_tokens.shape[1], batch.speech_tokens.shape[1]
    speech_pos = layout.speech_positions(Ts).clamp(max=L - 1)
    speech_hidden = hidden.gather(1, speech_pos[..., None].expand(B, -1, D))
    C = layout.cond_len
    return t3.text_head(hidden[:, C:C + Tt]), t3.speech_head(speech_hidden)


def speech_vocab_size(hp) -> int:
    """How many ids are S3 speech tokens: a prepared row's speech tokens must lie in ``0..N-1``. Upstream's T3
    puts its special tokens right after them (``start_speech`` 6561, ``stop_speech`` 6562; the S3 tokenizer has
    3^8 = 6561 codes), and the speech head's rows above (up to ``speech_tokens_dict_size``, 8194) are never
    speech: a ``stop_speech`` inside a row would teach the model to stop in mid-utterance."""
    return min(hp.start_speech_token, hp.stop_speech_token)


def random_init_speech_loss(t3) -> float:
    """What the speech loss of an untrained model should be close to: ln(speech vocabulary size)."""
    return math.log(t3.hp.speech_tokens_dict_size)
