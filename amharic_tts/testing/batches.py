"""Random but well-formed T3 batches (tests, benchmarks and the offline demo; never shipped code paths)."""

from __future__ import annotations

from typing import Sequence

import torch

from amharic_tts.model.loss import T3Batch


def random_batch(t3, text_lens: Sequence[int], speech_lens: Sequence[int], *, seed: int = 0,
                 prompt_len: int | None = None, text_vocab: int | None = None, pad_to: tuple[int, int] | None = None,
                 pad_value: int = 0) -> T3Batch:
    """A batch whose sample i has ``text_lens[i]`` text ids ([START] ... [STOP]) drawn from the first
    ``text_vocab`` ids (default: the base vocabulary, so old ids only) and ``speech_lens[i]`` speech tokens
    (start_speech ... stop_speech). Tensors are right-padded with ``pad_value`` to the longest sample or to
    ``pad_to = (text_width, speech_width)``. The prompt has ``prompt_len`` tokens (default: the config's 150)."""
    hp = t3.hp
    g = torch.Generator().manual_seed(seed)
    B = len(text_lens)
    text_lens_t = torch.tensor(text_lens, dtype=torch.long)
    speech_lens_t = torch.tensor(speech_lens, dtype=torch.long)
    text_width, speech_width = pad_to or (max(text_lens), max(speech_lens))
    vocab = text_vocab or 2454
    text = torch.full((B, text_width), pad_value, dtype=torch.long)
    speech = torch.full((B, speech_width), pad_value, dtype=torch.long)
    rows = torch.arange(B)
    # Content depends on the lengths only, never on the padding; body ids avoid the start/stop ids.
    text_body = torch.randint(1, vocab, (B, max(text_lens)), generator=g)
    text_body[text_body == hp.start_text_token] = 1
    speech_body = torch.randint(0, hp.start_speech_token, (B, max(speech_lens)), generator=g)
    real_text = torch.arange(max(text_lens))[None] < text_lens_t[:, None]
    real_speech = torch.arange(max(speech_lens))[None] < speech_lens_t[:, None]
    text[:, : max(text_lens)][real_text] = text_body[real_text]
    speech[:, : max(speech_lens)][real_speech] = speech_body[real_speech]
    text[:, 0], text[rows, text_lens_t - 1] = hp.start_text_token, hp.stop_text_token
    speech[:, 0], speech[rows, speech_lens_t - 1] = hp.start_speech_token, hp.stop_speech_token
    prompt_len = hp.speech_cond_prompt_len if prompt_len is None else prompt_len
    return T3Batch(
        text_tokens=text,
        text_token_lens=text_lens_t,
        speech_tokens=speech,
        speech_token_lens=speech_lens_t,
        speaker_emb=torch.randn(B, hp.speaker_embed_size, generator=g),
        cond_prompt_speech_tokens=torch.randint(0, hp.start_speech_token, (B, prompt_len), generator=g),
        emotion_adv=torch.full((B,), 0.5),
    )
