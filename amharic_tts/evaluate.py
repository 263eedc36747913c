"""``python -m amharic_tts.evaluate``: see :mod:`amharic_tts.evaluation.run`."""

from amharic_tts.evaluation.run import main

if __name__ == "__main__":
    raise SystemExit(main())
