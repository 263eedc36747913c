"""Publish tab: export a checkpoint as a Hub-ready model folder, preview its model card, push it to the Hub.

The work is :func:`amharic_tts.export.export_model` (which writes the card with :func:`amharic_tts.hub.model_card`)
and :func:`amharic_tts.hub.push_folder`. The token comes from the page's password field, else ``HF_TOKEN`` or the
login cache; it is never written to the page, the log or an error message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from amharic_tts.studio.common import StudioError, Workspace, existing_path, read_json, require

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _evaluation(results_path: str | Path | None) -> dict | None:
    """The numbers of an evaluation's ``results.json`` for the card (the per-sentence list left out)."""
    if not results_path:
        return None
    path = Path(results_path)
    path = path / "results.json" if path.is_dir() else path
    results = read_json(path, f"evaluation results {path} do not exist")
    return {k: v for k, v in results.items() if k != "worst"}


def export(ws: Workspace, checkpoint: str | None, *, name: str | None = None, dtype: str = "float32",
           include_base: bool = False, evaluation: str | None = None, repo_id: str | None = None,
           license: str = "mit", samples: int = 0):
    """Export a run or checkpoint to ``exports/NAME`` (with ``samples`` audio samples of the default voice on the
    card, as the command line's ``--samples``); returns :class:`amharic_tts.export.ExportResult`."""
    from amharic_tts.export import export_model

    source = existing_path(checkpoint, "a run or checkpoint", ws)
    repo_id = (repo_id or "").strip() or None
    if repo_id and not REPO_ID.match(repo_id):
        raise StudioError(f"{repo_id!r} is not a Hub repo id: type it as your-user-name/model-name")
    default = f"{source.parent.name}-{source.name}" if source.name.startswith("checkpoint-") else source.name
    return export_model(source, ws.new_dir("exports", name, default), dtype=dtype, include_base=bool(include_base),
                        license=(license or "mit").strip(), evaluation=_evaluation(evaluation), repo_id=repo_id,
                        samples=int(samples or 0))


def card_preview(folder: str | Path) -> tuple[str, str]:
    """``(YAML metadata, Markdown body)`` of an exported folder's ``README.md``."""
    card = Path(folder) / "README.md"
    if not card.is_file():
        raise StudioError(f"{folder} has no model card (README.md): export it first")
    text = card.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n?(.*)$", text, flags=re.DOTALL)
    return (match.group(1), match.group(2)) if match else ("", text)


def push(folder: str | None, repo_id: str | None, *, private: bool = True, token: str | None = None,
         commit_message: str | None = None, ws: Workspace | None = None) -> str:
    """Push an exported folder to ``repo_id`` (created if needed); returns the commit URL."""
    from amharic_tts.formats import MODEL_CONFIG_FILE
    from amharic_tts.hub import push_folder

    source = existing_path(folder, "an exported model folder", ws)
    if not (source / MODEL_CONFIG_FILE).is_file():
        raise StudioError(f"{source} is not an exported model folder (no {MODEL_CONFIG_FILE})")
    repo_id = require((repo_id or "").strip(), "Type the Hub repo to push to, as your-user-name/model-name.")
    if not REPO_ID.match(repo_id):
        raise StudioError(f"{repo_id!r} is not a Hub repo id: type it as your-user-name/model-name")
    card_repo = json.loads((source / MODEL_CONFIG_FILE).read_text(encoding="utf-8")).get("repo_id")
    if card_repo and card_repo != repo_id:
        raise StudioError(f"this folder was exported for {card_repo} (its model card names it); export it again "
                          f"with the repo id {repo_id}, or push it to {card_repo}")
    token = (token or "").strip() or None
    try:
        return push_folder(source, repo_id, private=bool(private), token=token,
                           commit_message=(commit_message or "").strip() or None)
    except Exception as err:  # noqa: BLE001 - say what went wrong without ever repeating the token
        from amharic_tts.studio.common import user_message

        message = user_message(err)
        if token:
            message = message.replace(token, "***")
        raise StudioError(f"pushing to {repo_id} failed: {message}") from None


