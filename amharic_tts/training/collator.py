"""Batches for T3 from a prepared dataset: text ids, speech tokens, speaker embedding and speech prompt.

- ``text_ids`` (added by preprocessing: ``[START] [am] ... [STOP]``) and speech tokens
  (``start_speech`` + tokens + ``stop_speech``) are right-padded; lengths travel with them.
- The speech prompt has the length inference uses (``speech_cond_prompt_len`` = 150 tokens = 6 s). It is cut
  from *another* utterance of the same speaker where there is one (public fine-tunes that always prompt with the
  target utterance report models that copy the prompt and ignore the text), from random utterances of that
  speaker joined when one is too short, from ``prompt_pool`` (the evaluation collator is lent the training set)
  when the speaker has no other utterance here, and from the utterance itself only when it has none anywhere.
  With ``voice_neighbours`` = k, those other utterances are the k of the speaker whose speaker embedding is
  closest: a film or broadcast prepared from subtitles is one "speaker" label holding many voices, and a prompt in
  another character's voice teaches the model to ignore the prompt's voice.
- Conditioning dropout: with small probabilities a sample loses its text embedding (what upstream's
  classifier-free guidance uses as the unconditional branch), its prompt, or its speaker embedding.

Each sample's prompt and dropouts come from a generator seeded by (seed, epoch, row): the same whatever the
batch, the data-loader prefetching, the worker processes or a resume in the middle of an epoch, so a resumed
run draws exactly what an uninterrupted one draws. (accelerate collates one batch ahead, so a random state
saved with a checkpoint would already be one batch too far.)
"""

from __future__ import annotations

import contextlib
import random
from collections import defaultdict
from typing import Sequence

import torch

from amharic_tts.data.voices import speaker_embeddings


class T3Collator:
    def __init__(self, dataset, *, start_speech: int, stop_speech: int, prompt_tokens: int = 150,
                 prompt_from_same_speaker: bool = True, text_dropout: float = 0.0, prompt_dropout: float = 0.0,
                 speaker_dropout: float = 0.0, emotion_adv: float = 0.5, voice_neighbours: int = 0, seed: int = 0,
                 prompt_pool=None):
        self.dataset = dataset
        self.pool = prompt_pool  # another dataset (the training set) lending prompts to speakers alone in this one
        self.start_speech, self.stop_speech = start_speech, stop_speech
        self.prompt_tokens = prompt_tokens
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

    def _prompt(self, row: dict, rng: random.Random) -> list[int]:
        source, others = self.dataset, self.neighbours.get(row["_index"])
        others = [int(i) for i in others] if others is not None else \
            [i for i in self.by_speaker.get(row["speaker"], []) if i != row["_index"]]
        if not others and row["_index"] in self.lent:
            source, others = self.pool, self.lent[row["_index"]]
        tokens: list[int] = []
        tries = 0
        while others and len(tokens) < self.prompt_tokens and tries < 8:
            tokens.extend(source[rng.choice(others)]["speech_tokens"])
            tries += 1
        if len(tokens) < self.prompt_tokens:  # no other utterance (or all too short): the utterance itself
            own = list(row["speech_tokens"]) or [0]
            tokens.extend(own * (self.prompt_tokens // len(own) + 1))
        start = rng.randrange(0, len(tokens) - self.prompt_tokens + 1)
        return tokens[start:start + self.prompt_tokens]

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
        speaker = torch.tensor([list(r["speaker_emb"]) for r in rows], dtype=torch.float32)
        rngs = [self.sample_rng(r) for r in rows]
        prompts = torch.tensor([self._prompt(r, g) for r, g in zip(rows, rngs)], dtype=torch.long) \
            if self.prompt_tokens else None
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
