"""The Hub side of a model: its model card (``README.md``) and pushing a folder.

The card is made with ``huggingface_hub.ModelCard`` / ``ModelCardData`` from the exported ``config.json`` alone
(plus evaluation results when there are some), so ``export`` and ``evaluate --update-card`` write the same card.
Pushing uses ``HfApi`` with the token from the argument, ``HF_TOKEN`` or the login cache; the token is never
printed or logged.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

BASE_REPO = "ResembleAI/chatterbox"
DEFAULT_PROJECT_URL = "https://github.com/amharic-tts/amharic-tts"
INSTALL = "pip install amharic-tts"


def project_url() -> str:
    """The project's repository: ``[project.urls] Repository`` of the installed package's metadata (a setting in
    ``pyproject.toml``), else :data:`DEFAULT_PROJECT_URL`."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        entries = metadata("amharic-tts").get_all("Project-URL") or []
    except PackageNotFoundError:
        entries = []
    for entry in entries:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository" and url.strip():
            return url.strip()
    return DEFAULT_PROJECT_URL


def public_name(name: str | None, what: str) -> str | None:
    """``name`` as a model card may show it: a Hub repo id as it is; a local path described, never named (a path
    on the machine that trained says nothing to a reader and may say too much about that machine)."""
    if not name:
        return name
    return name if is_repo_id(name) else f"a local {what}"
REPO_PLACEHOLDER = "YOUR_USERNAME/chatterbox-amharic"
# Used in the usage snippet; the model card test runs that snippet as written.
EXAMPLE_TEXT = "ሰላም፣ እንዴት ነህ? ዛሬ አየሩ ጥሩ ነው።"
EVALUATION_METRICS = (  # (key in evaluation results, model-index metric type, readable name)
    ("cer", "cer", "CER"),
    ("wer", "wer", "WER"),
    ("speaker_similarity", "speaker_similarity", "Speaker similarity (voice encoder cosine)"),
    ("rtf", "rtf", "Real-time factor"),
)


class PushError(ValueError):
    """The folder cannot be pushed (no token); the message says what to do."""


def _no_token(can_pass_token: bool = True) -> str:
    if can_pass_token:
        return "no Hugging Face token: set HF_TOKEN, run `hf auth login`, or pass a token"
    return "no Hugging Face token: set HF_TOKEN or run `hf auth login`"


def check_can_push(token: str | None = None, *, can_pass_token: bool = False) -> None:
    """Raise :class:`PushError` when a push cannot even be tried: ``HF_HUB_OFFLINE`` is set, or there is no token
    (argument, ``HF_TOKEN`` or the login cache). Cheap and offline: call it before long work that ends in a push.
    ``can_pass_token``: the caller takes a token, so the message may suggest passing one."""
    from huggingface_hub import constants, get_token

    variable = os.environ.get("HF_HUB_OFFLINE")
    offline = variable.strip().upper() in constants.ENV_VARS_TRUE_VALUES if variable is not None else False
    if offline or constants.HF_HUB_OFFLINE:
        raise PushError("cannot push to the Hugging Face Hub: HF_HUB_OFFLINE is set (unset it to push)")
    if not (token or get_token()):
        raise PushError(_no_token(can_pass_token))


def hub_error_message(err: BaseException) -> str:
    """One line for an error raised by a Hub call: its type and the first line of its message."""
    text = (str(err).strip().splitlines() or [""])[0].strip() or type(err).__name__
    return text if isinstance(err, PushError) else f"{type(err).__name__}: {text}"


