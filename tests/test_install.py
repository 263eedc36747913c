"""The dependency set works together as pinned (numpy<2 with pyarrow<23; audio via soundfile, not torchcodec)."""

import importlib
import io

import numpy as np
import soundfile as sf


def test_the_whole_stack_imports():
    for name in ("amharic_tts", "chatterbox", "datasets", "accelerate", "evaluate", "peft", "sentencepiece",
                 "tokenizers", "tensorboard", "av"):
        importlib.import_module(name)
    assert int(np.__version__.split(".")[0]) == 1  # chatterbox-tts needs numpy<2


def test_audio_stored_undecoded_in_arrow_and_decoded_with_soundfile(tmp_path):
    from datasets import Audio, Dataset, load_from_disk

    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    path = tmp_path / "clip.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    ds = Dataset.from_dict({"audio": [str(path)], "text": ["ሰላም"]}).cast_column("audio", Audio(decode=False))
    ds.save_to_disk(tmp_path / "ds")
    row = load_from_disk(str(tmp_path / "ds"))[0]
    assert row["text"] == "ሰላም"
    # save_to_disk embeds the file's bytes (the dataset is self-contained); the path keeps only the name
    assert row["audio"]["path"] == "clip.wav" and row["audio"]["bytes"]
    decoded, rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="float32")
    assert rate == 16000 and np.array_equal(decoded, wave)
