"""The learnability benchmark's small version: fine-tuned through the real pipeline (tokenizer, Trainer, collator,
shipped config, AmharicTTS), a model speaks held-out sentences of the synthetic language far better than the
untrained one. A layout or inference change that breaks learning fails here. ``bench/learnability.py`` is the
full experiment."""

from pathlib import Path

from amharic_tts.testing import learnability as lb

ROOT = Path(__file__).resolve().parents[1]


def test_the_synthetic_language_round_trips_and_tells_speakers_apart():
    language = lb.SyntheticLanguage(speakers=3, consonants=lb.DEFAULT_CONSONANTS, orders=lb.DEFAULT_ORDERS)
    assert len(language.syllables) == 18 and len(language.phones) == 6 + 7 + 1  # all vowels, the pause
    corpus = lb.make_corpus(language, train=50, held_out=10, lexicon=40, new_words=10)
    for text, speaker in corpus.train + corpus.held_out + corpus.unseen_words:
        tokens = language.speech_tokens(text, speaker)
        assert language.recognise(tokens) == text
        assert language.speaker_share(tokens, speaker) == 1.0
        assert language.speaker_share(tokens, (speaker + 1) % 3) == 0.0
    text, speaker = corpus.train[0]
    runs = language.phone_runs(text)
    assert runs[-1] == (lb.PAUSE, lb.SENTENCE_PAUSE)
    assert len(language.speech_tokens(text, speaker)) == sum(n for _, n in runs)
    # a word's last vowel is one token longer: durations follow rules, so the right length is known
    assert runs[1][1] == lb.VOWEL_TOKENS[language.syllables[text[0]][1]] + (text[1] in " ።")
    known = {w for t, _ in corpus.train for w in t[:-1].split()}
    assert all(any(w not in known for w in t[:-1].split()) for t, _ in corpus.unseen_words)
    assert not {t for t, _ in corpus.held_out} & {t for t, _ in corpus.train}
    assert lb.scores(language, [lb.Spoken(text, speaker, language.speech_tokens(text, speaker), True,
                                          len(language.speech_tokens(text, speaker)))]) == \
        {"cer": 0.0, "speaker_accuracy": 100.0, "stop_accuracy": 100.0}
    whole = lb.SyntheticLanguage(speakers=2)  # the whole syllabary, homophones the normaliser folds left out
    assert len(whole.syllables) > 150 and "ሐ" not in whole.syllables and "ሀ" in whole.syllables
    for text, speaker in lb.make_corpus(whole, train=30, held_out=5).train:
        assert whole.recognise(whole.speech_tokens(text, speaker)) == text
    garbled = [lb.Spoken(text, speaker, list(language.inventories[(speaker + 1) % 3][:5]), False, 40)]
    assert lb.scores(language, garbled)["cer"] > 50 and lb.scores(language, garbled)["speaker_accuracy"] == 0


def test_a_fine_tuned_model_speaks_unseen_sentences_an_untrained_one_cannot(tiny_base_dir, tmp_path):
    exp = lb.Experiment(
        work=tmp_path, configs=ROOT / "configs" / "train", parts=tiny_base_dir, variants=("shipped",),
        speakers=2, consonants=("l", "m", "s", "b"), orders=(0, 3), durations=False, lexicon=24, new_words=4,
        max_words=2, max_syllables=2,
        train_sentences=400, base_sentences=16, base_lexicon=24, held_out=12, base_steps=0, curve_every=0,
        steps=900, lr=3e-3, size=lb.ModelSize(hidden_size=128, layers=2, intermediate_size=256, prompt_tokens=10))
    result = lb.run_experiment(exp, log=lambda message: None)
    before = result["before"]["amharic"]["cer"]
    after = result["rows"]["shipped"]["held_out_greedy"]["cer"]
    sampled = result["rows"]["shipped"]["held_out"]["cer"]
    assert before > 80, result
    assert after < 30 and sampled < 40, result
    assert result["rows"]["shipped"]["held_out"]["speaker_accuracy"] > 90, result
    assert "| shipped" in lb.markdown(result)
