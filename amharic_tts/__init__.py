"""Fine-tune Chatterbox multilingual T3 to speak Amharic.

``from amharic_tts import AmharicTTS`` loads a fine-tuned model (imported on first use, so that the command-line
tools that do not need it start quickly).
"""

__version__ = "0.1.0"
__all__ = ["AmharicTTS", "__version__"]


def __getattr__(name: str):
    if name == "AmharicTTS":
        from amharic_tts.inference import AmharicTTS

        return AmharicTTS
    raise AttributeError(f"module 'amharic_tts' has no attribute {name!r}")
