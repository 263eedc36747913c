"""Batches for T3 from a prepared dataset: text ids, speech tokens, speaker embedding and speech prompt.

- ``text_ids`` (added by preprocessing: ``[START] [am] ... [STOP]``) and speech tokens
  (``start_speech`` + tokens + ``stop_speech``) are right-padded; lengths travel with them.
- The speech prompt has the length inference uses (``speech_cond_prompt_len`` = 150 tokens = 6 s, what a
  reference clip of 6 s or more gives). It is cut from *another* utterance of the same speaker where there is one
  (public fine-tunes that always prompt with the target utterance report models that copy the prompt and ignore
  the text), from random utterances of that speaker joined when one is too short, from ``prompt_pool`` (the
  evaluation collator is lent the training set) when the speaker has no other utterance here, and from the
  utterance itself only when it has none anywhere. With ``voice_neighbours`` = k, those other utterances are the k
  of the speaker whose speaker embedding is closest: a film or broadcast prepared from subtitles is one "speaker"
  label holding many voices, and a prompt in another character's voice teaches the model to ignore the prompt's
  voice.
- The speaker embedding comes from the same utterance(s) as the prompt (the normalised mean when several were
  joined), as at inference, where one reference clip gives both: the target utterance's own embedding would let
  the model lean on what inference never has.
- Shorter prompts: a reference clip under 6 s gives a shorter prompt at inference (upstream tokenises the first
  6 s, at most), so a share ``short_prompt_share`` of training batches have a prompt of ``min_prompt_tokens``
  to the full length (one length per batch: upstream's Perceiver takes no mask).
- Conditioning dropout: with small probabilities a sample loses its text embedding (what upstream's
  classifier-free guidance uses as the unconditional branch), its prompt, or its speaker embedding.

Each sample's prompt and dropouts come from a generator seeded by (seed, epoch, row), and a batch's prompt length
by (seed, epoch, its first row): the same whatever the data-loader prefetching, the worker processes or a resume
in the middle of an epoch, so a resumed run draws exactly what an uninterrupted one draws. (accelerate collates
one batch ahead, so a random state saved with a checkpoint would already be one batch too far.)
"""

from __future__ import annotations

import contextlib
import random
from collections import defaultdict
from typing import Sequence

import numpy as np
import torch

from amharic_tts.data.voices import mean_voice, speaker_embeddings
from amharic_tts.model.voice import MIN_PROMPT_TOKENS  # also the shortest reference clip inference accepts


