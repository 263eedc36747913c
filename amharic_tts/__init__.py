"""Fine-tune Chatterbox multilingual T3 to speak Amharic.

``from amharic_tts import AmharicTTS`` loads a fine-tuned model (imported on first use, so that the command-line
tools that do not need it start quickly).
"""

import warnings

__version__ = "0.1.0"
__all__ = ["AmharicTTS", "__version__"]

# peft 0.22 warns at import that it will drop transformers < 5.6 in 1.0; chatterbox-tts pins transformers 5.2.0
# and pyproject keeps peft < 1, so there is nothing for a user to act on. transformers imports peft from its
# trainer utilities, before any module of ours runs, so the filter lives here.
warnings.filterwarnings("ignore", message=r"Support for Transformers < 5\.6 is deprecated in PEFT",
                        category=FutureWarning, module=r"peft\.import_utils")


def __getattr__(name: str):
    if name == "AmharicTTS":
        from amharic_tts.inference import AmharicTTS

        return AmharicTTS
    raise AttributeError(f"module 'amharic_tts' has no attribute {name!r}")
