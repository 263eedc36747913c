"""A synthetic speech language with a known right answer: does the pipeline learn to speak unseen Amharic?

No Chatterbox weights and no real Amharic speech can be fetched in CI, so :class:`SyntheticLanguage` stands in
for both, exercising everything this project owns (tokenizer merge, vocabulary extension and initialisation,
layout, loss, collator, Trainer, configs, decoder, ``AmharicTTS``) with an answer known in advance:

- **Speech.** Every Ethiopic syllable is a consonant phone and a vowel phone (its order); each phone is a run of
  identical speech tokens whose length follows fixed rules (consonants 1 or 2 tokens, vowels 1 to 3, a word's
  last vowel one longer), words are parted by a run of pause tokens and a sentence ends with a longer one. So
  syllables of one consonant share tokens, and the length of an utterance is determined by its text.
- **Speakers.** Each speaker says every phone with its own speech token (disjoint, seeded random inventories),
  and has a speaker embedding (a unit vector, plus a little noise per utterance). Output is in the right voice
  only if the model reads it from the prompt and speaker embedding.
- **A recogniser.** Tokens -> phones (any speaker's inventory, as a speaker-independent ASR) -> Ethiopic text,
  scored with the project's own Amharic CER (:func:`amharic_tts.evaluation.metrics.score`).
- **A base language.** The same phones written in Latin letters (the SERA-like transliteration of
  :mod:`amharic_tts.text.transliterate`): a base model pretrained on it knows a script, and the transliteration
  initialisation of the new Amharic rows has real meaning, as with the real multilingual base.

``bench/learnability.py`` runs the whole experiment (base pretraining, fine-tunes of the shipped configurations and
their ablations, speaking held-out text) and writes the table the README quotes; ``tests/test_learnability.py``
runs a small version. Nothing here is imported by shipped code paths.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

VOWELS = ("e", "u", "i", "a", "ie", "ɨ", "o")  # the seven orders' vowels (the sixth is the short ɨ or none)
VOWEL_TOKENS = (1, 1, 1, 2, 2, 1, 2)  # tokens each vowel lasts (a word's last vowel: one more)
GLOTTAL = "ʔ"  # the consonant of the vowel carrier አ
PAUSE = "_"
WORD_PAUSE, SENTENCE_PAUSE = 2, 3
SPEAKER_EMBED_SIZE = 256
LONG_CONSONANTS = frozenset({"m", "n", "s", "sh", "r", "l", "z", "f"})  # continuants last two tokens, stops one
# The default language, sized for a 2-core CPU: 6 consonants written with one Latin letter and the orders e a o,
# so that each syllable's Latin form is one piece of the base tokenizer (it merges every pair of letters), as each
# Ethiopic syllable is one letter. ``consonants=None, orders=None`` takes the whole syllabary (194 syllables; digraph
# consonants and the orders ie / ɨ give Latin forms that straddle pieces). Measured on this CPU, larger languages
# were not learnt within a CPU budget (base-language held-out CER, greedy): 94 syllables, 4 layers x 256, 75-80 %
# after 1,500 steps; 32 syllables, 2 layers x 128, 79 % after 2,500; the whole syllabary, 4 x 256, 49 % after 3,000
# steps on 3,000 sentences (31 % on the training sentences themselves: memorised, not read).
DEFAULT_CONSONANTS = ("b", "l", "m", "n", "s", "t")
DEFAULT_ORDERS = (0, 3, 6)  # e a o
SPEAK_BATCH = 32  # held-out sentences decoded together (batching never changes a sentence's tokens)


@dataclass
class SyntheticLanguage:
    """The syllabary, the phones, each speaker's speech tokens and voice; see the module docstring."""

    speakers: int = 4
    seed: int = 0
    consonants: tuple[str, ...] | None = None  # a subset of the consonant phones (a smaller language); None: all
    orders: tuple[int, ...] | None = None  # a subset of the seven orders; None: all
    durations: bool = True  # phones last by the rules; False: every phone one token, pauses 1 and 2 (easier)
    syllables: dict[str, tuple[str, int]] = field(init=False)  # letter -> (consonant phone, order)
    letters: dict[tuple[str, int], str] = field(init=False)  # the inverse
    phones: list[str] = field(init=False)
    inventories: np.ndarray = field(init=False)  # (speakers, phones) speech token ids
    voices: np.ndarray = field(init=False)  # (speakers, 256) unit speaker embeddings

    def __post_init__(self):
        from amharic_tts.text.normalize import normalize
        from amharic_tts.text.transliterate import series_table

        self.syllables, claimed = {}, {}
        for start, latin in series_table().items():
            consonant = latin or GLOTTAL
            if len(latin) > 1 and latin.endswith("w"):
                continue  # labialised series (ቈ ኈ ኰ ጐ): their vowels are other phones
            if self.consonants is not None and consonant not in self.consonants:
                continue
            for order in range(len(VOWELS)):
                letter = chr(start + order)
                if normalize(letter) != letter or claimed.setdefault(consonant, start) != start:
                    continue  # a homophone the normaliser folds, or a second series of the same consonant
                if self.orders is None or order in self.orders:
                    self.syllables[letter] = (consonant, order)
        self.letters = {value: letter for letter, value in self.syllables.items()}
        consonants = sorted({c for c, _ in self.syllables.values()})
        self.phones = [*consonants, *VOWELS, PAUSE]
        self._index = {phone: i for i, phone in enumerate(self.phones)}
        rng = np.random.default_rng(self.seed)
        ids = rng.choice(6561, size=self.speakers * len(self.phones), replace=False)
        self.inventories = ids.reshape(self.speakers, len(self.phones))
        self._phone_of = {int(token): (speaker, self.phones[i]) for speaker, row in enumerate(self.inventories)
                          for i, token in enumerate(row)}
        voices = rng.normal(size=(self.speakers, SPEAKER_EMBED_SIZE))
        self.voices = voices / np.linalg.norm(voices, axis=1, keepdims=True)

    # ------------------------------------------------------------------------------------------- text

    def words(self, count: int, rng: random.Random, *, exclude: set[str] = frozenset(),
              max_syllables: int = 3) -> list[str]:
        """``count`` distinct random words of 1 to ``max_syllables`` syllables, none in ``exclude``."""
        letters = sorted(self.syllables)
        lengths = list(range(1, max_syllables + 1))
        weights = [(3, 5, 2, 1, 1)[i] for i in range(max_syllables)]
        words: list[str] = []
        seen = set(exclude)
        if count > len(letters) ** max_syllables // 2:
            raise ValueError(f"{count} words is too many for {len(letters)} syllables")
        while len(words) < count:
            word = "".join(rng.choice(letters) for _ in range(rng.choices(lengths, weights)[0]))
            if word not in seen:
                seen.add(word)
                words.append(word)
        return words

    @staticmethod
    def sentences(words: Sequence[str], count: int, rng: random.Random, *, min_words: int = 1, max_words: int = 4,
                  must_use: Sequence[str] = (), exclude: set[str] = frozenset()) -> list[str]:
        """``count`` distinct sentences of ``words`` (each with one of ``must_use`` when given), none in
        ``exclude``, ending with ``።``."""
        out: list[str] = []
        seen = set(exclude)
        tries = 0
        while len(out) < count:
            tries += 1
            if tries > 100 * count + 1000:
                raise ValueError(f"cannot make {count} distinct sentences of {len(words)} words and {min_words} to "
                                 f"{max_words} words a sentence: use more words or fewer sentences")
            chosen = [rng.choice(words) for _ in range(rng.randint(min_words, max_words))]
            if must_use:
                chosen[rng.randrange(len(chosen))] = rng.choice(must_use)
            sentence = " ".join(chosen) + "።"
            if sentence not in seen:
                seen.add(sentence)
                out.append(sentence)
        return out

    def latin(self, text: str) -> str:
        """The base language: the same sentence in Latin letters (``"ሰላም።"`` -> ``"selam."``)."""
        from amharic_tts.text.transliterate import transliterate

        return transliterate(text)

    # ------------------------------------------------------------------------------------------- speech

    def phone_runs(self, text: str) -> list[tuple[str, int]]:
        """``[(phone, tokens), ...]`` of an Ethiopic sentence (words of the syllabary parted by spaces)."""
        runs: list[tuple[str, int]] = []
        words = text.replace("።", " ").split()
        for w, word in enumerate(words):
            for s, letter in enumerate(word):
                if letter not in self.syllables:
                    raise ValueError(f"{letter!r} is not a letter of the synthetic language")
                consonant, order = self.syllables[letter]
                if self.durations:
                    runs.append((consonant, 1 + (consonant in LONG_CONSONANTS)))
                    runs.append((VOWELS[order], VOWEL_TOKENS[order] + (s == len(word) - 1)))
                else:
                    runs += [(consonant, 1), (VOWELS[order], 1)]
            last = w == len(words) - 1
            runs.append((PAUSE, (SENTENCE_PAUSE if last else WORD_PAUSE) if self.durations else 1 + last))
        return runs

    def speech_tokens(self, text: str, speaker: int) -> list[int]:
        row = self.inventories[speaker]
        return [int(row[self._index[phone]]) for phone, n in self.phone_runs(text) for _ in range(n)]

    def speaker_embedding(self, speaker: int, rng: np.random.Generator, noise: float = 0.1) -> np.ndarray:
        """The speaker's voice with a little per-utterance noise, unit length (as the voice encoder's)."""
        voice = self.voices[speaker] + noise * rng.normal(size=SPEAKER_EMBED_SIZE) / math.sqrt(SPEAKER_EMBED_SIZE)
        return (voice / np.linalg.norm(voice)).astype(np.float32)

    def recognise(self, tokens: Sequence[int]) -> str:
        """Speech tokens -> Ethiopic text, as a speaker-independent recogniser: phone runs collapsed, then each
        consonant with the vowel after it (a consonant without one gets the sixth order, a vowel without one the
        carrier አ); tokens of no phone are ignored."""
        phones: list[str] = []
        for token in tokens:
            phone = self._phone_of.get(int(token), (None, None))[1]
            if phone is not None and (not phones or phones[-1] != phone):
                phones.append(phone)
        words, word, consonant = [], [], None

        def flush_consonant():
            nonlocal consonant
            if consonant is not None:
                word.append(self.letters.get((consonant, VOWELS.index("ɨ")), ""))
                consonant = None

        for phone in phones:
            if phone == PAUSE:
                flush_consonant()
                if word:
                    words.append("".join(word))
                    word = []
            elif phone in VOWELS:
                word.append(self.letters.get((consonant or GLOTTAL, VOWELS.index(phone)), ""))
                consonant = None
            else:
                flush_consonant()
                consonant = phone
        flush_consonant()
        if word:
            words.append("".join(word))
        return " ".join(words) + "።"

    def speaker_share(self, tokens: Sequence[int], speaker: int) -> float:
        """The share of ``tokens`` that are in ``speaker``'s inventory (1.0 for no tokens: nothing wrong said)."""
        if not len(tokens):
            return 1.0
        own = set(self.inventories[speaker].tolist())
        return sum(int(t) in own for t in tokens) / len(tokens)


