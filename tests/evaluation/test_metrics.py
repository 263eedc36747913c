"""The Amharic CER/WER metric: hand-counted error rates, the scoring normalisation, the offline evaluate module."""

import json
import os
import subprocess
import sys

import pytest

from amharic_tts.evaluation.metrics import METRIC_DIR, load_amharic_cer, normalize_for_scoring, score
from amharic_tts.text.normalize import abbreviation_table, normalize
from amharic_tts.text.numbers import cardinal

TEN = "መልካምአዲስአመት"  # 10 letters, one word, nothing the normaliser changes
FOUR_WORDS = "ልጁ ትምህርት ቤት ሄደ"  # 14 characters with its 3 spaces


def test_fixtures_are_what_the_hand_counts_assume():
    assert normalize_for_scoring(TEN) == TEN and len(TEN) == 10
    assert normalize_for_scoring(FOUR_WORDS) == FOUR_WORDS and len(FOUR_WORDS) == 14


def test_one_substituted_letter_in_ten():
    result = score([TEN[:-1] + "ጥ"], [TEN])
    assert result["cer"] == pytest.approx(0.1)
    assert result["wer"] == pytest.approx(1.0)  # the one word is wrong
    assert result["per_sentence"] == [pytest.approx(0.1)]
    assert (result["reference_chars"], result["reference_words"]) == (10, 1)


def test_deleted_word():
    result = score(["ልጁ ትምህርት ሄደ"], [FOUR_WORDS])
    assert result["wer"] == pytest.approx(1 / 4)
    assert result["cer"] == pytest.approx(3 / 14)  # "ቤት" and one space


def test_inserted_and_extra_characters_can_exceed_one():
    assert score(["ሰላም ሰላም ሰላም"], ["ሰላም"])["cer"] == pytest.approx(8 / 3)


def test_corpus_rates_add_up_edits_not_ratios():
    # sentence 1: 1 edit / 14 chars, 1 deleted word / 4; sentence 2: 1 edit / 2 chars, 1 wrong word / 1
    result = score(["ልጁ ትምህርት ሄደ", "ሰዎ"], [FOUR_WORDS, "ሰው"])
    assert result["cer"] == pytest.approx((3 + 1) / (14 + 2))  # a mean of ratios would be (3/14 + 1/2) / 2
    assert result["wer"] == pytest.approx((1 + 1) / (4 + 1))  # a mean of ratios would be 0.625
    assert result["per_sentence"] == [pytest.approx(3 / 14), pytest.approx(0.5)]
    assert (result["reference_chars"], result["reference_words"]) == (16, 5)


def test_per_sentence_matches_scoring_each_pair_alone():
    predictions = ["ሰላም ነህ", "ልጁ ቤት ሄደ", "አበበ በሶ በላ"]
    references = ["ሰላም ነው", FOUR_WORDS, "አበበ በሶ በላ።"]
    result = score(predictions, references)
    assert result["per_sentence"] == [pytest.approx(score([p], [r])["cer"]) for p, r in zip(predictions, references)]
    assert result["per_sentence"][2] == 0.0


@pytest.mark.parametrize(("prediction", "reference"), [
    ("ሀሳብ ሀይል ሰራ አይን ጸሀይ", "ሐሳብ ኀይል ሠራ ዐይን ፀሐይ"),  # ሀ/ሐ/ኀ, ሰ/ሠ, አ/ዐ, ጸ/ፀ
    ("ሃሳብ", "ኃሳብ"),
    ("ስራ", "ሥራ"),
    ("አለም", "ዓለም"),
])
def test_homophone_spellings_cost_nothing(prediction, reference):
    assert score([prediction], [reference], normalize=False)["cer"] > 0  # they do differ as written
    assert score([prediction], [reference]) == score([reference], [reference])
    assert score([prediction], [reference])["cer"] == 0.0


@pytest.mark.parametrize(("prediction", "reference"), [
    ("ሰላም እንዴት ነህ", "ሰላም፣ እንዴት ነህ?"),
    ("ሰላም ነው", "ሰላም፡ነው።"),  # ፡ is the old word space
    ("ሰላም እንዴት ነህ", "«ሰላም» (እንዴት) ነህ?!"),
    ("አበበ በሶ በላ ጫላ ጩቤ ጨበጠ", "አበበ በሶ በላ፤ ጫላ ጩቤ ጨበጠ፨"),
    ("ሀ ለ መ ሰ ረ ሰ ሸ ቀ", "ሀ።ለ፣መ፥ሰ፦ረ፧ሰ፨ሸ፡ቀ"),
    ("hello world ok", "Hello, World! — \"OK\""),
])
def test_punctuation_and_case_cost_nothing(prediction, reference):
    result = score([prediction], [reference])
    assert (result["cer"], result["wer"]) == (0.0, 0.0)


