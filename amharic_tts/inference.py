"""``AmharicTTS``: load a fine-tuned Amharic Chatterbox and speak.

    from amharic_tts import AmharicTTS

    tts = AmharicTTS.from_pretrained("user/chatterbox-amharic")      # a Hub repo, an exported folder,
    wav, sr = tts.generate("ሰላም ነው። እንዴት ነህ?", seed=0)              # or a training run / checkpoint folder

What a model folder holds is described in :mod:`amharic_tts.formats` (written by :mod:`amharic_tts.export`).

Upstream's ``ChatterboxMultilingualTTS`` refuses language ids outside its 23 and only loads 2454 text ids, so
generation is built here from upstream's parts: T3 decoded by :mod:`amharic_tts.model.generate` (the training
layout with a KV cache, upstream's v3 sampling recipe) and ``S3Gen``. Text is normalised with the settings saved
with the tokenizer at training time, split into sentences, decoded together in batches (each sentence as it would
be alone) and joined with short pauses; :meth:`AmharicTTS.stream` yields each sentence's audio as soon as it is
ready. Output carries upstream's imperceptible Perth watermark (as upstream's own ``generate`` does) unless
``watermark=False``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from amharic_tts.formats import (MODEL_CONFIG_FILE, MODEL_FORMAT, T3_FILE, TOKENIZER_DIR, TOKENIZER_FILES,
                                 WEIGHTS_FILE, ModelLoadError, check_layout, find_run_dir, load_exported_t3,
                                 load_tokenizer, load_trained_t3, read_model_config, read_train_config)
from amharic_tts.model.base import BaseModelError
from amharic_tts.model.generate import (BATCH_SENTENCES, TOKEN_BUDGET, SamplingConfig, SpeechRequest, decode,
                                        in_order, speech_only)
from amharic_tts.model.voice import (MIN_VOCODER_TOKENS, S3GEN_RATE, load_reference, make_conditionals, vocode,
                                     with_exaggeration)

logger = logging.getLogger(__name__)

SPEECH_TOKEN_RATE = 25  # S3 tokens per second
# A guard against a model that never says stop: at most this much speech per character of text (+ 1 s).
MAX_SECONDS_PER_CHARACTER = 0.3
_LETTER = re.compile(r"[\u1200-\u135Aa-zA-Z\u00C0-\u024F]")


class TextError(ValueError):
    """Text that cannot be spoken (empty, or no Amharic or Latin letters)."""


@dataclass
class GenerationConfig(SamplingConfig):
    """Sampling settings (upstream's v3 recipe, :class:`SamplingConfig`), the voice's exaggeration and the pause
    between sentences."""

    exaggeration: float = 0.5
    sentence_pause: float = 0.25  # seconds of silence between sentences


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class AmharicTTS:
    sr = S3GEN_RATE

    def __init__(self, t3, tokenizer, *, s3gen, ve, default_voice=None, config: dict | None = None,
                 device: str = "cpu", watermark: bool = True, dtype: str | torch.dtype | None = None):
        self.t3 = (t3.to(device) if dtype is None else t3.to(device=device, dtype=t3_dtype(dtype))).eval()
        self.tokenizer = tokenizer
        self.s3gen = s3gen.to(device).eval()
        self.ve = ve.to(device).eval()
        self.default_voice = default_voice
        self.config = config or {}
        self.device = device
        self.watermark = watermark
        self._watermarker = None
        self._voices: dict[tuple, object] = {}

    # ----------------------------------------------------------------------------------------- loading

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, device: str | None = None,
                        revision: str | None = None, token: str | bool | None = None,
                        watermark: bool = True, dtype: str | torch.dtype | None = None) -> "AmharicTTS":
        """Load an exported model (Hub repo id or folder), or a training run / checkpoint folder.

        ``dtype`` is T3's ("float32" by default; "bfloat16" decodes much faster on a GPU and on CPUs with AMX or
        AVX-512 bf16, at bf16 precision); S3Gen and the voice encoder stay in float32."""
        from amharic_tts.model.base import resolve_base_dir

        device = device or default_device()
        path = Path(name_or_path).expanduser()
        exported = path.is_dir() and (path / MODEL_CONFIG_FILE).is_file()  # also OUTPUT/export inside a run
        if path.is_dir() and not exported and find_run_dir(path) is not None:
            return cls._from_training_run(path, device=device, watermark=watermark, dtype=dtype)
        if not path.exists() and str(name_or_path).count("/") != 1:
            raise ModelLoadError(f"{name_or_path} is neither a model folder nor a Hub repo id (user/name)")
        try:
            folder = resolve_base_dir(name_or_path, [MODEL_CONFIG_FILE, T3_FILE, *TOKENIZER_FILES],
                                      optional=["ve.pt", "s3gen.pt", "conds.pt"], revision=revision, token=token,
                                      kind="Amharic model",
                                      layout="a folder written by `python -m amharic_tts.export` (or a training "
                                             "run's output folder)")
        except BaseModelError as err:
            raise ModelLoadError(str(err)) from err
        config = read_model_config(folder)
        check_layout(config.get("speech_layout"), folder)
        t3 = load_exported_t3(folder, config)
        tokenizer = load_tokenizer(folder, t3.hp.text_tokens_dict_size)
        base = {"name_or_path": config.get("base_model", "ResembleAI/chatterbox"),
                "revision": config.get("base_revision")}
        return cls._assemble(t3, tokenizer, folder=folder, base=base, config=config, device=device,
                             watermark=watermark, dtype=dtype)

    @classmethod
    def _from_training_run(cls, path: Path, *, device: str, watermark: bool, dtype=None) -> "AmharicTTS":
        run_dir = find_run_dir(path)
        if not (path / WEIGHTS_FILE).is_file():
            raise ModelLoadError(f"{path} holds no {WEIGHTS_FILE}: pass a checkpoint-N folder or a finished "
                                 "run's output folder")
        train_config = read_train_config(run_dir)
        check_layout(train_config.get("speech_layout"), run_dir)
        t3 = load_trained_t3(path)
        tokenizer = load_tokenizer(run_dir / TOKENIZER_DIR, t3.hp.text_tokens_dict_size)
        model = train_config.get("model", {})
        base = {"name_or_path": model.get("base_model", "ResembleAI/chatterbox"),
                "revision": model.get("base_revision")}
        config = {"format": MODEL_FORMAT, "base_model": base["name_or_path"], "base_revision": base["revision"],
                  "normalizer": tokenizer.config.get("normalizer"), "source": str(path)}
        return cls._assemble(t3, tokenizer, folder=None, base=base, config=config, device=device,
                             watermark=watermark, dtype=dtype)

    @classmethod
    def _assemble(cls, t3, tokenizer, *, folder: Path | None, base: dict, config: dict, device: str,
                  watermark: bool, dtype=None) -> "AmharicTTS":
        from amharic_tts.model.base import load_default_voice, load_s3gen, load_voice_encoder

        def source(filename: str) -> dict:
            """The exported folder when it includes the part, else the base repo it names."""
            if folder is not None and (folder / filename).is_file():
                return {"name_or_path": folder}
            return dict(base)

        try:
            s3gen = load_s3gen(**source("s3gen.pt"), device=device)
            ve = load_voice_encoder(**source("ve.pt"), device=device)
        except BaseModelError as err:
            raise ModelLoadError(f"cannot load the unchanged base parts (S3Gen, voice encoder): {err}") from err
        try:
            voice = load_default_voice(**source("conds.pt"), device=device)
        except BaseModelError as err:
            logger.warning("no default voice (%s): pass a reference clip to generate()", err)
            voice = None
        return cls(t3, tokenizer, s3gen=s3gen, ve=ve, default_voice=voice, config=config, device=device,
                   watermark=watermark, dtype=dtype)

    # ----------------------------------------------------------------------------------------- voices

    def voice(self, audio_prompt_path: str | os.PathLike | None = None, exaggeration: float = 0.5):
        """Conditionals for a reference clip (cached per file), or the default voice."""
        if audio_prompt_path is None:
            if self.default_voice is None:
                raise ModelLoadError("this model has no default voice (conds.pt): pass a reference clip "
                                     "(audio_prompt_path / --reference)")
            return with_exaggeration(self.default_voice, exaggeration)
        path = Path(audio_prompt_path).expanduser()
        key = (str(path.resolve()), path.stat().st_mtime_ns if path.is_file() else None)
        if key not in self._voices:
            audio = load_reference(path)
            self._voices[key] = make_conditionals(audio, S3GEN_RATE, ve=self.ve, s3gen=self.s3gen,
                                                  prompt_tokens=self.t3.hp.speech_cond_prompt_len,
                                                  device=self.device)
        return with_exaggeration(self._voices[key], exaggeration)

    # ----------------------------------------------------------------------------------------- text

    def sentences(self, text: str, max_chars: int = 200) -> list[str]:
        """Normalised sentences of ``text`` (the training-time normaliser), checked to be speakable."""
        from amharic_tts.text.normalize import split_sentences

        if not text or not text.strip():
            raise TextError("the text is empty")
        normalized = self.tokenizer.normalize(text)
        if not _LETTER.search(normalized):
            raise TextError(f"the text {text[:60]!r} has no Amharic or Latin letters to speak")
        return [s for s in split_sentences(normalized, max_chars=max_chars) if _LETTER.search(s)]

    def text_tokens(self, sentence: str) -> torch.Tensor:
        ids = self.tokenizer.text_ids(sentence, normalized=True)
        limit = self.t3.hp.max_text_tokens
        if len(ids) > limit:
            raise TextError(f"a sentence of {len(ids)} text tokens is longer than the model's {limit}: "
                            "split the text into shorter sentences")
        return torch.tensor(ids, dtype=torch.long, device=self.device)

    # ----------------------------------------------------------------------------------------- speaking

    def length_guard(self, sentence: str, max_new_tokens: int | None = None) -> int:
        """The most speech tokens a sentence may take (a guard against a model that never says stop)."""
        if max_new_tokens is None:
            max_new_tokens = int(SPEECH_TOKEN_RATE * (1.0 + MAX_SECONDS_PER_CHARACTER * len(sentence)))
        return max(1, min(max_new_tokens, self.t3.hp.max_speech_tokens))

    def request(self, sentence: str, voice, *, seed: int | None = None, index: int = 0,
                max_new_tokens: int | None = None) -> SpeechRequest:
        """What the decoder needs for one normalised sentence. With ``seed``, the sentence draws from its own
        generator (seeded by ``seed`` and its ``index`` in the text), so its speech does not depend on what it is
        batched with."""
        generator = None
        if seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(_sentence_seed(seed, index))
        return SpeechRequest(self.text_tokens(sentence), voice.t3, max_new_tokens=self.length_guard(
            sentence, max_new_tokens), generator=generator)

    @torch.inference_mode()
    def vocode(self, tokens: torch.Tensor, voice) -> np.ndarray:
        """24 kHz waveform of speech tokens in the voice's timbre (:func:`amharic_tts.model.voice.vocode`: the
        last token's audio is left out, as upstream's v3 recipe does); empty for fewer than 2 tokens."""
        return vocode(self.s3gen, tokens, voice.gen)

    def speak(self, sentences: list[tuple[str, object, int | None, int]], config: SamplingConfig, *,
              max_new_tokens: int | None = None, batch_size: int = BATCH_SENTENCES,
              token_budget: int = TOKEN_BUDGET) -> Iterator[tuple[int, np.ndarray | None]]:
        """The audio of many normalised sentences, ``(index, 24 kHz waveform or None when the model said
        nothing)``, in order, each as soon as it and those before it are decoded and vocoded.

        ``sentences`` are ``(sentence, voice, seed, index within its text)``. All of them go through the batched
        decoder (:func:`amharic_tts.model.generate.decode`, at most ``batch_size`` sentences and ``token_budget``
        KV-cache positions at a time); a finished sentence is vocoded while the rest of its batch is still to be
        decoded. With a seed, the vocoder's random draws are seeded per sentence too, so every sentence's audio
        is the same whatever it is batched with.
        """
        requests = [self.request(text, voice, seed=seed, index=index, max_new_tokens=max_new_tokens)
                    for text, voice, seed, index in sentences]
        decoded = decode(self.t3, requests, sampling=config, batch_sentences=batch_size, token_budget=token_budget)
        for k, result in in_order(decoded):
            text, voice, seed, index = sentences[k]
            self._check_stopped(result, requests[k], text)
            tokens = speech_only(result.tokens, self.t3.hp)
            if len(tokens) < MIN_VOCODER_TOKENS:
                logger.warning("the model produced no speech for %r (%d speech tokens)", text[:60], len(tokens))
                yield k, None
                continue
            if seed is None:
                yield k, self.vocode(tokens, voice)
                continue
            devices = [torch.device(self.device)] if torch.device(self.device).type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(_sentence_seed(seed, index))
                wav = self.vocode(tokens, voice)
            yield k, wav

    def _check_stopped(self, result, request: SpeechRequest, sentence: str) -> None:
        if not result.stopped:
            logger.warning("no stop token after %d speech tokens (%.1f s) for %r: cut there", request.max_new_tokens,
                           request.max_new_tokens / SPEECH_TOKEN_RATE, sentence[:60])

    def stream_many(self, texts: list[str], audio_prompt_paths: list | None = None, *,
                    seeds: list[int | None] | None = None, exaggeration: float = 0.5, cfg_weight: float = 0.5,
                    temperature: float = 0.8, repetition_penalty: float = 1.2, min_p: float = 0.05,
                    top_p: float = 1.0, sentence_pause: float = 0.25, max_new_tokens: int | None = None,
                    batch_size: int = BATCH_SENTENCES,
                    token_budget: int = TOKEN_BUDGET) -> Iterator[tuple[int, torch.Tensor]]:
        """Speak many texts, ``(index, waveform of shape (1, samples))`` in order, each as soon as it is ready.

        The sentences of all texts are decoded together in batches (see :meth:`speak`); ``audio_prompt_paths``
        and ``seeds`` give each text its voice (None: the default voice) and seed; the other settings are
        :meth:`generate`'s. A text's audio is exactly what :meth:`generate` gives for it with the same seed.
        Raises :class:`TextError` (before any work) when a text cannot be spoken.
        """
        config = GenerationConfig(temperature=temperature, cfg_weight=cfg_weight,
                                  repetition_penalty=repetition_penalty, min_p=min_p, top_p=top_p,
                                  exaggeration=exaggeration, sentence_pause=sentence_pause)
        config.check()
        paths = list(audio_prompt_paths) if audio_prompt_paths is not None else [None] * len(texts)
        seeds = list(seeds) if seeds is not None else [None] * len(texts)
        if not len(paths) == len(seeds) == len(texts):
            raise ValueError(f"{len(texts)} texts, {len(paths)} voices and {len(seeds)} seeds do not match")
        jobs, owner = [], []
        for t, (text, path, seed) in enumerate(zip(texts, paths, seeds)):
            voice = self.voice(path, exaggeration)
            for index, sentence in enumerate(self.sentences(text)):
                jobs.append((sentence, voice, seed, index))
                owner.append(t)
        remaining = [owner.count(t) for t in range(len(texts))]
        pieces: list[list[np.ndarray]] = [[] for _ in texts]
        done = 0
        pause = np.zeros(int(config.sentence_pause * self.sr), dtype=np.float32)
        for k, wav in self.speak(jobs, config, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                 token_budget=token_budget):
            t = owner[k]
            if wav is not None:
                pieces[t] += [pause, wav] if pieces[t] else [wav]
            remaining[t] -= 1
            while done < len(texts) and remaining[done] == 0:
                yield done, self._finish(pieces[done], seeds[done])
                pieces[done] = []
                done += 1
        while done < len(texts):  # texts without a speakable sentence
            yield done, self._finish(pieces[done], seeds[done])
            done += 1

    def generate_many(self, texts: list[str], audio_prompt_paths: list | None = None, **options) \
            -> list[torch.Tensor]:
        """:meth:`stream_many` as a list of waveforms (1, samples) at :attr:`sr`."""
        return [wav for _, wav in self.stream_many(texts, audio_prompt_paths, **options)]

    def stream(self, text: str, audio_prompt_path: str | os.PathLike | None = None, *, seed: int | None = None,
               **options) -> Iterator[torch.Tensor]:
        """Speak ``text`` sentence by sentence: each sentence's audio (1, samples) at 24 kHz as soon as it is
        ready, in order (the sentences are decoded together, so the first is heard long before the last is done).
        Every piece after the first starts with the pause between sentences, so the pieces joined are
        :meth:`generate`'s audio (with ``watermark=False``; each piece is watermarked on its own otherwise).
        Options as :meth:`generate`."""
        sentence_pause = options.pop("sentence_pause", 0.25)
        exaggeration = options.pop("exaggeration", 0.5)
        max_new_tokens = options.pop("max_new_tokens", None)
        batch_size = options.pop("batch_size", BATCH_SENTENCES)
        token_budget = options.pop("token_budget", TOKEN_BUDGET)
        config = GenerationConfig(exaggeration=exaggeration, sentence_pause=sentence_pause, **options)
        config.check()
        voice = self.voice(audio_prompt_path, exaggeration)
        jobs = [(sentence, voice, seed, index) for index, sentence in enumerate(self.sentences(text))]
        pause = np.zeros(int(sentence_pause * self.sr), dtype=np.float32)
        started = False
        for _, wav in self.speak(jobs, config, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                 token_budget=token_budget):
            if wav is None:
                continue
            yield self._finish([pause, wav] if started else [wav], seed)
            started = True

    def generate(self, text: str, audio_prompt_path: str | os.PathLike | None = None, *,
                 exaggeration: float = 0.5, cfg_weight: float = 0.5, temperature: float = 0.8,
                 repetition_penalty: float = 1.2, min_p: float = 0.05, top_p: float = 1.0,
                 seed: int | None = None, sentence_pause: float = 0.25, max_new_tokens: int | None = None,
                 batch_size: int = BATCH_SENTENCES, token_budget: int = TOKEN_BUDGET) -> tuple[torch.Tensor, int]:
        """Speak ``text``: ``(waveform of shape (1, samples), 24000)``.

        ``audio_prompt_path`` clones the voice of a clip (3-10 s of clean speech); without it the default voice
        speaks. ``seed`` makes the result repeatable without touching the caller's random state. The sampling
        defaults are upstream's v3 recipe (repetition penalty 1.2). The sentences are decoded together, at most
        ``batch_size`` at a time within ``token_budget`` KV-cache positions (more is faster, on a GPU especially,
        and needs more memory); in float32, batching never changes the result for a given seed (in bfloat16, rounding
        depends on the batch's shape).
        """
        devices = [torch.device(self.device)] if torch.device(self.device).type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # the caller's random state is left as it was
            (_, wav), = self.stream_many([text], [audio_prompt_path], seeds=[seed], exaggeration=exaggeration,
                                         cfg_weight=cfg_weight, temperature=temperature,
                                         repetition_penalty=repetition_penalty, min_p=min_p, top_p=top_p,
                                         sentence_pause=sentence_pause, max_new_tokens=max_new_tokens,
                                         batch_size=batch_size, token_budget=token_budget)
        return wav, self.sr

    def _finish(self, pieces: list[np.ndarray], seed: int | None) -> torch.Tensor:
        """Pieces of audio joined and watermarked (with ``seed``, repeatably): (1, samples) float32."""
        wav = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        if self.watermark and len(wav):
            with torch.random.fork_rng(devices=[]):
                if seed is not None:
                    torch.manual_seed(seed)
                wav = self._watermark(wav)
        return torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[None]

    def _watermark(self, wav: np.ndarray) -> np.ndarray:
        if self._watermarker is None:
            import contextlib
            import io

            import perth

            with contextlib.redirect_stdout(io.StringIO()) as printed:  # its "loaded PerthNet ..." line
                self._watermarker = perth.PerthImplicitWatermarker()
            logger.debug("watermarker: %s", printed.getvalue().strip())
        return np.asarray(self._watermarker.apply_watermark(wav, sample_rate=self.sr), dtype=np.float32)


# --------------------------------------------------------------------------------------------- helpers


T3_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def t3_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """T3's dtype from a name ("float32", "bfloat16", "float16") or a torch dtype."""
    if isinstance(dtype, torch.dtype) and dtype in T3_DTYPES.values():
        return dtype
    if dtype in T3_DTYPES:
        return T3_DTYPES[dtype]
    raise ValueError(f"dtype must be one of {', '.join(T3_DTYPES)}, got {dtype!r}")


def _sentence_seed(seed: int, index: int) -> int:
    """The seed of sentence ``index`` of a text spoken with ``seed`` (distinct for every pair)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])
