"""Speech tokens from T3: the project's one decoder, on the training layout, with a KV cache, many sentences at once.

Everything that speaks uses it: ``AmharicTTS`` (and so the synthesis CLI, evaluation and the studio) and the
samples and CER scorer during training. Each sentence's prefix is built by
:func:`amharic_tts.model.loss.build_layout`, the very function training uses, so the model sees at inference exactly
what it was trained on::

    [cond] [START] text ... [STOP] [start_speech]@0 [start_speech]@0  ->  s1@1  s2@2 ...

**Batching.** :func:`decode` runs many sentences (each with its CFG row) in one KV-cached loop. Prefixes of
different lengths are left-padded; an attention mask hides the padding and per-row position ids give every row's
real tokens the backbone positions 0, 1, ... it was trained with, so each row sees exactly the layout it would see
alone (tests: the same tokens as decoding each sentence alone, and teacher-forced logits equal to the training
forward's). A sentence that says stop, or reaches its own length guard, leaves the batch at once (its rows are
dropped from the cache) while the others go on; batches are bounded by a sentence count and a token budget (KV
cache positions), so memory stays flat however many sentences are queued.

**Sampling** is upstream's v3 recipe (chatterbox PR #516, published with ``t3_mtl23ls_v3``), step for step as
upstream's ``T3.inference`` does it, per row: classifier-free guidance ``cond + w * (cond - uncond)`` where the
unconditional row has its text embedding zeroed (its positions kept), then the repetition penalty over that
sentence's own history (``start_speech`` included), temperature, min-p and top-p (``transformers``' logits
processors), and a multinomial draw. A sentence with its own ``torch.Generator`` draws from it alone, so with a seed
per sentence the result does not depend on what else is in the batch; without one, draws come from torch's global
random state, and a single sentence then gives exactly upstream ``T3.inference``'s tokens for the same seed (a test
checks it). No attention maps, hidden states or progress bars are computed. The alignment analyser of chatterbox
0.1.7 is not used (v3 removed it; it never runs for an extended vocabulary anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch

from amharic_tts.model.loss import T3Batch, build_layout, speech_vocab_size

# Default bounds of one decoding batch: sentences, and KV-cache positions over all its rows (prefix + length guard,
# CFG rows counted): 16384 positions of the real 30-layer T3 are 4 GB in fp32, 2 GB in bf16.
BATCH_SENTENCES = 8
TOKEN_BUDGET = 16384


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
class SpeechRequest:
    """One sentence to speak: its text tokens ([START] ... [STOP]) and voice (upstream's ``T3Cond``: speaker
    embedding, speech prompt, exaggeration)."""

    text_tokens: torch.Tensor
    cond: object
    max_new_tokens: int = 1000  # the length guard
    generator: torch.Generator | None = None  # this sentence's own random draws (None: torch's global state)
    teacher_tokens: torch.Tensor | None = None  # s1 ... [stop_speech] fed instead of the model's choices


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


def prefix_embeds(t3, request: SpeechRequest, rows: int) -> torch.Tensor:
    """(rows, L, D): the embedded prefix of one sentence, conditional row first (training's ``build_layout``)."""
    return build_layout(t3, conditioning_batch(t3, request.text_tokens, request.cond, rows=rows)).inputs_embeds


def batch_fits(prefix_lengths: Sequence[int], max_new_tokens: Sequence[int], *, rows_per_sentence: int,
               batch_sentences: int = BATCH_SENTENCES, token_budget: int = TOKEN_BUDGET) -> bool:
    """Whether these sentences may share a batch: at most ``batch_sentences`` of them and, for more than one,
    at most ``token_budget`` KV-cache positions (rows x (longest prefix + longest length guard))."""
    if batch_sentences < 1 or token_budget < 1:
        raise ValueError(f"batch_sentences and token_budget must be >= 1, got {batch_sentences} and {token_budget}")
    count = len(prefix_lengths)
    if count <= 1:
        return True
    return count <= batch_sentences and \
        count * rows_per_sentence * (max(prefix_lengths) + max(max_new_tokens)) <= token_budget


@torch.inference_mode()
def decode(t3, requests: Sequence[SpeechRequest], *, sampling: SamplingConfig | None = None,
           batch_sentences: int = BATCH_SENTENCES, token_budget: int = TOKEN_BUDGET,
           keep_logits: bool = False) -> Iterator[tuple[int, SpeechTokens]]:
    """Speech tokens for every request, yielded as ``(index, SpeechTokens)`` the moment each sentence finishes
    (so not in order: see :func:`in_order`). Consecutive requests share a batch while :func:`batch_fits`."""
    sampling = sampling or SamplingConfig()
    sampling.check()
    batch_fits([], [], rows_per_sentence=1, batch_sentences=batch_sentences, token_budget=token_budget)
    rows = 2 if sampling.cfg_weight > 0 else 1
    requests = list(requests)
    for request in requests:
        if request.teacher_tokens is not None:
            request.teacher_tokens = request.teacher_tokens.reshape(-1).to(t3.speech_head.weight.device, torch.long)
            request.max_new_tokens = min(request.max_new_tokens, len(request.teacher_tokens))
        if request.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {request.max_new_tokens}")
    batch: list[int] = []
    prefixes: list[torch.Tensor] = []
    for i, request in enumerate(requests):
        prefix = prefix_embeds(t3, request, rows)
        lengths = [p.shape[1] for p in prefixes] + [prefix.shape[1]]
        guards = [requests[j].max_new_tokens for j in batch] + [request.max_new_tokens]
        if not batch_fits(lengths, guards, rows_per_sentence=rows, batch_sentences=batch_sentences,
                          token_budget=token_budget):
            yield from _decode_batch(t3, [requests[j] for j in batch], prefixes, batch, sampling, rows, keep_logits)
            batch, prefixes = [], []
        batch.append(i)
        prefixes.append(prefix)
    if batch:
        yield from _decode_batch(t3, [requests[j] for j in batch], prefixes, batch, sampling, rows, keep_logits)


@torch.inference_mode()
def _decode_batch(t3, requests, prefixes, indices, sampling: SamplingConfig, rows: int,
                  keep_logits: bool) -> Iterator[tuple[int, SpeechTokens]]:
    from transformers.generation.logits_process import (MinPLogitsWarper, RepetitionPenaltyLogitsProcessor,
                                                        TopPLogitsWarper)

    hp = t3.hp
    device = t3.speech_head.weight.device
    n = len(requests)
    lengths = torch.tensor([p.shape[1] for p in prefixes], device=device)
    longest = int(lengths.max())
    padded = bool((lengths != longest).any())
    # rows 0..n-1 conditional, n..2n-1 CFG's unconditional (sentence k: rows k and n + k), left-padded
    embeds = torch.zeros(rows * n, longest, prefixes[0].shape[2], dtype=prefixes[0].dtype, device=device)
    for k, prefix in enumerate(prefixes):
        embeds[k::n, longest - prefix.shape[1]:] = prefix
    mask = (torch.arange(longest, device=device)[None] >= (longest - lengths)[:, None]).long().repeat(rows, 1)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    extra = dict(attention_mask=mask, position_ids=positions) if padded else {}
    out = t3.tfmr(inputs_embeds=embeds, use_cache=True, return_dict=True, **extra)
    past, hidden = out.past_key_values, out.last_hidden_state[:, -1]
    next_position = positions[:, -1] + 1

    repetition = RepetitionPenaltyLogitsProcessor(penalty=float(sampling.repetition_penalty))
    min_p, top_p = MinPLogitsWarper(min_p=sampling.min_p), TopPLogitsWarper(top_p=sampling.top_p)
    active = list(range(n))  # positions in ``requests`` of the sentences still decoding, in row order
    history = torch.full((n, 1), hp.start_speech_token, dtype=torch.long, device=device)
    kept: list[list[torch.Tensor]] = [[] for _ in range(n)]
    guards = torch.tensor([r.max_new_tokens for r in requests], device=device)
    for step in range(int(guards.max())):
        m = len(active)
        logits = t3.speech_head(hidden).float()  # (rows * m, V)
        if keep_logits:
            for j, k in enumerate(active):
                kept[k].append(logits[j::m])
        tokens = _choose(logits, m, rows, history, [requests[k] for k in active], step, sampling, repetition,
                         min_p, top_p)
        history = torch.cat([history, tokens[:, None]], dim=1)
        said_stop = (tokens == hp.stop_speech_token).tolist()
        at_guard = (guards[active] == step + 1).tolist()
        done = [j for j in range(m) if said_stop[j] or at_guard[j]]
        for j in done:
            k = active[j]
            result = history[j, 1:-1] if said_stop[j] else history[j, 1:]
            yield indices[k], SpeechTokens(tokens=result.clone(), stopped=bool(said_stop[j]),
                                           logits=torch.stack(kept[k]) if keep_logits else None)
        if len(done) == m:
            return
        if done:
            keep = [j for j in range(m) if j not in done]
            active = [active[j] for j in keep]
            keep_t = torch.tensor(keep, device=device)
            history, tokens = history[keep_t], tokens[keep_t]
            row_index = torch.cat([keep_t + r * m for r in range(rows)])
            past.batch_select_indices(row_index)
            if padded:
                mask = mask[row_index]
            next_position = next_position[row_index]
        position = t3.speech_pos_emb.get_fixed_embedding(step + 1)  # (1, 1, D): s_k sits at speech position k
        embed = (t3.speech_emb(tokens[:, None]) + position).to(embeds.dtype).repeat(rows, 1, 1)
        if padded:
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
            extra = dict(attention_mask=mask, position_ids=next_position[:, None])
        out = t3.tfmr(inputs_embeds=embed, past_key_values=past, use_cache=True, return_dict=True, **extra)
        past, hidden = out.past_key_values, out.last_hidden_state[:, -1]
        next_position = next_position + 1


def _choose(logits, m, rows, history, requests, step, sampling, repetition, min_p, top_p) -> torch.Tensor:
    """(m,) the next token of each active sentence: the teacher's, or CFG + upstream's v3 sampling per row."""
    if all(r.teacher_tokens is not None for r in requests):
        return torch.stack([r.teacher_tokens[step] for r in requests]).to(logits.device)
    scores = logits[:m]
    if rows == 2:
        scores = scores + sampling.cfg_weight * (scores - logits[m:])
    scores = repetition(history, scores)
    if sampling.greedy:
        chosen = scores.argmax(dim=-1)
    else:
        if sampling.temperature != 1.0:
            scores = scores / sampling.temperature
        probs = torch.softmax(top_p(history, min_p(history, scores)), dim=-1)
        if all(r.generator is None for r in requests):
            chosen = torch.multinomial(probs, num_samples=1)[:, 0]
        else:
            chosen = torch.cat([torch.multinomial(probs[j:j + 1], 1, generator=r.generator)[:, 0]
                                for j, r in enumerate(requests)])
    for j, request in enumerate(requests):
        if request.teacher_tokens is not None:
            chosen[j] = request.teacher_tokens[step]
    return chosen


def in_order(results: Iterable[tuple[int, SpeechTokens]]) -> Iterator[tuple[int, SpeechTokens]]:
    """``(index, result)`` pairs in index order (0, 1, ...), each yielded as soon as it and all before it are
    done: what streaming needs."""
    waiting: dict[int, SpeechTokens] = {}
    expected = 0
    for index, result in results:
        waiting[index] = result
        while expected in waiting:
            yield expected, waiting.pop(expected)
            expected += 1


def generate_many(t3, requests: Sequence[SpeechRequest], *, sampling: SamplingConfig | None = None,
                  **options) -> list[SpeechTokens]:
    """:func:`decode`, results in the order of ``requests``."""
    results: list[SpeechTokens | None] = [None] * len(requests)
    for index, result in decode(t3, requests, sampling=sampling, **options):
        results[index] = result
    return results


def generate_speech_tokens(t3, text_tokens: torch.Tensor, cond, *, sampling: SamplingConfig | None = None,
                           max_new_tokens: int = 1000, teacher_tokens: torch.Tensor | None = None,
                           keep_logits: bool = False, generator: torch.Generator | None = None) -> SpeechTokens:
    """Speech tokens for one sentence (``text_tokens``: [START] ... [STOP]) in the voice ``cond`` (upstream's
    ``T3Cond``): a batch of one of :func:`decode`. Stops at ``stop_speech`` or after ``max_new_tokens``.

    ``teacher_tokens`` (s1 ... [stop_speech]) are fed instead of the model's choices (teacher forcing): with
    ``keep_logits`` this gives the logits the decoder computes for a known utterance, which tests compare with the
    training forward pass.
    """
    request = SpeechRequest(text_tokens, cond, max_new_tokens=max_new_tokens, generator=generator,
                            teacher_tokens=teacher_tokens)
    (result,) = generate_many(t3, [request], sampling=sampling, keep_logits=keep_logits)
    return result


def speech_only(tokens: torch.Tensor, hp) -> torch.Tensor:
    """The S3 speech tokens among ``tokens`` (what the vocoder can turn into sound): ids below the T3 config's
    special speech tokens (:func:`amharic_tts.model.loss.speech_vocab_size`, the one place that knows it)."""
    return tokens[tokens < speech_vocab_size(hp)]
