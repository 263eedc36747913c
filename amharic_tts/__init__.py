"""Fine-tune Chatterbox multilingual T3 to speak Amharic."""

__version__ = "0.1.0"
