"""Speech tokens from T3: the project's one decoder, on the training layout, with a KV cache.

Everything that speaks uses :func:`generate_speech_tokens`: ``AmharicTTS`` (and so the synthesis CLI, evaluation
and the studio) and the samples and CER scorer during training. The prefix is built by
:func:`amharic_tts.model.loss.build_layout`, the very function training uses, so the model sees at inference
exactly what it was trained on::

    [cond] [START] text ... [STOP] [start_speech]@0 [start_speech]@0  ->  s1@1  s2@2 ...

The sampling is upstream's v3 recipe (chatterbox PR #516, published with ``t3_mtl23ls_v3``), step for step as
upstream's ``T3.inference`` does it: classifier-free guidance ``cond + w * (cond - uncond)`` where the
unconditional row has its text embedding zeroed (its positions kept), then the repetition penalty over the
conditional row's history (``start_speech`` included), temperature, min-p and top-p, and a multinomial draw from
torch's global random state, with ``transformers``' logits processors. Given the same seed, the tokens are those of
upstream's ``T3.inference`` on the same model (a test checks it), minus its per-step attention maps and progress
bar. The alignment analyser of chatterbox 0.1.7 is not used (v3 removed it; it never runs for an extended
vocabulary anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from amharic_tts.model.loss import T3Batch, build_layout

SPEECH_VOCAB = 6561  # ids below this are S3 speech tokens; start/stop and the rest of the head are not


@dataclass
class SamplingConfig:
    """How the next speech token is chosen; the defaults are upstream's v3 recipe."""

    temperature: float = 0.8
    cfg_weight: float = 0.5  # classifier-free guidance (0: the conditional row alone)
    repetition_penalty: float = 1.2  # v3: 1.2 (2.0 pushes away every token already said, and speech repeats)
    min_p: float = 0.05
    top_p: float = 1.0
    greedy: bool = False  # the most likely token after guidance and the repetition penalty, no sampling

    def check(self) -> None:
        if not self.greedy and self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 (or greedy=True), got {self.temperature}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0 (1: none), got {self.repetition_penalty}")
        if not 0 <= self.min_p <= 1 or not 0 < self.top_p <= 1:
            raise ValueError(f"min_p must be in 0..1 and top_p in (0, 1], got {self.min_p} and {self.top_p}")
        if self.cfg_weight < 0:
            raise ValueError(f"cfg_weight must be >= 0, got {self.cfg_weight}")


@dataclass
class SpeechTokens:
    tokens: torch.Tensor  # (n,) the chosen tokens before stop_speech (stop_speech itself not included)
    stopped: bool  # whether the model said stop (else the length limit ended it)
    logits: torch.Tensor | None = None  # (steps, rows, V) raw speech logits per step (``keep_logits``)


def conditioning_batch(t3, text_tokens: torch.Tensor, cond, *, rows: int) -> T3Batch:
    """The prefix of one sentence as a training batch of ``rows`` copies (row 1: text dropped, as CFG's
    unconditional branch), from ``text_tokens`` ([START] ... [STOP]) and an upstream ``T3Cond`` (a voice's
    speaker embedding, speech prompt and exaggeration)."""
    hp = t3.hp
    device = t3.speech_head.weight.device
    text = text_tokens.to(device=device, dtype=torch.long).reshape(1, -1).expand(rows, -1)
    prompt = cond.cond_prompt_speech_tokens
    if prompt is not None:
        prompt = torch.atleast_2d(prompt).to(device=device, dtype=torch.long)
        prompt = None if prompt.shape[1] == 0 else prompt[:1].expand(rows, -1)
    emotion = cond.emotion_adv
    emotion = torch.as_tensor(0.5 if emotion is None else emotion, dtype=torch.float32).reshape(-1)[:1]
    return T3Batch(
        text_tokens=text,
        text_token_lens=torch.full((rows,), text.shape[1], dtype=torch.long, device=device),
        speech_tokens=torch.full((rows, 1), hp.start_speech_token, dtype=torch.long, device=device),
        speech_token_lens=torch.ones(rows, dtype=torch.long, device=device),
        speaker_emb=cond.speaker_emb.reshape(1, -1)[:1].to(device=device, dtype=torch.float32).expand(rows, -1),
        cond_prompt_speech_tokens=prompt,
        emotion_adv=emotion.to(device).expand(rows),
        text_keep=torch.tensor([1.0, 0.0][:rows], device=device) if rows == 2 else None,
    )


