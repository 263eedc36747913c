"""Speech recognition for the intelligibility metric: a CTC model that writes Amharic in Ethiopic script.

Synthesised sentences are transcribed and compared with the text they should say
(:mod:`amharic_tts.evaluation.metrics`). The recogniser must be good at Amharic and write Ethiopic letters, and
it must not "fix" what the TTS model got wrong; a CTC model decoded greedily (the most likely token in every
frame, repeats merged, blanks dropped) has no language model to smooth over mispronunciations.

- Default: ``facebook/mms-1b-all`` (Massively Multilingual Speech, one wav2vec2 model with a small adapter and
  output vocabulary per language). :class:`CTCTranscriber` selects the ``amh`` vocabulary
  (``processor.tokenizer.set_target_lang``) and adapter (``model.load_adapter``).
- Any single-language CTC fine-tune with a ``Wav2Vec2CTCTokenizer`` (wav2vec2/XLS-R, HuBERT, WavLM, w2v-BERT 2.0
  Amharic models, ...) is loaded as it is; ``target_lang`` is then ignored.
- Whisper is deliberately not supported: zero-shot Whisper transcribes Amharic so badly (CER above 100 %,
  often not even in Ethiopic script) that the score would measure Whisper, not the voice.

Loading problems (no such directory, offline and not cached, no access, not a CTC model, no ``amh`` adapter)
raise :class:`ASRModelError` with a message that says what to do, not a traceback from deep inside transformers.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_ASR_MODEL = "facebook/mms-1b-all"
MIN_SECONDS = 0.1
"""Shorter inputs are zero-padded to this length: the convolutional front end needs a minimum number of samples."""


class ASRModelError(RuntimeError):
    """The ASR model could not be loaded or does not fit (the message says why and what to do)."""


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0].rstrip(".") if text else type(error).__name__


def _load_error(name: str, what: str, error: Exception) -> ASRModelError:
    """An :class:`ASRModelError` for a failed ``from_pretrained``, with the likely cause and the fix."""
    detail = _first_line(error)
    if Path(name).expanduser().is_dir():
        return ASRModelError(f"could not load the ASR {what} from the directory {name}: {detail}. It must hold a CTC "
                             "model and its processor as save_pretrained writes them (config.json, weights, "
                             "vocab.json, tokenizer and preprocessor configs)")
    if not _HUB_ID.match(name):
        return ASRModelError(f"ASR model directory {name} does not exist: pass a directory written by "
                             f"save_pretrained or a Hub model id such as {DEFAULT_ASR_MODEL}")
    not_a_dir = f" (if {name} was meant as a local directory: there is none)"
    if _offline():
        return ASRModelError(f"could not load the ASR {what} of {name}: HF_HUB_OFFLINE is set and it is not in the "
                             f"local Hugging Face cache. Download it once where the Hub is reachable (hf download "
                             f"{name}), or pass a local directory{not_a_dir}. ({detail})")
    return ASRModelError(f"could not load the ASR {what} of {name}: {detail}. Check the model id and revision, "
                         f"your network, and for gated or private models your token (HF_TOKEN or hf auth login)"
                         f"{not_a_dir}")


def _has_ethiopic(tokens) -> bool:
    return any("\u1200" <= char <= "\u137f" for token in tokens for char in str(token))


class CTCTranscriber:
    """Greedy CTC transcription of waveforms with a Hugging Face CTC model (MMS by default, ``amh`` adapter).

    ``CTCTranscriber().transcribe([wav], sample_rate=24000)`` -> ``["..."]``. ``device`` defaults to CUDA when
    available. ``revision`` and ``token`` are passed to every Hub download (model, processor, adapter).
    """

    def __init__(self, model_name_or_path: str | os.PathLike = DEFAULT_ASR_MODEL, *, target_lang: str = "amh",
                 device: str | None = None, revision: str | None = None, token: str | bool | None = None):
        import torch
        from transformers import AutoConfig, AutoModelForCTC, AutoProcessor, Wav2Vec2CTCTokenizer
        from transformers.models.auto.modeling_auto import MODEL_FOR_CTC_MAPPING_NAMES

        name = str(model_name_or_path)
        hub = {"revision": revision, "token": token}
        try:
            config = AutoConfig.from_pretrained(name, **hub)
        except Exception as error:  # OSError, ValueError, JSON errors: all mean "cannot load", say which and why
            raise _load_error(name, "configuration", error) from None
        if config.model_type not in MODEL_FOR_CTC_MAPPING_NAMES:
            whisper = ""
            if "whisper" in config.model_type:
                whisper = " (Whisper is not supported on purpose: zero-shot it scores CER > 100 % on Amharic)"
            raise ASRModelError(f"{name} is a {config.model_type!r} model, not a CTC speech recogniser{whisper}: "
                                f"use {DEFAULT_ASR_MODEL} or an Amharic CTC fine-tune (wav2vec2, w2v-BERT, ...)")
        try:
            processor = AutoProcessor.from_pretrained(name, **hub)
        except Exception as error:
            try:  # a multilingual (MMS) vocabulary with no default language loads only with one named
                processor = AutoProcessor.from_pretrained(name, target_lang=target_lang, **hub)
            except Exception:
                raise _load_error(name, "processor", error) from None
        tokenizer = getattr(processor, "tokenizer", None)
        if not isinstance(tokenizer, Wav2Vec2CTCTokenizer) or not hasattr(processor, "feature_extractor"):
            raise ASRModelError(f"{name} has no CTC processor (a Wav2Vec2CTCTokenizer and a feature extractor), "
                                f"got {type(processor).__name__}: CTCTranscriber decodes character CTC models")
        try:
            model = AutoModelForCTC.from_pretrained(name, **hub)
        except Exception as error:
            raise _load_error(name, "model", error) from None

        self.language: str | None = None
        vocab = getattr(tokenizer, "vocab", None)
        if isinstance(vocab, dict) and vocab and all(isinstance(value, dict) for value in vocab.values()):
            # a multilingual (MMS) vocabulary: one {token: id} table per language
            if target_lang not in vocab:
                raise ASRModelError(f"{name} has no {target_lang!r} vocabulary (it has {len(vocab)} languages, e.g. "
                                    f"{', '.join(sorted(vocab)[:10])}): pass another target_lang or model")
            tokenizer.set_target_lang(target_lang)
            self.language = target_lang
        if getattr(model.config, "adapter_attn_dim", None) is not None and hasattr(model, "load_adapter"):
            try:
                model.load_adapter(target_lang, **hub)
            except Exception as error:
                raise ASRModelError(f"{name} has no adapter for {target_lang!r} (adapter.{target_lang}.safetensors) "
                                    f"or it could not be fetched: {_first_line(error)}. Pass the "
                                    "language code the model uses (ISO 639-3: amh) or, offline, download the "
                                    "adapter file into the cache first") from None
            self.language = target_lang
        if model.config.vocab_size > len(tokenizer):
            raise ASRModelError(f"{name}: the model predicts {model.config.vocab_size} tokens but its tokenizer has "
                                f"{len(tokenizer)}; the processor does not belong to this model"
                                f"{' or to this language' if self.language else ''}")
        if not _has_ethiopic(tokenizer.get_vocab()):
            logger.warning("the vocabulary of %s has no Ethiopic letters: its transcripts cannot match Amharic text "
                           "(CER near 100 %%); use a model that writes Ethiopic script", name)

        self.model_name = name
        self.processor = processor
        self.tokenizer = tokenizer
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.sample_rate = int(processor.feature_extractor.sampling_rate)
        blank = tokenizer.pad_token_id
        keep = {tokenizer.word_delimiter_token_id}
        # frames whose best token is the CTC blank or a special token (<unk>, <s>, ...) add no letter
        self._dropped_ids = {blank, *(i for i in tokenizer.all_special_ids if i not in keep)} - {None}

    def _prepare(self, wavs: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        import soxr

        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
        prepared = []
        for index, wav in enumerate(wavs):
            audio = np.asarray(wav, dtype=np.float32)
            if audio.ndim == 2 and 1 in audio.shape:
                audio = audio.reshape(-1)
            if audio.ndim != 1:
                raise ValueError(f"wavs[{index}] has shape {audio.shape}: pass mono audio as a 1-D array "
                                 "(downmix channels first, e.g. wav.mean(axis=0))")
            if not np.isfinite(audio).all():
                raise ValueError(f"wavs[{index}] contains NaN or infinite samples: the synthesised audio is broken")
            if sample_rate != self.sample_rate and audio.size:
                audio = soxr.resample(audio, sample_rate, self.sample_rate).astype(np.float32, copy=False)
            prepared.append(audio)
        return prepared

    def transcribe(self, wavs: Sequence[np.ndarray], sample_rate: int, batch_size: int = 8, *,
                   progress: bool = False) -> list[str]:
        """One transcript per waveform, in order (empty audio gives ``""``); ``progress``: a bar over them.

        ``wavs`` are mono float arrays at ``sample_rate`` Hz; they are resampled to the model's rate (16 kHz)
        with soxr. Batches of ``batch_size`` are formed from waveforms of similar length, so little padding is
        added; padded frames are cut off before decoding. Transcripts have single spaces between words.
        """
        import torch
        from tqdm.auto import tqdm

        if isinstance(wavs, np.ndarray) and wavs.ndim == 1:
            raise TypeError("wavs must be a list of waveforms; wrap a single waveform in a list")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        audio = self._prepare(wavs, sample_rate)
        minimum = int(round(MIN_SECONDS * self.sample_rate))
        transcripts = [""] * len(audio)
        todo = sorted((i for i, a in enumerate(audio) if a.size), key=lambda i: -audio[i].size)
        bar = tqdm(total=len(audio), desc="transcribing", unit="sentence", disable=not progress)
        bar.update(len(audio) - len(todo))  # the empty ones
        for start in range(0, len(todo), batch_size):
            indices = todo[start:start + batch_size]
            batch = [np.pad(audio[i], (0, max(0, minimum - audio[i].size))) for i in indices]
            inputs = self.processor.feature_extractor(batch, sampling_rate=self.sample_rate, return_tensors="pt",
                                                      padding=True)
            lengths = (inputs["attention_mask"].sum(-1) if "attention_mask" in inputs
                       else torch.tensor([a.size for a in batch]))
            with torch.inference_mode():
                logits = self.model(**{k: v.to(self.device) for k, v in inputs.items()}).logits
            texts = self.decode(logits.argmax(-1), self._output_frames(lengths, logits.shape[1]))
            for i, text in zip(indices, texts):
                transcripts[i] = text
            bar.update(len(indices))
        bar.close()
        return transcripts

    def decode(self, token_ids, lengths: Sequence[int] | None = None) -> list[str]:
        """Greedy CTC decoding of a (batch, frames) tensor of best token ids; ``lengths`` cuts off padding frames.

        Repeated ids are merged first, then blanks (the pad token) and other special tokens are dropped, so
        ``ሀ ሀ <pad> ሀ | ለ`` reads ``"ሀሀ ለ"``. (Decoding with ``skip_special_tokens=True`` would drop the blank
        before merging and lose the second ``ሀ``.)
        """
        import torch

        token_ids = torch.as_tensor(token_ids).cpu()
        if lengths is None:
            lengths = [token_ids.shape[1]] * token_ids.shape[0]
        sequences = []
        for row, count in zip(token_ids, lengths):
            ids = torch.unique_consecutive(row[:count]).tolist()
            sequences.append([i for i in ids if i not in self._dropped_ids])
        texts = self.processor.batch_decode(sequences, group_tokens=False)
        return [" ".join(text.split()) for text in texts]

    def _output_frames(self, input_lengths, available: int) -> list[int]:
        """Logit frames that belong to each input (the rest of a row is padding)."""
        lengths_of = getattr(self.model, "_get_feat_extract_output_lengths", None)
        if lengths_of is None:
            return [available] * len(input_lengths)
        return [min(available, max(0, int(n))) for n in lengths_of(input_lengths)]