def test_punctuation_separates_words():
    assert normalize_for_scoring("ሰላም፣ነው") == "ሰላም ነው"
    assert normalize_for_scoring("ሀ።ለ፣ሐ፤መ፥ሠ፦ረ፧ሰ፨ሸ፡ቀ") == "ሀ ለ ሀ መ ሰ ረ ሰ ሸ ቀ"
    assert normalize_for_scoring("  ሰላም \t  ነው  ") == "ሰላም ነው"


def test_digits_score_the_same_as_the_words_the_normaliser_reads():
    # what an ASR model hears and writes: the number as words, unfolded spelling (ሃምሳ), no punctuation
    spoken = [f"{cardinal(3)} ሰዎች መጡ", f"{cardinal(1999)} ነበር", normalize("50%") + " ድምጽ",
              f"{abbreviation_table()['ዶ/ር']} አበበ"]
    written = ["3 ሰዎች መጡ።", "1999 ነበር", "50% ድምጽ", "ዶ/ር አበበ"]
    assert spoken[0] != written[0].rstrip("።")
    result = score(spoken, written)
    assert (result["cer"], result["wer"]) == (0.0, 0.0)
    assert score(spoken, written, normalize=False)["cer"] > 0.3


def test_without_normalisation_texts_are_compared_as_written():
    assert score(["ሀሳብ"], ["ሐሳብ"], normalize=False)["cer"] == pytest.approx(1 / 3)
    assert score(["ሰላም"], ["ሰላም።"], normalize=False)["cer"] == pytest.approx(1 / 4)


def test_empty_references():
    with pytest.raises(ValueError, match="all 2 references are empty after normalisation"):
        score(["ሰላም", ""], ["።", " ! "])
    with pytest.raises(ValueError, match="all 1 references are empty"):
        score(["ሰላም"], [""], normalize=False)
    # some empty references are fine: an empty reference scores its insertions (jiwer's convention)
    result = score(["ሀ", "ሰላም", ""], ["", "ሰላም", "።"])
    assert result["per_sentence"] == [1.0, 0.0, 0.0]
    assert result["cer"] == pytest.approx(1 / 3)


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        score(["ሀ", "ለ"], ["ሀ"])
    with pytest.raises(ValueError, match="empty lists"):
        score([], [])
    with pytest.raises(TypeError, match="wrap it in a list"):
        score("ሀ", "ሀ")
    with pytest.raises(TypeError, match=r"predictions\[1\] is NoneType"):
        score(["ሀ", None], ["ሀ", "ለ"])


def test_evaluate_loads_the_local_module_offline_and_agrees_with_score():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    import evaluate

    predictions = ["ልጁ ትምህርት ሄደ", "ሰዎ", "ሀሳብ ሶስት"]
    references = [FOUR_WORDS, "ሰው", "ሐሳብ፣ 3።"]
    expected = score(predictions, references)
    for path in (METRIC_DIR, METRIC_DIR / "amharic_cer.py"):
        metric = evaluate.load(str(path), keep_in_memory=True)
        assert metric.name == "amharic_cer"
        result = metric.compute(predictions=predictions, references=references)
        assert result == {"cer": pytest.approx(expected["cer"]), "wer": pytest.approx(expected["wer"])}
        assert result["cer"] == pytest.approx(4 / 23)  # 3 + 1 + 0 edits over 14 + 2 + 7 characters
    metric = load_amharic_cer()
    assert metric is load_amharic_cer()
    unnormalised = metric.compute(predictions=predictions, references=references, normalize=False)
    assert unnormalised["cer"] == pytest.approx(score(predictions, references, normalize=False)["cer"])
    assert unnormalised["cer"] > expected["cer"]
    metric.add_batch(predictions=predictions[:2], references=references[:2])
    metric.add_batch(predictions=predictions[2:], references=references[2:])
    assert metric.compute()["cer"] == pytest.approx(expected["cer"])


def test_metric_loads_in_a_fresh_process_without_network(tmp_path):
    # a fresh modules cache and an unreachable Hub endpoint: loading must not need either
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"),
               HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "home"))
    code = ("import json; from amharic_tts.evaluation.metrics import load_amharic_cer; "
            "print(json.dumps(load_amharic_cer().compute(predictions=['ሰላም ነህ'], references=['ሰላም፣ ነው።'])))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"cer": pytest.approx(1 / 6), "wer": 0.5}
    assert any((tmp_path / "modules").rglob("amharic_cer.py"))
