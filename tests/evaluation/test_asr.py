"""CTCTranscriber on tiny random-weight CTC models: loading (plain and MMS-like), resampling, batching, decoding."""

import json

import numpy as np
import pytest
import soxr

from amharic_tts.evaluation.asr import ASRModelError, CTCTranscriber
from amharic_tts.testing.tiny_asr import build_tiny_asr, ethiopic_syllables, language_vocab

ETHIOPIC = set(ethiopic_syllables())


@pytest.fixture(scope="module")
def tiny_asr_dir(tmp_path_factory):
    return build_tiny_asr(tmp_path_factory.mktemp("tiny_asr"))


@pytest.fixture(scope="module")
def transcriber(tiny_asr_dir):
    return CTCTranscriber(tiny_asr_dir, device="cpu")


@pytest.fixture(scope="module")
def tiny_mms_dir(tmp_path_factory):
    return build_tiny_asr(tmp_path_factory.mktemp("tiny_mms"), adapter_languages=["eng", "amh"])


def _noise(samples: int, seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)


def test_tiny_vocabulary_is_the_assigned_ethiopic_syllables(tiny_asr_dir):
    vocab = json.loads((tiny_asr_dir / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["<pad>"] == 0 and {"<unk>", "|"} <= set(vocab)
    assert {"ሀ", "ፚ", "ቐ", "ኰ"} <= set(vocab)  # U+1200, U+135A (last), and letters after gaps
    assert not {"\u1249", "\u124e", "\u135b", "\u1360", "\u1369"} & set(vocab)  # unassigned, punctuation, numerals
    assert len(vocab) == len(ETHIOPIC) + 5 and len(set(vocab.values())) == len(vocab)


def test_transcribes_24khz_audio_of_different_lengths(transcriber):
    assert transcriber.language is None  # a plain single-language CTC model: no adapter to pick
    texts = transcriber.transcribe([_noise(36_000, 1), _noise(12_000, 2)], sample_rate=24_000)
    assert len(texts) == 2 and all(isinstance(text, str) for text in texts)
    assert sum(len(text) for text in texts) > 0  # random weights still emit letters; decoding kept them
    assert set("".join(texts)) <= ETHIOPIC | {" "}
    assert all(text == " ".join(text.split()) for text in texts)


def test_audio_is_resampled_to_16khz_before_the_model(transcriber):
    seen = []
    hook = transcriber.model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["attention_mask"].sum(-1).tolist()), with_kwargs=True)
    try:
        transcriber.transcribe([_noise(24_000, 1), _noise(12_000, 2)], sample_rate=24_000)
        transcriber.transcribe([_noise(8_000, 3)], sample_rate=8_000)
    finally:
        hook.remove()
    assert seen == [[16_000, 8_000], [16_000]]


def test_batching_does_not_change_or_reorder_transcripts(transcriber):
    wavs = [_noise(8_000, 4), _noise(30_000, 5), _noise(16_000, 6)]
    one_by_one = [transcriber.transcribe([wav], 16_000)[0] for wav in wavs]
    assert transcriber.transcribe(wavs, 16_000, batch_size=2) == one_by_one
    assert transcriber.transcribe(wavs, 16_000, batch_size=8) == one_by_one
    # resampled input gives what the same audio at 16 kHz gives
    at_24k = soxr.resample(wavs[1], 16_000, 24_000)
    assert transcriber.transcribe([at_24k], 24_000) == transcriber.transcribe(
        [soxr.resample(at_24k, 24_000, 16_000)], 16_000)


def test_empty_and_very_short_audio(transcriber):
    texts = transcriber.transcribe([np.zeros(0, np.float32), _noise(40, 7), _noise(16_000, 8)], 16_000)
    assert texts[0] == "" and len(texts) == 3
    assert set("".join(texts)) <= ETHIOPIC | {" "}


def test_greedy_ctc_decoding_merges_repeats_before_dropping_blanks(transcriber):
    vocab = transcriber.tokenizer.get_vocab()
    ha, le, me, bar, blank, unk = (vocab[t] for t in ("ሀ", "ለ", "መ", "|", "<pad>", "<unk>"))
    frames = [[ha, ha, blank, ha, bar, bar, le, unk, le, me], [blank, blank, le, le, blank, blank, me, me, me, me]]
    assert transcriber.decode(np.array(frames), lengths=[9, 10]) == ["ሀሀ ለለ", "ለመ"]
    assert transcriber.decode(np.array(frames)) == ["ሀሀ ለለመ", "ለመ"]


def test_bad_audio_is_refused_with_a_reason(transcriber):
    with pytest.raises(ValueError, match="mono"):
        transcriber.transcribe([np.zeros((2, 1600), np.float32)], 16_000)
    with pytest.raises(ValueError, match="sample_rate"):
        transcriber.transcribe([_noise(1600, 0)], 0)
    with pytest.raises(ValueError, match="NaN"):
        transcriber.transcribe([np.full(1600, np.nan, np.float32)], 16_000)
    with pytest.raises(TypeError, match="list of waveforms"):
        transcriber.transcribe(_noise(1600, 0), 16_000)


def test_mms_like_model_gets_the_amharic_vocabulary_and_adapter(tiny_mms_dir):
    amharic = CTCTranscriber(tiny_mms_dir, device="cpu")
    assert amharic.language == "amh" and amharic.tokenizer.target_lang == "amh"
    assert amharic.model.lm_head.out_features == len(language_vocab("amh"))  # the amh adapter's head, not eng's
    english = CTCTranscriber(tiny_mms_dir, target_lang="eng", device="cpu")
    assert english.model.lm_head.out_features == len(language_vocab("eng"))
    wavs = [_noise(24_000, 9), _noise(20_000, 10)]
    amharic_texts, english_texts = amharic.transcribe(wavs, 24_000), english.transcribe(wavs, 24_000)
    assert sum(map(len, amharic_texts)) > 0 and set("".join(amharic_texts)) <= ETHIOPIC | {" "}
    assert set("".join(english_texts)) <= set("abcdefghijklmnopqrstuvwxyz ")


def test_mms_like_tokenizer_without_a_default_language(tiny_mms_dir, tmp_path):
    import shutil

    copy = shutil.copytree(tiny_mms_dir, tmp_path / "mms")
    config_file = copy / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["target_lang"] = None
    config_file.write_text(json.dumps(config), encoding="utf-8")
    transcriber = CTCTranscriber(copy, device="cpu")
    assert transcriber.tokenizer.target_lang == "amh"
    assert len(transcriber.tokenizer) == transcriber.model.lm_head.out_features


def test_unknown_language_of_a_multilingual_model(tiny_mms_dir):
    with pytest.raises(ASRModelError, match="no 'xyz' vocabulary .* amh, eng"):
        CTCTranscriber(tiny_mms_dir, target_lang="xyz", device="cpu")


def test_missing_or_unsuitable_models_give_clear_errors(tmp_path):
    with pytest.raises(ASRModelError, match="does not exist"):
        CTCTranscriber(tmp_path / "no-such-model")
    with pytest.raises(ASRModelError, match="HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache"):
        CTCTranscriber("someone/amharic-asr-not-cached")
    with pytest.raises(ASRModelError, match="directory"):
        CTCTranscriber(tmp_path)  # exists, but holds no model
    from transformers import WhisperConfig

    WhisperConfig(vocab_size=100, d_model=8, encoder_layers=1, decoder_layers=1).save_pretrained(tmp_path / "whisper")
    with pytest.raises(ASRModelError, match="not a CTC speech recogniser .*Whisper"):
        CTCTranscriber(tmp_path / "whisper")