# ----------------------------------------------------------------------------------------------- data


@dataclass
class Corpus:
    """Sentences of the experiment, with their speaker: training, and the held-out sets spoken at the end."""

    train: list[tuple[str, int]]
    validation: list[tuple[str, int]]
    held_out: list[tuple[str, int]]  # new sentences of training words
    unseen_words: list[tuple[str, int]]  # sentences with a word never seen in training
    prompts: list[tuple[str, int]]  # utterances the held-out sentences take their prompt from (one speaker each)


def make_corpus(language: SyntheticLanguage, *, train: int, held_out: int, lexicon: int = 400, new_words: int = 60,
                seed: int = 0, min_words: int = 1, max_words: int = 4, max_syllables: int = 3) -> Corpus:
    rng = random.Random(f"corpus:{seed}")
    known = language.words(lexicon, rng, max_syllables=max_syllables)
    unseen = language.words(new_words, rng, exclude=set(known), max_syllables=max_syllables)
    sentences = language.sentences(known, train + 2 * held_out + language.speakers * 2, rng, min_words=min_words,
                                   max_words=max_words)
    fresh = language.sentences(known, held_out, rng, must_use=unseen, exclude=set(sentences), min_words=min_words,
                               max_words=max_words)

    def voiced(texts, offset=0):
        return [(text, (i + offset) % language.speakers) for i, text in enumerate(texts)]

    n_prompts = language.speakers * 2
    return Corpus(train=voiced(sentences[:train]), validation=voiced(sentences[train:train + language.speakers]),
                  held_out=voiced(sentences[train + language.speakers:train + language.speakers + held_out], 1),
                  unseen_words=voiced(fresh, 2),
                  prompts=voiced(sentences[len(sentences) - n_prompts:]))