class T3Collator:
    def __init__(self, dataset, *, start_speech: int, stop_speech: int, prompt_tokens: int = 150,
                 prompt_from_same_speaker: bool = True, text_dropout: float = 0.0, prompt_dropout: float = 0.0,
                 speaker_dropout: float = 0.0, emotion_adv: float = 0.5, voice_neighbours: int = 0, seed: int = 0,
                 prompt_pool=None, short_prompt_share: float = 0.0, min_prompt_tokens: int = MIN_PROMPT_TOKENS):
        if not 0 <= short_prompt_share <= 1:
            raise ValueError(f"short_prompt_share must be in 0..1, got {short_prompt_share}")
        if short_prompt_share and not 1 <= min_prompt_tokens <= prompt_tokens:
            raise ValueError(f"min_prompt_tokens must be in 1..{prompt_tokens} (the prompt length), got "
                             f"{min_prompt_tokens}")
        self.dataset = dataset
        self.pool = prompt_pool  # another dataset (the training set) lending prompts to speakers alone in this one
        self.start_speech, self.stop_speech = start_speech, stop_speech
        self.prompt_tokens = prompt_tokens
        self.short_prompt_share, self.min_prompt_tokens = short_prompt_share, min_prompt_tokens
        self.text_dropout, self.prompt_dropout, self.speaker_dropout = text_dropout, prompt_dropout, speaker_dropout
        self.emotion_adv = emotion_adv
        self.by_speaker: dict[str, list[int]] = defaultdict(list)
        self.neighbours: dict[int, object] = {}  # row -> the rows of its speaker with the closest voices
        if prompt_from_same_speaker:
            speakers = dataset["speaker"]
            for index, speaker in enumerate(speakers):
                self.by_speaker[speaker].append(index)
            if voice_neighbours > 0 and any(len(rows) > voice_neighbours + 1 for rows in self.by_speaker.values()):
                from amharic_tts.data.voices import voice_neighbours as nearest_voices

                self.neighbours = nearest_voices(speakers, speaker_embeddings(dataset), voice_neighbours)
        self.lent: dict[int, list[int]] = {}  # row -> rows of the pool: its speaker's, nearest voices first
        if prompt_from_same_speaker and prompt_pool is not None:
            self._lend(prompt_pool, voice_neighbours)
        self.seed = seed
        self.epoch = 0  # set at each epoch's start (see T3Trainer)
        self.training = True

    def _lend(self, pool, k: int) -> None:
        """The pool's rows of each speaker that has a single row here (all of them, or the ``k`` nearest voices)."""
        alone = {speaker: rows[0] for speaker, rows in self.by_speaker.items() if len(rows) == 1}
        in_pool: dict[str, list[int]] = defaultdict(list)
        for index, speaker in enumerate(pool["speaker"]):
            if speaker in alone:
                in_pool[speaker].append(index)
        if not in_pool:
            return
        if k > 0:
            from amharic_tts.data.voices import nearest

            rows = [alone[speaker] for speaker in in_pool]
            own = speaker_embeddings(self.dataset.select(rows))
            for position, (speaker, candidates) in enumerate(in_pool.items()):
                chosen = nearest(own[position:position + 1], speaker_embeddings(pool.select(candidates)), k)[0]
                self.lent[rows[position]] = [candidates[i] for i in chosen]
        else:
            self.lent = {alone[speaker]: candidates for speaker, candidates in in_pool.items()}

    def sample_rng(self, row: dict) -> random.Random:
        stage = self.epoch if self.training else "eval"
        return random.Random(f"{self.seed}:{stage}:{row['_index']}")

    @contextlib.contextmanager
    def evaluating(self):
        """No dropout, and prompts that are the same at every evaluation."""
        saved = self.training
        self.training = False
        try:
            yield self
        finally:
            self.training = saved

    def prompt_length(self, rows: Sequence[dict]) -> int:
        """The batch's prompt length: the full one, or (training, ``short_prompt_share`` of batches) a shorter one."""
        if not self.training or not self.short_prompt_share or not self.prompt_tokens:
            return self.prompt_tokens
        rng = random.Random(f"{self.seed}:{self.epoch}:prompt-length:{rows[0]['_index']}")
        if rng.random() >= self.short_prompt_share:
            return self.prompt_tokens
        return rng.randint(self.min_prompt_tokens, self.prompt_tokens)

    def _prompt(self, row: dict, rng: random.Random, length: int) -> tuple[list[int], np.ndarray]:
        """``length`` prompt tokens for ``row`` and the speaker embedding of the utterance(s) they were cut from."""
        source, others = self.dataset, self.neighbours.get(row["_index"])
        others = [int(i) for i in others] if others is not None else \
            [i for i in self.by_speaker.get(row["speaker"], []) if i != row["_index"]]
        if not others and row["_index"] in self.lent:
            source, others = self.pool, self.lent[row["_index"]]
        tokens: list[int] = []
        parts: list[tuple[int, object, object]] = []  # (where it starts in ``tokens``, utterance, its embedding)
        tries = 0
        while others and len(tokens) < self.prompt_tokens and tries < 8:
            index = rng.choice(others)
            other = source[index]
            parts.append((len(tokens), (id(source), index), other["speaker_emb"]))
            tokens.extend(other["speech_tokens"])
            tries += 1
        if len(tokens) < self.prompt_tokens:  # no other utterance (or all too short): the utterance itself
            own = list(row["speech_tokens"]) or [0]
            parts.append((len(tokens), "own", row["speaker_emb"]))
            tokens.extend(own * (self.prompt_tokens // len(own) + 1))
        start = rng.randrange(0, len(tokens) - self.prompt_tokens + 1)
        # the window is drawn at the full length and shortened at its end, so a batch's prompt length never
        # changes which utterances the other draws of the sample pick
        end = start + length
        used = {}  # each utterance in the window once
        for i, (at, utterance, embedding) in enumerate(parts):
            if at < end and (parts[i + 1][0] if i + 1 < len(parts) else len(tokens)) > start:
                used.setdefault(utterance, embedding)
        return tokens[start:end], mean_voice(np.asarray(list(used.values()), dtype=np.float32))

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        B = len(rows)
        text = [list(r["text_ids"]) for r in rows]
        speech = [[self.start_speech, *r["speech_tokens"], self.stop_speech] for r in rows]
        text_lens = torch.tensor([len(t) for t in text])
        speech_lens = torch.tensor([len(s) for s in speech])
        text_tokens = torch.zeros(B, int(text_lens.max()), dtype=torch.long)
        speech_tokens = torch.zeros(B, int(speech_lens.max()), dtype=torch.long)
        for i, (t, s) in enumerate(zip(text, speech)):
            text_tokens[i, : len(t)] = torch.tensor(t)
            speech_tokens[i, : len(s)] = torch.tensor(s)
        rngs = [self.sample_rng(r) for r in rows]
        if self.prompt_tokens:
            length = self.prompt_length(rows)
            drawn = [self._prompt(r, g, length) for r, g in zip(rows, rngs)]
            prompts = torch.tensor([tokens for tokens, _ in drawn], dtype=torch.long)
            speaker = torch.from_numpy(np.stack([voice for _, voice in drawn])).float()
        else:  # no prompt: nothing to take the voice from but the utterance itself
            prompts = None
            speaker = torch.tensor([list(r["speaker_emb"]) for r in rows], dtype=torch.float32)
        drops = [[g.random() for _ in range(3)] for g in rngs]  # text, prompt, speaker

        def keep(k: int, p: float) -> torch.Tensor:
            return torch.tensor([float(not self.training or d[k] >= p) for d in drops])

        text_keep, prompt_keep = keep(0, self.text_dropout), keep(1, self.prompt_dropout)
        speaker_keep = keep(2, self.speaker_dropout)
        return {
            "text_tokens": text_tokens, "text_token_lens": text_lens,
            "speech_tokens": speech_tokens, "speech_token_lens": speech_lens,
            "speaker_emb": speaker * speaker_keep[:, None],
            "cond_prompt_speech_tokens": prompts,
            "emotion_adv": torch.full((B,), float(self.emotion_adv)),
            "text_keep": text_keep, "prompt_keep": prompt_keep,
        }