def model_card(config: dict, *, repo_id: str | None = None, evaluation: dict | None = None):
    """A ``huggingface_hub.ModelCard`` for an exported model folder's ``config.json``. Its ``samples`` (``path`` in
    the folder, ``text``: audio rendered at export) are played in the card and the Hub's widget."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    training = config.get("training") or {}
    data = config.get("data") or {}
    samples = [(sample["path"], sample["text"]) for sample in config.get("samples") or []]
    repo = repo_id or config.get("repo_id") or REPO_PLACEHOLDER
    dataset = data.get("dataset")
    hub_dataset = dataset if dataset and is_repo_id(dataset) else None
    eval_results = None
    if evaluation:
        dataset_name = public_name(evaluation.get("dataset"), "dataset") or "held-out test split"
        asr_model = public_name(evaluation.get("asr_model"), "ASR model")
        eval_results = [
            EvalResult(task_type="text-to-speech", task_name="Text-to-speech",
                       dataset_type=dataset_name if is_repo_id(dataset_name) else "local",
                       dataset_name=dataset_name, dataset_split=evaluation.get("split"),
                       metric_type=metric_type, metric_name=name, metric_value=round(float(evaluation[key]), 4),
                       metric_config=asr_model if key in ("cer", "wer") else None)
            for key, metric_type, name in EVALUATION_METRICS if evaluation.get(key) is not None
        ]
    base = config.get("base_model", BASE_REPO)
    # no library_name: "chatterbox" would make the Hub's "Use this model" show upstream's snippet, which loads the
    # English base model and ignores this repo; the card's own usage section is the right code
    card_data = ModelCardData(  # a local base folder is a copy of the published base: name that
        language="am", license=config.get("license", "mit"), base_model=base if is_repo_id(base) else BASE_REPO,
        pipeline_tag="text-to-speech",
        tags=["text-to-speech", "tts", "amharic", "chatterbox", "amharic-tts"],
        datasets=[hub_dataset] if hub_dataset else None, model_name=repo.split("/")[-1],
        eval_results=eval_results,
        # the Hub's widget plays these (as XTTS's card does), relative to the repo
        widget=[{"text": text, "output": {"url": path}} for path, text in samples] if samples else None,
    )
    body = _card_body(config, repo, training, data, evaluation, samples)
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n{body}")


def is_repo_id(name: str) -> bool:
    """``name`` is a Hub repo id (``user/name``) rather than a local path."""
    return name.count("/") == 1 and not name.startswith((".", "/", "~")) and not Path(name).exists()


def _card_body(config: dict, repo: str, training: dict, data: dict, evaluation: dict | None,
               samples: list[tuple[str, str]]) -> str:
    base = config.get("base_model", BASE_REPO)
    base = base if is_repo_id(base) else BASE_REPO
    vocab = config.get("text_vocab_size")
    base_vocab = config.get("base_text_vocab_size")
    lines = [
        f"# {repo.split('/')[-1]}",
        "",
        f"Amharic text-to-speech: Resemble AI's multilingual Chatterbox ([{base}](https://huggingface.co/{base})) "
        f"with its T3 text-to-speech-token model fine-tuned for Amharic by "
        f"[amharic-tts]({project_url()}). The text vocabulary was extended from {base_vocab} to {vocab} ids with "
        "Amharic pieces (the pretrained rows unchanged); the S3Gen vocoder and the voice encoder are the base "
        "model's, unchanged" + (" and included here." if config.get("base_files_included") else
                                f", and are read from `{base}`" +
                                (f" at revision `{config['base_revision']}`" if config.get("base_revision") else "")
                                + "."),
        "",
        "## Usage",
        "",
        "```bash",
        INSTALL + f"   # or the latest from source: pip install git+{project_url()}",
        "```",
        "",
        "```python",
        "import soundfile as sf",
        "from amharic_tts import AmharicTTS",
        "",
        f'tts = AmharicTTS.from_pretrained("{repo}")',
        f'wav, sr = tts.generate("{EXAMPLE_TEXT}", seed=0)',
        'sf.write("amharic.wav", wav.squeeze(0).numpy(), sr)',
        "```",
        "",
        "Clone a voice from 3-10 s of clean speech with `tts.generate(text, audio_prompt_path=\"voice.wav\")`; "
        "`exaggeration`, `cfg_weight` and `temperature` work as in Chatterbox. Long text is split into sentences. "
        "Numbers, abbreviations and homophone spellings are normalised as in training. From the command line:",
        "",
        "```bash",
        f'python -m amharic_tts.synthesize --model {repo} --text "{EXAMPLE_TEXT}" --output amharic.wav',
        "```",
        "",
        f"The T3 weights (`t3_am.safetensors`) also load in upstream `chatterbox` as "
        f"`T3(T3Config(text_tokens_dict_size={vocab}))` with the tokenizer in this repo.",
        "",
    ]
    if samples:
        # on the Hub a card's relative link opens the file page, not the file: play the file's resolve URL
        where = f"https://huggingface.co/{repo}/resolve/main/" if repo != REPO_PLACEHOLDER else ""
        lines += ["## Samples", "", "The default voice, rendered when this model was exported (seed 0, the "
                  "settings above):", "", "| Text | Audio |", "|---|---|"]
        lines += [f'| {text} | <audio controls src="{where}{path}"></audio> |' for path, text in samples]
        lines.append("")
    lines += [
        "## Training",
        "",
    ]
    facts = [
        ("Fine-tuning", "LoRA (merged)" if training.get("use_lora") else "full T3 (pretrained text rows frozen)"
         if training.get("freeze_base_text_rows", True) else "full T3"),
        ("Steps", training.get("step")),
        ("Epochs", training.get("epoch")),
        ("Learning rate", training.get("learning_rate")),
        ("Schedule", training.get("lr_scheduler_type")),
        ("Batch size per device x accumulation", _batch(training)),
        ("Precision", training.get("precision")),
        ("Tokens seen (text + speech, padding not counted)", training.get("tokens_seen")),
        ("Last logged training loss", training.get("train_loss")),
        ("New text rows initialised from", training.get("init_new_rows")),
    ]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in facts if v not in (None, "")]
    lines += ["", "## Data", ""]
    if data:
        hours = data.get("hours")
        lines.append(f"- Dataset: {public_name(data.get('dataset'), 'dataset') or 'not recorded'}"
                     + (f" ({hours:.2f} h kept after preparation" if hours is not None else "")
                     + (f", {data['segments']} segments)" if hours is not None and data.get("segments") else
                        (")" if hours is not None else "")))
        if data.get("splits"):
            lines.append("- Splits: " + ", ".join(f"{k} {v}" for k, v in data["splits"].items()))
    else:
        lines.append("- Not recorded.")
    lines += ["", "## Evaluation", ""]
    if evaluation:
        lines.append(f"On {evaluation.get('sentences', '?')} sentences of the `{evaluation.get('split', 'test')}` "
                     f"split of {public_name(evaluation.get('dataset'), 'dataset') or 'the dataset'}; "
                     f"intelligibility by the CTC ASR model `{public_name(evaluation.get('asr_model'), 'ASR model')}` "
                     "with one Amharic normaliser for reference and transcript.")
        lines += ["", "| Metric | Value |", "|---|---|"]
        lines += [f"| {name} | {float(evaluation[key]):.4f} |" for key, _, name in EVALUATION_METRICS
                  if evaluation.get(key) is not None]
    else:
        lines.append("Not evaluated yet: `python -m amharic_tts.evaluate --model THIS_REPO --dataset DATA "
                     "--split test --update-card`.")
    lines += [
        "",
        "## Limitations",
        "",
        "- It speaks like its training data: speakers, recording conditions and style not covered there come out "
        "worse, and voice cloning works best for voices close to them.",
        "- Text is normalised before speaking (numbers read as words, common abbreviations expanded, homophone "
        "letters folded); uncommon abbreviations, Latin-script words and mixed scripts may be read wrongly.",
        "- Long or unusual sentences can be cut short, repeated or garbled; listen before publishing audio.",
        "- Output carries Resemble AI's imperceptible Perth watermark, as upstream Chatterbox does. Do not use it "
        "to imitate people without their consent.",
        "",
        "## License and credits",
        "",
        f"Weights: {config.get('license', 'mit').upper()}, as the base model. Base model: Chatterbox by "
        f"[Resemble AI](https://huggingface.co/{base}).",
        "",
    ]
    return "\n".join(lines)


def _batch(training: dict) -> str | None:
    size = training.get("per_device_train_batch_size")
    if training.get("max_tokens_per_batch"):
        size = f"up to {training['max_tokens_per_batch']} tokens"
    if size is None:
        return None
    return f"{size} x {training.get('gradient_accumulation_steps', 1)} on {training.get('world_size', 1)} device(s)"


def create_repo(repo_id: str, *, private: bool = False, token: str | None = None, api=None):
    """``(api, full repo id)``: the model repo created if needed (a bare name goes to the token's namespace)."""
    from huggingface_hub import HfApi, get_token

    if api is None and not (token or get_token()):
        raise PushError(_no_token())
    api = api or HfApi(token=token)
    return api, api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True).repo_id


