"""Evaluation: how intelligible the fine-tuned voice is.

- :mod:`amharic_tts.evaluation.metrics` -- the one scoring normalisation and the corpus CER/WER, also shipped as a
  local Hugging Face ``evaluate`` module (``amharic_cer/amharic_cer.py``) that loads offline.
- :mod:`amharic_tts.evaluation.asr` -- a CTC recogniser (MMS by default) that turns synthesised audio back into
  Ethiopic text, so the metric can compare it with the text the model was asked to say.

Imports are left to the submodules, so ``import amharic_tts.evaluation`` stays cheap (no torch, no transformers).
"""
