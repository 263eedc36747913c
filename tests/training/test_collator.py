"""The batch collator: layout, where each sample's speech prompt comes from, and conditioning dropout."""

import numpy as np
import pytest
from datasets import Dataset

from amharic_tts.data.voices import nearest, voice_neighbours
from amharic_tts.training.collator import T3Collator

START, STOP = 6561, 6562


def rows(speakers, lengths=None, embeddings=None):
    """Row i's speech tokens are all 1000·i + j: a prompt's tokens tell which rows it was cut from."""
    n = len(speakers)
    lengths = lengths or [40] * n
    rng = np.random.default_rng(0)
    if embeddings is None:
        embeddings = rng.normal(size=(n, 8))
    return Dataset.from_dict({
        "text_ids": [[1, 2 + i % 5, 3][: 2 + i % 2] for i in range(n)],
        "speech_tokens": [[1000 * i + j for j in range(length)] for i, length in enumerate(lengths)],
        "speaker": list(speakers),
        "speaker_emb": np.asarray(embeddings, dtype=np.float32).tolist(),
        "_index": list(range(n)),
    })


def sources(prompt) -> set[int]:
    return {int(token) // 1000 for token in prompt}


def collate(collator, dataset, indices):
    return collator([dataset[i] for i in indices])


def test_batches_are_right_padded_with_start_and_stop_speech_tokens():
    data = rows(["a", "a", "b"], lengths=[3, 5, 4])
    batch = collate(T3Collator(data, start_speech=START, stop_speech=STOP, prompt_tokens=4), data, [0, 1, 2])
    assert batch["speech_token_lens"].tolist() == [5, 7, 6]
    assert batch["speech_tokens"][0].tolist() == [START, 0, 1, 2, STOP, 0, 0]
    assert batch["speech_tokens"][1].tolist() == [START, 1000, 1001, 1002, 1003, 1004, STOP]
    assert batch["text_token_lens"].tolist() == [2, 3, 2]
    assert batch["text_tokens"][0].tolist() == [1, 2, 0]
    assert batch["cond_prompt_speech_tokens"].shape == (3, 4)
    assert batch["emotion_adv"].tolist() == [0.5, 0.5, 0.5]


def test_the_prompt_comes_from_other_utterances_of_the_speaker_and_never_the_sample_itself():
    data = rows(["a", "a", "a", "b", "b", "c"], lengths=[200, 60, 80, 160, 160, 30])
    collator = T3Collator(data, start_speech=START, stop_speech=STOP, prompt_tokens=150)
    for epoch in range(4):
        collator.epoch = epoch
        prompts = collate(collator, data, range(6))["cond_prompt_speech_tokens"]
        assert prompts.shape == (6, 150)
        assert sources(prompts[0]) <= {1, 2}  # two short ones are joined to reach 150 tokens
        assert sources(prompts[1]) <= {0, 2} and sources(prompts[2]) <= {0, 1}
        assert sources(prompts[3]) == {4} and sources(prompts[4]) == {3}
        assert sources(prompts[5]) == {5}  # the speaker has no other utterance: the sample itself, repeated
    collator.epoch = 0
    first = collate(collator, data, [0])["cond_prompt_speech_tokens"]
    collator.epoch = 1
    assert not np.array_equal(first, collate(collator, data, [0])["cond_prompt_speech_tokens"])


@pytest.mark.parametrize("neighbours", [0, 2])
def test_draws_depend_on_seed_epoch_and_row_only_never_on_the_batch(neighbours):
    data = rows(["a"] * 6, lengths=[200] * 6)
    collator = T3Collator(data, start_speech=START, stop_speech=STOP, prompt_dropout=0.5, text_dropout=0.5,
                          speaker_dropout=0.5, voice_neighbours=neighbours, seed=3)
    assert len(collator.neighbours) == (6 if neighbours else 0)
    alone = [collate(collator, data, [i]) for i in range(6)]
    together = collate(collator, data, [5, 3, 1, 0, 2, 4])
    for position, i in enumerate([5, 3, 1, 0, 2, 4]):
        for key in ("cond_prompt_speech_tokens", "text_keep", "prompt_keep"):
            assert np.array_equal(together[key][position], alone[i][key][0])
    keeps = together["text_keep"].tolist() + together["prompt_keep"].tolist()
    assert 0.0 in keeps and 1.0 in keeps  # p = 0.5 over 12 draws


def test_dropout_zeroes_what_it_drops_and_evaluation_drops_nothing():
    data = rows(["a", "a", "b"])
    collator = T3Collator(data, start_speech=START, stop_speech=STOP, text_dropout=1.0, prompt_dropout=1.0,
                          speaker_dropout=1.0)
    batch = collate(collator, data, [0, 1, 2])
    assert batch["text_keep"].tolist() == [0.0] * 3 and batch["prompt_keep"].tolist() == [0.0] * 3
    assert float(batch["speaker_emb"].abs().sum()) == 0.0
    with collator.evaluating():
        batch = collate(collator, data, [0, 1, 2])
        again = collate(collator, data, [0, 1, 2])
    assert batch["text_keep"].tolist() == [1.0] * 3 and batch["prompt_keep"].tolist() == [1.0] * 3
    assert np.linalg.norm(batch["speaker_emb"].numpy(), axis=1) == pytest.approx([1, 1, 1], abs=1e-5)
    assert np.array_equal(batch["cond_prompt_speech_tokens"], again["cond_prompt_speech_tokens"])


def unit(v):
    return np.asarray(v) / np.linalg.norm(v)


def test_the_speaker_embedding_comes_from_the_utterances_the_prompt_was_cut_from():
    """At inference one clip gives both the prompt and the speaker embedding; training does the same, never
    giving the target's own embedding when the prompt comes from other utterances."""
    embeddings = np.random.default_rng(5).normal(size=(6, 8))
    data = rows(["a", "a", "a", "b", "b", "c"], lengths=[200, 60, 80, 160, 160, 30], embeddings=embeddings)
    collator = T3Collator(data, start_speech=START, stop_speech=STOP, prompt_tokens=150)
    joined = 0
    for epoch in range(6):
        collator.epoch = epoch
        batch = collate(collator, data, range(6))
        for i, (prompt, voice) in enumerate(zip(batch["cond_prompt_speech_tokens"], batch["speaker_emb"].numpy())):
            used = sorted(sources(prompt))
            assert i not in used or i == 5  # row 5's speaker has no other utterance: its own
            expected = unit(np.mean([unit(embeddings[j]) for j in used], axis=0))  # the normalised mean
            assert voice == pytest.approx(expected, abs=1e-5), (epoch, i, used)
            joined += len(used) > 1
    assert joined > 0  # row 0 needs rows 1 and 2 joined to reach 150 tokens


def test_a_share_of_training_batches_has_a_shorter_prompt_and_evaluation_never():
    data = rows(["a"] * 40, lengths=[200] * 40)
    collator = T3Collator(data, start_speech=START, stop_speech=STOP, prompt_tokens=150, short_prompt_share=0.3,
                          min_prompt_tokens=25, seed=1)
    lengths = []
    for epoch in range(5):
        collator.epoch = epoch
        for first in range(0, 40, 4):
            batch = collate(collator, data, range(first, first + 4))
            lengths.append(batch["cond_prompt_speech_tokens"].shape[1])
            with collator.evaluating():
                assert collate(collator, data, range(first, first + 4))["cond_prompt_speech_tokens"].shape[1] == 150
    short = [n for n in lengths if n < 150]
    assert 0.15 < len(short) / len(lengths) < 0.45 and min(short) >= 25
    assert len(set(short)) > 5  # lengths spread over 1..6 s
    # the same batch draws the same length again (a resumed run draws what an uninterrupted one did)
    collator.epoch = 2
    assert [collate(collator, data, range(f, f + 4))["cond_prompt_speech_tokens"].shape[1]
            for f in range(0, 40, 4)] == lengths[20:30]
    with pytest.raises(ValueError, match="min_prompt_tokens must be in 1..150"):
        T3Collator(data, start_speech=START, stop_speech=STOP, short_prompt_share=0.2, min_prompt_tokens=200)


def two_voices(n_per_voice=30, dim=16, seed=1):
    """One speaker label (a film) holding two voices: embeddings scattered around two far-apart centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2, dim)) * 3
    voice = np.array([0, 1] * n_per_voice)
    embeddings = centres[voice] + rng.normal(size=(len(voice), dim)) * 0.3
    return voice, embeddings


def test_prompts_stay_in_the_sample_s_own_voice_when_a_speaker_label_holds_several():
    voice, embeddings = two_voices()
    data = rows(["film"] * len(voice), lengths=[160] * len(voice), embeddings=embeddings)
    near = T3Collator(data, start_speech=START, stop_speech=STOP, voice_neighbours=4)
    anyone = T3Collator(data, start_speech=START, stop_speech=STOP, voice_neighbours=0)
    crossed = 0
    for epoch in range(3):
        near.epoch = anyone.epoch = epoch
        for i, prompt in enumerate(collate(near, data, range(len(voice)))["cond_prompt_speech_tokens"]):
            assert i not in sources(prompt)
            assert {voice[j] for j in sources(prompt)} == {voice[i]}
        crossed += sum(voice[j] != voice[i] for i, prompt in
                       enumerate(collate(anyone, data, range(len(voice)))["cond_prompt_speech_tokens"])
                       for j in sources(prompt))
    assert crossed > 0  # without neighbours, prompts come from the other voice too


def test_nearest_voices_are_sorted_by_cosine_similarity_and_skip_the_query_itself():
    pool = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [0.5, 0.5]], dtype=np.float32)
    assert nearest(pool[[0]], pool, 3).tolist() == [[0, 1, 4]]
    assert nearest(pool[[0]], pool, 3, exclude=[0]).tolist() == [[1, 4, 2]]
    assert nearest(pool, pool, 10, exclude=list(range(5))).shape == (5, 4)
    # blocks give what one pass gives
    voice, embeddings = two_voices(50)
    assert np.array_equal(nearest(embeddings, embeddings, 5, exclude=list(range(100)), block=7),
                          nearest(embeddings, embeddings, 5, exclude=list(range(100))))


def test_voice_neighbours_stay_inside_the_speaker_label_and_sample_large_labels():
    voice, embeddings = two_voices(40)
    speakers = ["film"] * 60 + ["talk"] * 20
    found = voice_neighbours(speakers, embeddings, 3, max_pool=25, block=16)
    assert set(found) == set(range(80))
    for row, chosen in found.items():
        assert len(chosen) == 3 and row not in chosen
        assert {speakers[j] for j in chosen} == {speakers[row]}
        assert {voice[j] for j in chosen} == {voice[row]}
    # a label over max_pool is searched 16 rows at a time, each block in its own sample of 25 rows
    blocks = [{int(j) for row in range(start, min(start + 16, 60)) for j in found[row]} for start in range(0, 60, 16)]
    assert all(len(candidates) <= 25 for candidates in blocks)
    assert len(set().union(*blocks)) > 25
    again = voice_neighbours(speakers, embeddings, 3, max_pool=25, block=16)
    assert again.keys() == found.keys() and all(np.array_equal(found[r], again[r]) for r in found)
    assert voice_neighbours(["a", "a", "b"], embeddings[:3], 3) == {}  # small labels: every other row already


def test_an_embedding_with_a_nan_is_never_its_own_neighbour():
    embeddings = np.array([[1.0, 0.0], [np.nan, 1.0], [0.9, 0.1], [0.0, 1.0]])
    assert 1 not in nearest(embeddings, embeddings, 3, exclude=[0, 1, 2, 3])[1]
    assert nearest(embeddings, embeddings, 1, exclude=[0, 1, 2, 3])[0].tolist() == [2]
    chosen = voice_neighbours(["a"] * 4, embeddings, 2)
    assert len(chosen[1]) == 2 and 1 not in chosen[1]


def test_speaker_embeddings_of_the_wrong_shape_are_a_clear_error():
    with pytest.raises(ValueError, match=r"\(n, d\) matrix"):
        voice_neighbours(["a"] * 5, np.zeros(5), 2)


def test_voice_neighbours_read_the_prepared_dataset_s_embeddings(demo_run_inputs):
    from datasets import load_from_disk

    train = load_from_disk(str(demo_run_inputs["data"]))["train"]
    train = train.add_column("_index", list(range(len(train)))).map(lambda row: {"text_ids": [1, 2]})
    speakers = list(train["speaker"])
    label = max(set(speakers), key=speakers.count)
    assert speakers.count(label) >= 4
    collator = T3Collator(train, start_speech=START, stop_speech=STOP, voice_neighbours=2)
    embeddings = np.asarray(train["speaker_emb"], dtype=np.float32)
    members = [i for i, s in enumerate(speakers) if s == label]
    for i in members:
        others = [j for j in members if j != i]
        sims = [float(embeddings[i] @ embeddings[j]) / float(np.linalg.norm(embeddings[i]) *
                                                            np.linalg.norm(embeddings[j])) for j in others]
        expected = [others[k] for k in np.argsort(sims)[::-1][:2]]
        assert collator.neighbours[i].tolist() == expected
    assert collate(collator, train, members[:2])["cond_prompt_speech_tokens"].shape == (2, 150)


def test_a_speaker_alone_in_the_evaluation_set_is_prompted_from_the_training_set():
    voice, embeddings = two_voices(10)
    train = rows(["film"] * 20 + ["b"] * 2, lengths=[160] * 22, embeddings=np.vstack([embeddings, embeddings[:2]]))
    lone = embeddings[3] + 0.01  # voice[3] == 1
    held_out = Dataset.from_dict({
        "text_ids": [[1, 2], [1, 3], [1, 4]], "speech_tokens": [[7] * 50, [8] * 50, [9] * 50],
        "speaker": ["film", "c", "c"], "speaker_emb": [lone.tolist(), [1.0] * 16, [1.0] * 16], "_index": [0, 1, 2]})
    lent = T3Collator(held_out, start_speech=START, stop_speech=STOP, voice_neighbours=3, prompt_pool=train)
    with lent.evaluating():
        prompts = collate(lent, held_out, [0, 1, 2])["cond_prompt_speech_tokens"]
    # from the training rows of its own voice (its own tokens, 7, would read as row 0, the other voice)
    assert {voice[j] for j in sources(prompts[0])} == {1}
    assert set(prompts[1].tolist()) == {9} and set(prompts[2].tolist()) == {8}  # "c" has another row here
    alone = T3Collator(held_out, start_speech=START, stop_speech=STOP, voice_neighbours=3)
    assert set(collate(alone, held_out, [0])["cond_prompt_speech_tokens"][0].tolist()) == {7}  # itself
    anyone = T3Collator(held_out, start_speech=START, stop_speech=STOP, prompt_pool=train)
    assert anyone.lent == {0: list(range(20))}