def dataset_rows(language: SyntheticLanguage, items: Sequence[tuple[str, int]], *, text=None, seed: int = 0,
                 source: str = "synthetic") -> dict[str, list]:
    """Columns of a prepared dataset (as ``prepare_dataset.py`` writes them) for ``(text, speaker)`` items;
    ``text`` maps the Ethiopic sentence to the one stored (the base language stores its Latin form)."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("id", "source", "recording", "speaker", "text", "raw_text", "duration",
                                             "speech_tokens", "speaker_emb")}
    for i, (sentence, speaker) in enumerate(items):
        tokens = language.speech_tokens(sentence, speaker)
        written = text(sentence) if text else sentence
        rows["id"].append(f"{source}-{i:06d}")
        rows["source"].append(source)
        rows["recording"].append(f"{source}-{i:06d}")
        rows["speaker"].append(f"speaker{speaker}")
        rows["text"].append(written)
        rows["raw_text"].append(written)
        rows["duration"].append(len(tokens) / 25)
        rows["speech_tokens"].append(tokens)
        rows["speaker_emb"].append(language.speaker_embedding(speaker, rng).tolist())
    return rows


def write_dataset(path: Path, language: SyntheticLanguage, splits: dict[str, Sequence[tuple[str, int]]], *,
                  text=None, seed: int = 0) -> Path:
    """A ``DatasetDict`` on disk in the layout ``prepare_dataset.py`` writes (no audio column)."""
    import datasets

    data = datasets.DatasetDict({
        name: datasets.Dataset.from_dict(dataset_rows(language, items, text=text, seed=seed + k, source=name))
        for k, (name, items) in enumerate(splits.items())})
    data.save_to_disk(str(path))
    return path


# ----------------------------------------------------------------------------------------------- the base


@dataclass
class ModelSize:
    """The stand-in base's architecture (the tiny stand-in's Llama, narrower when ``perceiver`` is off)."""

    hidden_size: int = 256
    layers: int = 4
    intermediate_size: int = 512
    perceiver: bool = False
    prompt_tokens: int = 50  # speech_cond_prompt_len (the real base: 150 with its Perceiver)
    head_dim: int = 64

    def min_prompt_tokens(self) -> int:
        """The shortest training prompt, in the shipped proportion (1 s of the real 6 s)."""
        from amharic_tts.model.voice import MIN_PROMPT_TOKENS

        return max(1, self.prompt_tokens * MIN_PROMPT_TOKENS // 150)

    def config(self) -> dict:
        from amharic_tts.testing.tiny_base import tiny_t3_config_dict

        config = tiny_t3_config_dict(hidden_size=self.hidden_size, layers=self.layers,
                                     intermediate_size=self.intermediate_size, perceiver=self.perceiver,
                                     max_text_tokens=128, max_speech_tokens=256, head_dim=self.head_dim)
        config["speech_cond_prompt_len"] = self.prompt_tokens
        return config


def base_tokenizer(base_json: str):
    """The base tokenizer as an :class:`AmharicTokenizer` that encodes the base language (``[en]``)."""
    from tokenizers import Tokenizer

    from amharic_tts.text.tokenizer import AmharicTokenizer

    return AmharicTokenizer(Tokenizer.from_str(base_json), {"language_token": "[en]", "base_vocab_size": 2454})


def base_text_ids(tokenizer, latin: str) -> list[int]:
    """``[START] [en] ... [STOP]`` of a base-language sentence."""
    return [tokenizer.start_id, *tokenizer.encode(latin, normalized=True, language="en"), tokenizer.stop_id]


def pretrain_base(base_dir: Path, parts_dir: Path, language: SyntheticLanguage, items: Sequence[tuple[str, int]], *,
                  size: ModelSize, steps: int, batch_size: int = 16, learning_rate: float = 2e-3, seed: int = 0,
                  log=print, every: int = 100, evaluate=None, device: str = "cpu") -> Path:
    """The stand-in base pretrained on the base language, written as a base model folder (``base_dir``) laid out
    like ``ResembleAI/chatterbox``; the voice encoder, S3Gen and default voice are linked from ``parts_dir`` (a
    tiny stand-in base)."""
    import datasets
    from safetensors.torch import save_file

    from amharic_tts.model.base import (T3_CHECKPOINTS, T3_CONFIG_FILE, TOKENIZER_FILE, build_t3,
                                        t3_config_from_dict)
    from amharic_tts.model.loss import T3Batch, t3_loss
    from amharic_tts.training.collator import T3Collator
    from amharic_tts.training.args import DataArguments

    base_json = (parts_dir / TOKENIZER_FILE).read_text(encoding="utf-8")
    tokenizer = base_tokenizer(base_json)
    config = size.config()
    torch.manual_seed(seed)
    t3 = build_t3(t3_config_from_dict(config)).to(device).train()
    rows = dataset_rows(language, items, text=language.latin, seed=seed, source="base")
    rows["text_ids"] = [base_text_ids(tokenizer, text) for text in rows["text"]]
    rows["_index"] = list(range(len(items)))
    data = datasets.Dataset.from_dict(rows)
    shipped = DataArguments()  # the dropouts and prompt shares training uses
    collator = T3Collator(data, start_speech=t3.hp.start_speech_token, stop_speech=t3.hp.stop_speech_token,
                          prompt_tokens=t3.hp.speech_cond_prompt_len, text_dropout=shipped.text_dropout,
                          prompt_dropout=shipped.prompt_dropout, speaker_dropout=shipped.speaker_dropout,
                          short_prompt_share=shipped.short_prompt_share, min_prompt_tokens=size.min_prompt_tokens(),
                          seed=seed)
    optimizer = torch.optim.AdamW(t3.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps)))))
    order = np.random.default_rng(seed)
    started, epoch, queue = time.time(), 0, []
    for step in range(steps):
        if len(queue) < batch_size:
            collator.epoch = epoch
            queue.extend(order.permutation(len(data)).tolist())
            epoch += 1
        chosen, queue = queue[:batch_size], queue[batch_size:]
        inputs = collator([data[i] for i in chosen])
        out = t3_loss(t3, T3Batch(**inputs).to(device))
        optimizer.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(t3.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if (step + 1) % every == 0 or step == steps - 1:
            extra = ""
            if evaluate is not None:  # a learning curve: e.g. the base language's held-out CER
                t3.eval()
                extra = f"  {evaluate(t3)}"
                t3.train()
            log(f"  base step {step + 1:5d}  speech loss {out.speech_loss.item():.3f}  accuracy "
                f"{out.speech_accuracy.item():.3f}{extra}  ({time.time() - started:.0f} s)")
    base_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in t3.state_dict().items()}
    save_file(state, str(base_dir / T3_CHECKPOINTS["v3"]))
    (base_dir / T3_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (base_dir / TOKENIZER_FILE).write_text(base_json, encoding="utf-8")
    for name in ("ve.pt", "s3gen.pt", "conds.pt"):
        if (parts_dir / name).exists() and not (base_dir / name).exists():
            (base_dir / name).symlink_to((parts_dir / name).resolve())
    return base_dir


# ----------------------------------------------------------------------------------------------- fine-tune


def finetune_settings(config_file: Path, *, base_dir: Path, tokenizer_dir: Path, data_dir: Path, output_dir: Path,
                      steps: int, batch_size: int, learning_rate: float, seed: int = 0, device: str = "cpu",
                      **overrides) -> dict:
    """A shipped training config (``configs/train/*.yaml``) scaled down to a CPU run of ``steps`` steps: the
    model, data, freezing, LoRA, dropout and schedule settings stay; size, precision, evaluation, checkpointing
    and logging are those of a short CPU run; ``overrides`` (ablations) win."""
    import yaml

    settings = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    for key in ("num_train_epochs", "eval_steps", "save_steps", "save_total_limit", "sample_steps", "num_samples",
                "gradient_checkpointing", "gradient_accumulation_steps", "bf16", "warmup_steps", "logging_steps",
                "per_device_train_batch_size", "dataloader_num_workers", "eval_asr_model", "push_to_hub"):
        settings.pop(key, None)
    settings.update(
        base_model=str(base_dir), base_checkpoint="v3", tokenizer=str(tokenizer_dir), dataset=str(data_dir),
        output_dir=str(output_dir), max_steps=steps, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, warmup_steps=max(1, steps // 20), use_cpu=device == "cpu", eval_strategy="no",
        save_strategy="no", num_samples=0, logging_steps=max(1, steps // 10), dataloader_num_workers=0,
        report_to="none", seed=seed, disable_tqdm=True)
    settings.update(overrides)
    return settings


def finetune(settings: dict) -> Path:
    """Train with ``train_t3.py``'s own code (:func:`amharic_tts.training.run.train`); returns the run folder."""
    from amharic_tts.training import run
    from amharic_tts.training.args import parse_config

    return Path(run.train(*parse_config(settings, []))["output_dir"])


# ----------------------------------------------------------------------------------------------- speaking


@dataclass
class Spoken:
    text: str
    speaker: int
    tokens: list[int]
    stopped: bool
    expected_tokens: int


def voice_for(language: SyntheticLanguage, prompt_text: str, speaker: int, prompt_tokens: int, seed: int):
    """An upstream ``Conditionals`` as ``AmharicTTS.voice`` makes from a reference clip: the prompt is the first
    ``prompt_tokens`` speech tokens of another utterance of the speaker, its speaker embedding that utterance's."""
    from chatterbox.models.t3.modules.cond_enc import T3Cond
    from chatterbox.mtl_tts import Conditionals

    tokens = language.speech_tokens(prompt_text, speaker)  # shorter than the prompt: what there is, as upstream
    embedding = language.speaker_embedding(speaker, np.random.default_rng(seed))
    return Conditionals(T3Cond(speaker_emb=torch.from_numpy(embedding)[None],
                               cond_prompt_speech_tokens=torch.tensor(tokens[:prompt_tokens])[None],
                               emotion_adv=0.5 * torch.ones(1, 1, 1)), {})


def speak_amharic(tts, language: SyntheticLanguage, items: Sequence[tuple[str, int]], prompts: dict[int, str], *,
                  sampling, seed: int = 0) -> list[Spoken]:
    """Held-out Amharic sentences through the shipped inference path (``AmharicTTS``: its normaliser, tokenizer,
    length guard and decoder, all sentences in batches), each in its speaker's voice from another utterance."""
    from amharic_tts.model.generate import generate_many

    requests = []
    for i, (text, speaker) in enumerate(items):
        voice = voice_for(language, prompts[speaker], speaker, tts.t3.hp.speech_cond_prompt_len, seed + i)
        (sentence,) = tts.sentences(text)
        requests.append(tts.request(sentence, voice, seed=seed + i))
    results = generate_many(tts.t3, requests, sampling=sampling, batch_sentences=SPEAK_BATCH)
    return [Spoken(text, speaker, result.tokens.tolist(), result.stopped, len(language.speech_tokens(text, speaker)))
            for (text, speaker), result in zip(items, results)]


def speak_base(t3, tokenizer, language: SyntheticLanguage, items: Sequence[tuple[str, int]], prompts: dict[int, str],
               *, sampling, seed: int = 0) -> list[Spoken]:
    """Held-out base-language (Latin) sentences through the same decoder, for the forgetting check."""
    ids = [base_text_ids(tokenizer, language.latin(text)) for text, _ in items]
    return speak_ids(t3, ids, language, items, prompts, sampling=sampling, seed=seed)


def scores(language: SyntheticLanguage, spoken: Sequence[Spoken]) -> dict[str, float]:
    """CER (the project's Amharic CER on the recognised text), speaker accuracy (share of output tokens in the
    prompt speaker's inventory), stop accuracy (said stop, with a length within 10% of the right one)."""
    from amharic_tts.evaluation.metrics import score

    hypotheses = [language.recognise(s.tokens) for s in spoken]
    cer = score(hypotheses, [s.text for s in spoken])["cer"]
    tokens = sum(len(s.tokens) for s in spoken)
    own = sum(language.speaker_share(s.tokens, s.speaker) * len(s.tokens) for s in spoken)
    stop = [s.stopped and abs(len(s.tokens) - s.expected_tokens) <= 0.1 * s.expected_tokens for s in spoken]
    return {"cer": round(100 * cer, 2), "speaker_accuracy": round(100 * own / max(1, tokens), 2),
            "stop_accuracy": round(100 * sum(stop) / len(stop), 2)}


# ----------------------------------------------------------------------------------------------- the experiment


# each variant: (label, training config, config overrides, start_speech copies when training, when speaking,
# sampling overrides); an inference-only variant speaks with the model of the variant TRAINED_BY names
VARIANTS = {
    "shipped": ("shipped: amharic.yaml (transliteration init, frozen base rows, 2 start_speech)", "amharic", {}, 2, 2,
                {}),
    "penalty2": ("  the same model, repetition penalty 2.0 (the v2 default)", None, {}, 2, 2,
                 {"repetition_penalty": 2.0}),
    "mean_init": ("new rows at the mean of the base rows", "amharic", {"init_new_rows": "mean"}, 2, 2, {}),
    "unfrozen": ("base text rows trained too", "amharic", {"freeze_base_text_rows": False}, 2, 2, {}),
    "one_bos": ("one start_speech, trained and spoken", "amharic", {}, 1, 1, {}),
    "mismatch": ("  trained with one, spoken with two (the old mismatch)", None, {}, 1, 2, {}),
    "lora": ("LoRA: amharic_lora.yaml (adapters + new text rows)", "amharic_lora", {}, 2, 2, {}),
}
TRAINED_BY = {"penalty2": "shipped", "mismatch": "one_bos"}


@dataclass
class Experiment:
    """Everything one run of the learnability experiment depends on (``bench/learnability.py``'s options)."""

    work: Path
    configs: Path  # the folder of the shipped training configs (configs/train)
    parts: Path | None = None  # a tiny stand-in base to take the tokenizer, voice encoder and S3Gen from
    variants: tuple[str, ...] = tuple(VARIANTS)
    speakers: int = 3
    consonants: tuple[str, ...] | None = DEFAULT_CONSONANTS
    orders: tuple[int, ...] | None = DEFAULT_ORDERS
    durations: bool = True  # phone durations by rule (False: one token a phone; learnt much sooner)
    lexicon: int = 60
    new_words: int = 10
    base_lexicon: int = 150
    max_words: int = 3
    max_syllables: int = 2
    train_sentences: int = 1000
    base_sentences: int = 8000
    held_out: int = 64
    base_steps: int = 4000
    steps: int = 600
    batch_size: int = 16
    base_lr: float = 3e-3
    lr: float = 2e-3
    lora_lr: float = 5e-3
    vocab_size: int = 100
    size: ModelSize = field(default_factory=lambda: ModelSize(hidden_size=128, layers=2, intermediate_size=256,
                                                              prompt_tokens=20))
    seed: int = 0
    device: str = "cpu"  # on a GPU the fine-tunes run in bf16
    curve_every: int = 250  # base learning curve: held-out base-language CER every this many steps


@contextlib.contextmanager
def bos_copies(n: int):
    """The layout's start_speech copies for a whole run (training and speaking read it at call time)."""
    from amharic_tts.model import loss

    saved, loss.SPEECH_BOS_COPIES = loss.SPEECH_BOS_COPIES, n
    try:
        yield
    finally:
        loss.SPEECH_BOS_COPIES = saved


@contextlib.contextmanager
def quiet():
    """Training and loading log at INFO for every library; the experiment reports its own progress."""
    names = ("", "amharic_tts", "amharic_tts.train", "transformers", "accelerate", "datasets")
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


def run_experiment(exp: Experiment, log=print) -> dict:
    """Pretrain (or reuse) the base, build the tokenizer and dataset, fine-tune and speak every variant: the
    numbers of the table, as a dict (see :func:`markdown`)."""
    from amharic_tts.model.base import load_t3
    from amharic_tts.model.generate import SamplingConfig
    from amharic_tts.model.vocab import extend_for_tokenizer
    from amharic_tts.testing.tiny_base import build_tiny_base
    from amharic_tts.text.tokenizer import AmharicTokenizer, TokenizerBuildConfig, build_tokenizer

    started = time.time()
    work = Path(exp.work)
    work.mkdir(parents=True, exist_ok=True)
    unknown = [v for v in exp.variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    language = SyntheticLanguage(speakers=exp.speakers, seed=exp.seed, consonants=exp.consonants, orders=exp.orders,
                                 durations=exp.durations)
    shape = dict(max_words=exp.max_words, max_syllables=exp.max_syllables)
    amharic = make_corpus(language, train=exp.train_sentences, held_out=exp.held_out, lexicon=exp.lexicon,
                          new_words=exp.new_words, seed=exp.seed, **shape)
    base_corpus = make_corpus(language, train=exp.base_sentences, held_out=exp.held_out, lexicon=exp.base_lexicon,
                              new_words=exp.new_words, seed=exp.seed + 1, **shape)
    language_key = (exp.speakers, exp.consonants, exp.orders, exp.durations, exp.seed, shape)
    parts = exp.parts or work / "parts"
    if not (parts / "s3gen.pt").is_file():
        log("building the stand-in base's unchanged parts (tokenizer, voice encoder, S3Gen, default voice)")
        build_tiny_base(parts, components=("tokenizer", "ve", "s3gen", "conds"), seed=exp.seed)
    timings: dict[str, float] = {}
    result: dict = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(exp).items()},
                    "language": {"syllables": len(language.syllables), "phones": len(language.phones)},
                    "timings": timings, "rows": {}}
    base_tok = base_tokenizer((parts / "grapheme_mtl_merged_expanded_v1.json").read_text(encoding="utf-8"))
    base_prompts = {speaker: text for text, speaker in base_corpus.prompts}
    greedy = SamplingConfig(greedy=True)

    def base_cer(t3) -> float:
        return scores(language, speak_base(t3, base_tok, language, base_corpus.held_out[:16], base_prompts,
                                           sampling=greedy, seed=exp.seed))["cer"]

    base_key = _digest(language_key, asdict(exp.size), exp.base_sentences, exp.base_lexicon, exp.base_steps,
                       exp.batch_size, exp.base_lr)
    base_dir = work / f"base-{base_key}"
    curve_file = base_dir / "learning_curve.json"
    if not (base_dir / "t3_config.json").is_file():
        log(f"pretraining the base on the base language ({exp.base_steps} steps) -> {base_dir}")
        curve = []

        def evaluate(t3):
            curve.append(base_cer(t3))
            return f"base-language CER {curve[-1]}%"

        t0 = time.time()
        pretrain_base(base_dir, parts, language, base_corpus.train, size=exp.size, steps=exp.base_steps,
                      batch_size=exp.batch_size, learning_rate=exp.base_lr, seed=exp.seed, log=log,
                      every=exp.curve_every, evaluate=evaluate if exp.curve_every else None, device=exp.device)
        timings["base_pretraining_s"] = round(time.time() - t0, 1)
        curve_file.write_text(json.dumps({"every": exp.curve_every, "cer": curve}) + "\n", encoding="utf-8")
    if curve_file.is_file():
        result["base_learning_curve"] = json.loads(curve_file.read_text(encoding="utf-8"))
    data_dir = work / f"data-{_digest(language_key, exp.train_sentences, exp.lexicon)}"
    if not (data_dir / "dataset_dict.json").is_file():
        write_dataset(data_dir, language, {"train": amharic.train, "validation": amharic.validation},
                      seed=exp.seed)
    tokenizer_dir = work / f"tokenizer-{_digest(language_key, exp.train_sentences, exp.lexicon, exp.vocab_size)}"
    if not (tokenizer_dir / "tokenizer.json").is_file():
        with quiet():
            build_tokenizer([text for text, _ in amharic.train],
                            (parts / "grapheme_mtl_merged_expanded_v1.json").read_text(encoding="utf-8"),
                            tokenizer_dir, TokenizerBuildConfig(vocab_size=exp.vocab_size))
    prompts = {speaker: text for text, speaker in amharic.prompts}  # one other utterance per speaker

    # before fine-tuning: the base on its own language, and on Amharic with the extended vocabulary
    tokenizer = AmharicTokenizer.from_dir(tokenizer_dir)
    with quiet():
        base_t3 = load_t3(base_dir).to(exp.device)
        untrained = extend_for_tokenizer(load_t3(base_dir), tokenizer).to(exp.device).eval()
    result["before"] = {
        "base_language": scores(language, speak_base(base_t3, base_tok, language, base_corpus.held_out,
                                                     base_prompts, sampling=greedy, seed=exp.seed)),
        "amharic": scores(language, speak_ids(untrained, [tokenizer.text_ids(t) for t, _ in amharic.held_out],
                                              language, amharic.held_out, prompts, sampling=greedy, seed=exp.seed)),
    }
    log(f"before fine-tuning: {json.dumps(result['before'])}")

    trained: dict[str, Path] = {}
    for name in exp.variants:
        label, _, _, _, speak_bos, sampling_overrides = VARIANTS[name]
        source = TRAINED_BY.get(name, name)
        if source not in trained:
            _, config, overrides, train_bos, _, _ = VARIANTS[source]
            settings = finetune_settings(
                exp.configs / f"{config}.yaml", base_dir=base_dir, tokenizer_dir=tokenizer_dir, data_dir=data_dir,
                output_dir=work / "runs" / source, steps=exp.steps, batch_size=exp.batch_size,
                learning_rate=exp.lora_lr if config == "amharic_lora" else exp.lr, seed=exp.seed,
                device=exp.device, min_prompt_tokens=exp.size.min_prompt_tokens(),
                **({"bf16": True} if exp.device != "cpu" else {}), **overrides)
            log(f"fine-tuning {source} ({exp.steps} steps, {config}.yaml)")
            t0 = time.time()
            with bos_copies(train_bos), quiet():
                trained[source] = finetune(settings)
            timings[f"train_{source}_s"] = round(time.time() - t0, 1)
        t0 = time.time()
        row = speak_variant(trained[source], exp, language, amharic, base_corpus, prompts, base_prompts, base_tok,
                            speak_bos, sampling_overrides)
        timings[f"speak_{name}_s"] = round(time.time() - t0, 1)
        row["label"] = label
        result["rows"][name] = row
        log(f"{name}: {json.dumps({k: v for k, v in row.items() if k != 'label'})}")
    timings["total_s"] = round(time.time() - started, 1)
    return result


def speak_ids(t3, text_ids, language, items, prompts, *, sampling, seed: int = 0) -> list[Spoken]:
    """Text ids through the decoder directly (for a model that is no ``AmharicTTS`` yet)."""
    from amharic_tts.model.generate import SpeechRequest, generate_many

    requests, expected = [], []
    for i, ((text, speaker), ids) in enumerate(zip(items, text_ids)):
        voice = voice_for(language, prompts[speaker], speaker, t3.hp.speech_cond_prompt_len, seed + i)
        expected.append(len(language.speech_tokens(text, speaker)))
        requests.append(SpeechRequest(torch.tensor(ids), voice.t3, max_new_tokens=2 * expected[-1] + 25,
                                      generator=torch.Generator().manual_seed(seed + i)))
    results = generate_many(t3.eval(), requests, sampling=sampling, batch_sentences=SPEAK_BATCH)
    return [Spoken(text, speaker, result.tokens.tolist(), result.stopped, n)
            for (text, speaker), result, n in zip(items, results, expected)]


def speak_variant(run_dir, exp: Experiment, language, amharic, base_corpus, prompts, base_prompts, base_tok,
                  speak_bos: int, sampling_overrides: dict) -> dict:
    from amharic_tts.inference import AmharicTTS, GenerationConfig

    with quiet():
        tts = AmharicTTS.from_pretrained(run_dir, device=exp.device, watermark=False)
    sampled = GenerationConfig(**sampling_overrides)
    greedy = GenerationConfig(greedy=True, **sampling_overrides)
    with bos_copies(speak_bos), quiet():
        return {
            "held_out": scores(language, speak_amharic(tts, language, amharic.held_out, prompts, sampling=sampled,
                                                       seed=exp.seed)),
            "held_out_greedy": scores(language, speak_amharic(tts, language, amharic.held_out, prompts,
                                                              sampling=greedy, seed=exp.seed)),
            "unseen_words": scores(language, speak_amharic(tts, language, amharic.unseen_words, prompts,
                                                           sampling=sampled, seed=exp.seed)),
            "base_language_after": scores(language, speak_base(tts.t3, base_tok, language, base_corpus.held_out,
                                                               base_prompts, sampling=greedy, seed=exp.seed)),
        }


def markdown(result: dict) -> str:
    """The table the README quotes."""
    before = result["before"]
    lines = [
        "| variant | held-out CER, sampled | held-out CER, greedy | unseen-word CER, sampled | speaker accuracy | "
        "stop accuracy | base-language CER after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| the extended base before fine-tuning (greedy) | – | {before['amharic']['cer']} | – | "
        f"{before['amharic']['speaker_accuracy']} | {before['amharic']['stop_accuracy']} | "
        f"{before['base_language']['cer']} (before) |",
    ]
    for row in result["rows"].values():
        held, greedy, unseen, base = (row["held_out"], row["held_out_greedy"], row["unseen_words"],
                                      row["base_language_after"])
        lines.append(f"| {row['label']} | {held['cer']} | {greedy['cer']} | {unseen['cer']} | "
                     f"{held['speaker_accuracy']} | {held['stop_accuracy']} | {base['cer']} |")
    s = result["settings"]
    curve = result.get("base_learning_curve")
    lines += ["", f"All numbers in %. Language: {result['language']['syllables']} syllables, {s['speakers']} speakers; "
              f"{s['train_sentences']} Amharic training sentences, {s['held_out']} held-out sentences of each kind. "
              f"Base pretrained {s['base_steps']} steps, each variant fine-tuned {s['steps']} steps of "
              f"{s['batch_size']} sentences. Model: {s['size']}. {result['timings'].get('total_s', 0) / 60:.1f} min "
              "in all (a cached base is not pretrained again)."]
    if curve and curve.get("cer"):
        lines.append(f"Base-language CER while pretraining, every {curve['every']} steps: "
                     f"{', '.join(str(c) for c in curve['cer'])}.")
    return "\n".join(lines)
