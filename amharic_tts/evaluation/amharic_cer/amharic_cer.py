"""``amharic_cer``: corpus character and word error rates for Amharic, as a Hugging Face ``evaluate`` metric.

Load it from this directory (it ships inside the ``amharic_tts`` package, so nothing is fetched from the Hub):
``evaluate.load(path_to_this_directory)`` or ``amharic_tts.evaluation.metrics.load_amharic_cer()``.
The normalisation and the counting live in ``amharic_tts.evaluation.metrics.score``; this module only
describes the metric for ``evaluate`` and calls that function, so there is one implementation.
"""

import datasets
import evaluate

from amharic_tts.evaluation.metrics import score

_DESCRIPTION = """\
Character error rate (CER) and word error rate (WER) of ASR transcripts of Amharic speech against the texts the
speech should say, as corpus-level rates: the edits (substitutions + deletions + insertions) of all sentences
added up, divided by the reference characters (or words) of all sentences added up.

With normalize=True (the default) references and predictions get the same normalisation first
(amharic_tts.evaluation.metrics.normalize_for_scoring): the project's Amharic normaliser reads numbers and
abbreviations out as words and folds homophone letters (ሀ/ሐ/ኀ, ሰ/ሠ, አ/ዐ, ጸ/ፀ, ...); then every punctuation mark
(Ethiopic ። ፣ ፤ ፥ ፦ ፧ ፨ ፡, ASCII and other Unicode punctuation) becomes a space, Latin letters are lower-cased
and white space is collapsed to single spaces. CER counts those single spaces as characters; WER splits at them.
Differences only in spelling of homophones, punctuation or digits versus number words therefore cost nothing.
"""

_CITATION = """\
@inproceedings{morris2004wer,
  title     = {From {WER} and {RIL} to {MER} and {WIL}: improved evaluation measures for connected speech recognition},
  author    = {Morris, Andrew Cameron and Maier, Viktoria and Green, Phil},
  booktitle = {Proc. Interspeech 2004},
  year      = {2004}
}
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions (list of str): ASR transcripts, one per reference.
    references (list of str): the texts the speech should say.
    normalize (bool, default True): apply the Amharic scoring normalisation to both sides first.
Returns:
    cer (float): corpus character error rate (0 is perfect; can exceed 1 with many insertions).
    wer (float): corpus word error rate.
Examples:
    >>> metric = evaluate.load("path/to/amharic_cer")
    >>> metric.compute(predictions=["ሰላም ነው"], references=["ሰላም፣ ነው።"])
    {'cer': 0.0, 'wer': 0.0}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AmharicCER(evaluate.Metric):
    """Corpus CER and WER for Amharic with homophone, number and punctuation normalisation."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": datasets.Value("string"),
                "references": datasets.Value("string"),
            }),
            codebase_urls=["https://github.com/jitsi/jiwer"],
            reference_urls=["https://en.wikipedia.org/wiki/Word_error_rate"],
        )

    def _compute(self, predictions, references, normalize: bool = True) -> dict:
        result = score(predictions, references, normalize=normalize)
        return {"cer": result["cer"], "wer": result["wer"]}