# ----------------------------------------------------------------------------------------------- the tab


def build_tab(ws: Workspace, tab) -> dict:
    import gradio as gr

    from amharic_tts.export import CARD_SAMPLE_TEXTS, DTYPES
    from amharic_tts.studio.common import refreshed, ui

    gr.Markdown("**Export** turns a checkpoint into a model folder anyone can load with "
                "`AmharicTTS.from_pretrained`, with a model card. **Push** uploads it to your Hugging Face "
                "account (a write token from huggingface.co/settings/tokens, or `HF_TOKEN` / `hf auth login` on "
                "this machine).")
    with gr.Row():
        checkpoint = gr.Dropdown(label="run or checkpoint", choices=ws.choices(ws.checkpoints()))
        name = gr.Textbox(label="export name (empty: run and step)")
        dtype = gr.Radio(list(DTYPES), value="float32", label="weights")
    with gr.Row():
        repo = gr.Textbox(label="Hub repo id (named in the card)", placeholder="your-user-name/chatterbox-amharic")
        evaluation = gr.Dropdown(label="evaluation results for the card (optional)",
                                 choices=ws.choices(ws.evaluations()))
        include = gr.Checkbox(label="include the base's S3Gen and voice encoder (a standalone repo)", value=False)
        license_box = gr.Textbox(label="license", value="mit")
        samples = gr.Slider(0, len(CARD_SAMPLE_TEXTS), value=len(CARD_SAMPLE_TEXTS), step=1,
                            label="audio samples on the card (the default voice speaking fixed sentences)")
    export_button = gr.Button("Export", variant="primary")
    exported = gr.Dropdown(label="exported folder", choices=ws.choices(ws.exports()))
    with gr.Accordion("Model card", open=True):
        metadata = gr.Code(label="metadata", language="yaml", interactive=False)
        body = gr.Markdown()
    with gr.Row():
        token = gr.Textbox(label="Hugging Face token (empty: HF_TOKEN or hf auth login)", type="password")
        private = gr.Checkbox(label="private repo", value=True)
        message = gr.Textbox(label="commit message (optional)")
    push_button = gr.Button("Push to the Hub")
    pushed = gr.Markdown()

    @ui
    def on_export(source, export_name, weights, repo_id, results, with_base, license_name, sample_count,
                  progress=gr.Progress(track_tqdm=True)):
        progress(0, desc="exporting")
        result = export(ws, source, name=export_name, dtype=weights, include_base=with_base, evaluation=results,
                        repo_id=repo_id, license=license_name, samples=sample_count)
        meta, text = card_preview(result.folder)
        return gr.update(choices=ws.choices(ws.exports()), value=str(result.folder)), meta, text

    @ui
    def on_pick(folder):
        if not folder:
            return "", ""
        return card_preview(folder)

    @ui
    def on_push(folder, repo_id, token_value, is_private, commit, progress=gr.Progress(track_tqdm=True)):
        progress(0, desc="uploading")
        url = push(folder, repo_id, private=is_private, token=token_value, commit_message=commit, ws=ws)
        return f"Pushed: {url}", ""  # the token field is cleared

    export_button.click(on_export, [checkpoint, name, dtype, repo, evaluation, include, license_box, samples],
                        [exported, metadata, body], show_progress_on=[exported])
    exported.input(on_pick, [exported], [metadata, body])
    push_button.click(on_push, [exported, repo, token, private, message], [pushed, token], show_progress_on=[pushed])

    def refresh(current_checkpoint, current_eval, current_export):
        return (refreshed(ws.choices(ws.checkpoints()), current_checkpoint),
                refreshed(ws.choices(ws.evaluations()), current_eval, optional=True),
                refreshed(ws.choices(ws.exports()), current_export))

    tab.select(refresh, [checkpoint, evaluation, exported], [checkpoint, evaluation, exported])
    return {"checkpoint": checkpoint}