def upload_folder(api, folder: str | os.PathLike, repo_id: str, commit_message: str | None = None) -> str:
    """Upload ``folder`` to an existing repo as one commit; returns the commit URL."""
    config_file = Path(folder) / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    if config.get("base_files_included") is False and Path(str(config.get("base_model", ""))).is_absolute():
        logger.warning("%s reads the base's S3Gen, voice encoder and default voice from the local folder %s, "
                       "which users of %s will not have: export with --include-base to push a repo that loads "
                       "anywhere", folder, config["base_model"], repo_id)
    info = api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=str(folder),
                             commit_message=commit_message or "Upload Amharic Chatterbox model")
    url = getattr(info, "commit_url", None) or f"https://huggingface.co/{repo_id}"
    logger.info("pushed %s to %s", folder, url)
    return url


def push_folder(folder: str | os.PathLike, repo_id: str, *, private: bool = False, token: str | None = None,
                commit_message: str | None = None, api=None) -> str:
    """Create ``repo_id`` (if needed) and upload ``folder`` as one commit; returns the commit URL."""
    api, repo_id = create_repo(repo_id, private=private, token=token, api=api)
    return upload_folder(api, folder, repo_id, commit_message)


def push_dataset(folder: str | os.PathLike, repo_id: str, card, *, private: bool = False, token: str | None = None,
                 api=None) -> str:
    """Push a prepared dataset folder (``datasets.load_from_disk``) and its card; returns the dataset's URL.

    The card goes first: ``datasets``' ``push_to_hub`` reads the repo's README and adds the ``dataset_info`` and
    ``configs`` metadata it writes to what is there, so the card's licence, size category and text are kept and
    the Hub's viewer finds the splits. (A card pushed after the data would replace that metadata.)"""
    from datasets import load_from_disk
    from huggingface_hub import HfApi, get_token

    if api is None and not (token or get_token()):
        raise PushError(_no_token())
    api = api or HfApi(token=token)
    repo_id = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True).repo_id
    api.upload_file(path_or_fileobj=str(card).encode("utf-8"), path_in_repo="README.md", repo_id=repo_id,
                    repo_type="dataset", commit_message="Dataset card")
    load_from_disk(str(folder)).push_to_hub(repo_id, private=private, token=token)
    return f"https://huggingface.co/datasets/{repo_id}"