@torch.inference_mode()
def generate_speech_tokens(t3, text_tokens: torch.Tensor, cond, *, sampling: SamplingConfig | None = None,
                           max_new_tokens: int = 1000, teacher_tokens: torch.Tensor | None = None,
                           keep_logits: bool = False) -> SpeechTokens:
    """Speech tokens for one sentence (``text_tokens``: [START] ... [STOP]) in the voice ``cond`` (upstream's
    ``T3Cond``). Stops at ``stop_speech`` or after ``max_new_tokens``.

    ``teacher_tokens`` (s1 ... [stop_speech]) are fed instead of the model's choices (teacher forcing): with
    ``keep_logits`` this gives the logits the decoder computes for a known utterance, which tests compare with the
    training forward pass.
    """
    from transformers.generation.logits_process import (MinPLogitsWarper, RepetitionPenaltyLogitsProcessor,
                                                        TopPLogitsWarper)

    sampling = sampling or SamplingConfig()
    sampling.check()
    hp = t3.hp
    rows = 2 if sampling.cfg_weight > 0 else 1
    batch = conditioning_batch(t3, text_tokens, cond, rows=rows)
    layout = build_layout(t3, batch)
    out = t3.tfmr(inputs_embeds=layout.inputs_embeds, use_cache=True, return_dict=True)
    past, hidden = out.past_key_values, out.last_hidden_state[:, -1]
    device = hidden.device
    repetition = RepetitionPenaltyLogitsProcessor(penalty=float(sampling.repetition_penalty))
    min_p, top_p = MinPLogitsWarper(min_p=sampling.min_p), TopPLogitsWarper(top_p=sampling.top_p)
    history = torch.full((1, 1), hp.start_speech_token, dtype=torch.long, device=device)
    if teacher_tokens is not None:
        teacher_tokens = teacher_tokens.to(device=device, dtype=torch.long).reshape(-1)
        max_new_tokens = min(max_new_tokens, len(teacher_tokens))
    kept, stopped = [], False
    for step in range(max_new_tokens):
        logits = t3.speech_head(hidden).float()  # (rows, V)
        if keep_logits:
            kept.append(logits)
        if teacher_tokens is not None:
            token = teacher_tokens[step].reshape(1, 1)
        else:
            scores = logits[:1]
            if rows == 2:
                scores = scores + sampling.cfg_weight * (scores - logits[1:])
            scores = repetition(history, scores)
            if sampling.greedy:
                token = scores.argmax(dim=-1, keepdim=True)
            else:
                if sampling.temperature != 1.0:
                    scores = scores / sampling.temperature
                scores = top_p(history, min_p(history, scores))
                token = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1)
        history = torch.cat([history, token], dim=1)
        if int(token) == hp.stop_speech_token:
            stopped = True
            break
        position = t3.speech_pos_emb.get_fixed_embedding(step + 1)  # (1, 1, D): s_k sits at speech position k
        embed = (t3.speech_emb(token) + position).to(layout.inputs_embeds.dtype).expand(rows, -1, -1)
        out = t3.tfmr(inputs_embeds=embed, past_key_values=past, use_cache=True, return_dict=True)
        past, hidden = out.past_key_values, out.last_hidden_state[:, -1]
    tokens = history[0, 1:]
    if stopped:
        tokens = tokens[:-1]
    return SpeechTokens(tokens=tokens, stopped=stopped, logits=torch.stack(kept) if keep_logits else None)


def speech_only(tokens: torch.Tensor) -> torch.Tensor:
    """The S3 speech tokens among ``tokens`` (what the vocoder can turn into sound)."""
    return tokens[tokens < SPEECH_VOCAB]
