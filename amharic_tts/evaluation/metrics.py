"""Character and word error rates for Amharic, with one normalisation for references and hypotheses.

Intelligibility is measured by transcribing synthesised speech with an ASR model and comparing the transcript
with the text the TTS model was asked to say. Both sides go through :func:`normalize_for_scoring`, so that only
differences a listener would hear count as errors:

1. :func:`amharic_tts.text.normalize.normalize` -- the project's single text normaliser: numbers and
   abbreviations are read out as words (before punctuation is touched, so ``50%`` and ``ዶ/ር`` survive), and
   homophone letters are folded (ሀ/ሐ/ኀ, ሰ/ሠ, አ/ዐ, ጸ/ፀ, ...). ``"3 ሰዎች"`` and ``"ሶስት ሰዎች"`` score the same.
2. Every punctuation mark -- Ethiopic (``። ፣ ፤ ፥ ፦ ፧ ፨ ፡``), ASCII and any other Unicode punctuation -- becomes
   a space. A space rather than nothing, because punctuation separates words (``ሰላም፣ነው`` is two words; the
   normaliser writes ``1990-2000`` as two number words joined by ``-``). ASR output has no punctuation at all.
3. Lower case (Latin words in Amharic text; Ethiopic has no case), white space collapsed to single spaces.

The rates are corpus-level, as ``jiwer`` computes them for lists: the edits of all sentences added up, divided
by the reference length of all sentences added up (not the mean of per-sentence ratios, which would let a
short sentence weigh as much as a long one). CER is computed over the normalised string *including* its single
spaces between words (a missing word boundary is an error a listener hears); WER over the whitespace-separated
words. ``score`` also gives each sentence's own CER, to list the worst sentences.

The ``evaluate`` module in ``amharic_cer/amharic_cer.py`` calls :func:`score`; :func:`load_amharic_cer` loads it
from the package directory, so it works offline (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import string
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import jiwer

from amharic_tts.text.normalize import normalize as normalize_text

METRIC_DIR = Path(__file__).resolve().parent / "amharic_cer"
"""The directory of the local ``evaluate`` metric module (``evaluate.load(str(METRIC_DIR))``)."""

_ASCII_PUNCTUATION = frozenset(string.punctuation)


def _is_punctuation(char: str) -> bool:
    # Unicode categories Pc Pd Ps Pe Pi Pf Po (the Ethiopic marks U+1360..U+1368 are Po) plus the ASCII
    # symbols string.punctuation counts as punctuation ($ + < = > ^ ` | ~), which are category S.
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def normalize_for_scoring(text: str) -> str:
    """Normalise ``text`` (a reference or an ASR transcript) for CER/WER scoring; see the module docstring.

    ``"ሐሳብ፣ 3 ሰዎች።"`` -> ``"ሀሳብ ሶስት ሰዎች"``; ``"Hello, World!"`` -> ``"hello world"``.
    """
    text = normalize_text(text)
    text = "".join(" " if _is_punctuation(char) else char for char in text)
    return " ".join(text.lower().split())


def _check_inputs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if isinstance(predictions, str) or isinstance(references, str):
        raise TypeError("predictions and references must be lists of strings, not a single string: wrap it in a list")
    if len(predictions) != len(references):
        raise ValueError(f"got {len(predictions)} predictions for {len(references)} references: "
                         "pass one prediction (ASR transcript) per reference text, in the same order")
    if not references:
        raise ValueError("nothing to score: predictions and references are empty lists")
    for name, texts in (("predictions", predictions), ("references", references)):
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{name}[{index}] is {type(text).__name__}, not str: pass text "
                                "(an empty transcript is the empty string)")


def score(predictions: Sequence[str], references: Sequence[str], *, normalize: bool = True) -> dict[str, Any]:
    """Corpus CER and WER of ASR ``predictions`` against ``references``, and each sentence's CER.

    Returns ``{"cer": float, "wer": float, "per_sentence": [float, ...], "reference_chars": int,
    "reference_words": int}``; ``per_sentence[i]`` is the CER of pair ``i`` (``jiwer`` semantics: an empty
    reference scores the number of inserted characters, 0.0 when the prediction is empty too), and the two
    totals are the denominators of the corpus rates (after normalisation).

    With ``normalize=False`` the texts are compared as given (``jiwer`` only strips them and, for WER, splits
    them at white space). Raises ``ValueError`` when the lists differ in length, are empty, or every
    reference is empty (after normalisation): there is nothing to measure an error rate against.
    """
    _check_inputs(predictions, references)
    if normalize:
        predictions = [normalize_for_scoring(text) for text in predictions]
        references = [normalize_for_scoring(text) for text in references]
    else:
        predictions, references = list(predictions), list(references)
    if not any(text.strip() for text in references):
        raise ValueError(f"all {len(references)} references are empty"
                         f"{' after normalisation (punctuation only?)' if normalize else ''}: an error rate needs "
                         "reference text; check that the text column holds the sentences the audio should say")
    chars = jiwer.process_characters(references, predictions)
    words = jiwer.process_words(references, predictions)
    per_sentence = [float(jiwer.cer(reference, prediction)) for reference, prediction in zip(references, predictions)]
    return {
        "cer": float(chars.cer),
        "wer": float(words.wer),
        "per_sentence": per_sentence,
        "reference_chars": sum(len(sentence) for sentence in chars.references),
        "reference_words": sum(len(sentence) for sentence in words.references),
    }


@lru_cache(maxsize=1)
def load_amharic_cer():
    """The ``amharic_cer`` metric as an ``evaluate.EvaluationModule``, loaded from this package (no network).

    Loaded once per process. It keeps its inputs in memory (no Arrow cache files are written); ``evaluate``
    copies the script into its modules cache (``HF_MODULES_CACHE``, ``~/.cache/huggingface/modules``) as it does
    for every local metric. ``load_amharic_cer().compute(predictions=..., references=...)`` returns
    ``{"cer": ..., "wer": ...}``, the same numbers as :func:`score`.
    """
    import evaluate

    script = METRIC_DIR / "amharic_cer.py"
    if not script.is_file():
        raise FileNotFoundError(f"the amharic_cer metric script is missing ({script}): the package is installed "
                                "without its package data; reinstall amharic-tts (pip install .)")
    return evaluate.load(str(METRIC_DIR), module_type="metric", keep_in_memory=True)
