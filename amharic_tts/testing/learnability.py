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

import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

VOWELS = ("e", "u", "i", "a", "ie", "ɨ", "o")  # the seven orders' vowels (the sixth is the short ɨ or none)
VOWEL_TOKENS = (2, 2, 2, 3, 3, 1, 3)  # tokens each vowel lasts
GLOTTAL = "ʔ"  # the consonant of the vowel carrier አ
PAUSE = "_"
WORD_PAUSE, SENTENCE_PAUSE = 2, 4
SPEAKER_EMBED_SIZE = 256


@dataclass
class SyntheticLanguage:
    """The syllabary, the phones, each speaker's speech tokens and voice; see the module docstring."""

    speakers: int = 4
    seed: int = 0
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
            for order in range(len(VOWELS)):
                letter = chr(start + order)
                if normalize(letter) != letter or claimed.setdefault(consonant, start) != start:
                    continue  # a homophone the normaliser folds, or a second series of the same consonant
                self.syllables[letter] = (consonant, order)
        self.letters = {value: letter for letter, value in self.syllables.items()}
        consonants = sorted({c for c, _ in self.syllables.values()})
        self.phones = [*consonants, *VOWELS, PAUSE]
        self._index = {phone: i for i, phone in enumerate(self.phones)}
        self._consonant_tokens = {c: 1 + i % 2 for i, c in enumerate(consonants)}
        rng = np.random.default_rng(self.seed)
        ids = rng.choice(6561, size=self.speakers * len(self.phones), replace=False)
        self.inventories = ids.reshape(self.speakers, len(self.phones))
        self._phone_of = {int(token): (speaker, self.phones[i]) for speaker, row in enumerate(self.inventories)
                          for i, token in enumerate(row)}
        voices = rng.normal(size=(self.speakers, SPEAKER_EMBED_SIZE))
        self.voices = voices / np.linalg.norm(voices, axis=1, keepdims=True)

    # ------------------------------------------------------------------------------------------- text

    def words(self, count: int, rng: random.Random, *, exclude: set[str] = frozenset()) -> list[str]:
        """``count`` distinct random words of 1 to 3 syllables, none in ``exclude``."""
        letters = sorted(self.syllables)
        words: list[str] = []
        seen = set(exclude)
        while len(words) < count:
            word = "".join(rng.choice(letters) for _ in range(rng.choices((1, 2, 3), (3, 5, 2))[0]))
            if word not in seen:
                seen.add(word)
                words.append(word)
        return words

    @staticmethod
    def sentences(words: Sequence[str], count: int, rng: random.Random, *, min_words: int = 2, max_words: int = 5,
                  must_use: Sequence[str] = (), exclude: set[str] = frozenset()) -> list[str]:
        """``count`` distinct sentences of ``words`` (each with one of ``must_use`` when given), none in
        ``exclude``, ending with ``።``."""
        out: list[str] = []
        seen = set(exclude)
        while len(out) < count:
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
                runs.append((consonant, self._consonant_tokens[consonant]))
                runs.append((VOWELS[order], VOWEL_TOKENS[order] + (s == len(word) - 1)))
            runs.append((PAUSE, SENTENCE_PAUSE if w == len(words) - 1 else WORD_PAUSE))
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
                seed: int = 0, min_words: int = 2, max_words: int = 5) -> Corpus:
    rng = random.Random(f"corpus:{seed}")
    known = language.words(lexicon, rng)
    unseen = language.words(new_words, rng, exclude=set(known))
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

    def config(self) -> dict:
        from amharic_tts.testing.tiny_base import tiny_t3_config_dict

        config = tiny_t3_config_dict(hidden_size=self.hidden_size, layers=self.layers,
                                     intermediate_size=self.intermediate_size, perceiver=self.perceiver,
                                     max_text_tokens=128, max_speech_tokens=256)
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
                  log=print) -> Path:
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
    t3 = build_t3(t3_config_from_dict(config)).train()
    rows = dataset_rows(language, items, text=language.latin, seed=seed, source="base")
    rows["text_ids"] = [base_text_ids(tokenizer, text) for text in rows["text"]]
    rows["_index"] = list(range(len(items)))
    data = datasets.Dataset.from_dict(rows)
    shipped = DataArguments()  # the dropouts and prompt shares training uses
    collator = T3Collator(data, start_speech=t3.hp.start_speech_token, stop_speech=t3.hp.stop_speech_token,
                          prompt_tokens=t3.hp.speech_cond_prompt_len, text_dropout=shipped.text_dropout,
                          prompt_dropout=shipped.prompt_dropout, speaker_dropout=shipped.speaker_dropout,
                          short_prompt_share=shipped.short_prompt_share, min_prompt_tokens=shipped.min_prompt_tokens,
                          seed=seed)
    optimizer = torch.optim.AdamW(t3.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    order = np.random.default_rng(seed)
    started, epoch, queue = time.time(), 0, []
    for step in range(steps):
        if len(queue) < batch_size:
            collator.epoch = epoch
            queue.extend(order.permutation(len(data)).tolist())
            epoch += 1
        chosen, queue = queue[:batch_size], queue[batch_size:]
        inputs = collator([data[i] for i in chosen])
        out = t3_loss(t3, T3Batch(**inputs))
        optimizer.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(t3.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"  base step {step:5d}  speech loss {out.speech_loss.item():.3f}  accuracy "
                f"{out.speech_accuracy.item():.3f}  ({time.time() - started:.0f} s)")
    base_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in t3.state_dict().items()}, str(base_dir / T3_CHECKPOINTS["v3"]))
    (base_dir / T3_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (base_dir / TOKENIZER_FILE).write_text(base_json, encoding="utf-8")
    for name in ("ve.pt", "s3gen.pt", "conds.pt"):
        if (parts_dir / name).exists() and not (base_dir / name).exists():
            (base_dir / name).symlink_to((parts_dir / name).resolve())
    return base_dir


# ----------------------------------------------------------------------------------------------- fine-tune


def finetune_settings(config_file: Path, *, base_dir: Path, tokenizer_dir: Path, data_dir: Path, output_dir: Path,
                      steps: int, batch_size: int, learning_rate: float, seed: int = 0, **overrides) -> dict:
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
        learning_rate=learning_rate, warmup_steps=max(1, steps // 20), use_cpu=True, eval_strategy="no",
        save_strategy="no", num_samples=0, logging_steps=max(1, steps // 10), dataloader_num_workers=0,
        report_to=[], seed=seed, disable_tqdm=True)
    settings.update(overrides)
    return settings


def finetune(settings: dict) -> Path:
    """Train with ``train_t3.py``'s own code (:func:`amharic_tts.training.run.train`); returns the run folder."""
    from amharic_tts.training import run
    from amharic_tts.training.args import parse_config

    code = run.train(*parse_config(settings, []))
    if code != 0:
        raise RuntimeError(f"training exited with {code}")
    return Path(settings["output_dir"])


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
    length guard and decoder), each in its speaker's voice from another utterance."""
    out = []
    for i, (text, speaker) in enumerate(items):
        voice = voice_for(language, prompts[speaker], speaker, tts.t3.hp.speech_cond_prompt_len, seed + i)
        (sentence,) = tts.sentences(text)
        with torch.random.fork_rng():
            torch.manual_seed(seed + i)
            result = tts.decode(sentence, voice, sampling)
        out.append(Spoken(text, speaker, result.tokens.tolist(), result.stopped,
                          len(language.speech_tokens(text, speaker))))
    return out


def speak_base(t3, tokenizer, language: SyntheticLanguage, items: Sequence[tuple[str, int]], prompts: dict[int, str],
               *, sampling, seed: int = 0) -> list[Spoken]:
    """Held-out base-language (Latin) sentences through the same decoder, for the forgetting check."""
    from amharic_tts.model.generate import generate_speech_tokens

    out = []
    for i, (text, speaker) in enumerate(items):
        voice = voice_for(language, prompts[speaker], speaker, t3.hp.speech_cond_prompt_len, seed + i)
        ids = torch.tensor(base_text_ids(tokenizer, language.latin(text)))
        expected = len(language.speech_tokens(text, speaker))
        with torch.random.fork_rng():
            torch.manual_seed(seed + i)
            result = generate_speech_tokens(t3.eval(), ids, voice.t3, sampling=sampling,
                                            max_new_tokens=2 * expected + 25)
        out.append(Spoken(text, speaker, result.tokens.tolist(), result.stopped, expected))
    return out


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
