"""Amharic text: normalisation (``normalize``), sentence splitting, numbers, transliteration, the tokenizer.

Depends on nothing else of this package (pure Python plus ``tokenizers``/``sentencepiece``).
"""

from amharic_tts.text.normalize import NormalizerConfig, fold_homophones, normalize, split_sentences

__all__ = ["NormalizerConfig", "fold_homophones", "normalize", "split_sentences"]
