"""Train tab: start ``train_t3.py`` in the background, watch its curves, log and audio samples, stop and resume.

The run is the CLI itself (``accelerate launch -m amharic_tts.train X --key value``), started and
followed by :mod:`amharic_tts.studio.jobs`; curves come from :func:`amharic_tts.training.trainer.read_log`
(``OUTPUT/log.jsonl``), samples from ``OUTPUT/samples/step-N``.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, fields
from pathlib import Path

from amharic_tts.studio import jobs
from amharic_tts.studio.common import StudioError, Workspace, existing_path, timestamp

CONFIGS = {"smoke": "smoke", "full": "amharic", "lora": "amharic_lora"}
CONFIG_LABELS = [("smoke test: a few CPU steps (checks that everything fits together)", "smoke"),
                 ("full fine-tune (GPU)", "full"), ("LoRA (GPU with ~12 GB)", "lora")]
# the settings the page shows, in order: (key, label, type)
HYPERPARAMETERS = (
    ("max_steps", "steps (-1: train for the epochs below)", int),
    ("num_train_epochs", "epochs", float),
    ("learning_rate", "learning rate", float),
    ("per_device_train_batch_size", "batch size per device", int),
    ("gradient_accumulation_steps", "gradient accumulation", int),
    ("warmup_steps", "warm-up steps", int),
    ("logging_steps", "log every N steps", int),
    ("eval_steps", "evaluate every N steps", int),
    ("save_steps", "checkpoint every N steps", int),
    ("sample_steps", "audio samples every N steps (0: at the end)", int),
    ("lora_r", "LoRA rank (LoRA only)", int),
)
LOSS_SERIES = {"loss": "training loss", "speech_loss": "speech loss", "eval_speech_loss": "validation speech loss"}
ACCURACY_SERIES = {"speech_accuracy": "speech-token accuracy",
                   "eval_speech_accuracy": "validation speech-token accuracy"}


def config_path(choice: str) -> Path:
    """The shipped training config (package data) of a choice."""
    from amharic_tts.configs import config_file

    if choice not in CONFIGS:
        raise StudioError(f"unknown configuration {choice!r}; choose one of {', '.join(CONFIGS)}")
    return config_file("train", CONFIGS[choice])


def config_defaults(ws: Workspace, choice: str) -> dict:
    """The shown settings of a configuration: its YAML over the argument dataclasses' defaults (read without
    building ``TrainingArguments``, which refuses bf16 configs on a machine without a GPU)."""
    from amharic_tts.cli import load_yaml
    from amharic_tts.training.args import DataArguments, ModelArguments, T3TrainingArguments

    values = {}
    for cls in (ModelArguments, DataArguments, T3TrainingArguments):
        for f in fields(cls):
            if f.default is not MISSING:
                values[f.name] = f.default
    values.update(load_yaml(config_path(choice)))
    return {key: kind(values[key]) for key, _, kind in HYPERPARAMETERS if values.get(key) is not None}


def start_run(ws: Workspace, *, choice: str, dataset: str | None, tokenizer: str | None, name: str | None = None,
              settings: dict | None = None, num_processes: int = 1, launcher: str = "accelerate") -> jobs.Job:
    """Start a new run ``runs/NAME`` with the configuration and the changed settings."""
    import torch

    dataset_dir = existing_path(dataset, "a prepared dataset", ws)
    tokenizer_dir = existing_path(tokenizer, "a tokenizer", ws)
    output = ws.new_dir("runs", name, f"{choice}-{timestamp()}")
    if output.exists() and any(output.iterdir()):
        raise StudioError(f"the run {ws.label(output)} already exists: resume it, or give the new run another name")
    overrides = {}
    for key, _, kind in HYPERPARAMETERS:
        value = (settings or {}).get(key)
        if value is None or value == "":
            continue
        if key == "lora_r" and choice != "lora":
            continue
        overrides[key] = kind(value)
    if choice != "smoke" and not torch.cuda.is_available():  # bf16 configs refuse a CPU; let it run, slowly
        overrides.update(use_cpu=True, bf16=False)
    command = jobs.training_command(config_path(choice), base_model=ws.base_model,
                                    tokenizer=str(tokenizer_dir), dataset=str(dataset_dir), output_dir=output,
                                    overrides=overrides, num_processes=num_processes, launcher=launcher)
    return jobs.start(ws.dir("jobs"), command, output)


def stop_run(ws: Workspace) -> jobs.JobStatus:
    return jobs.stop(ws.dir("jobs"))


def resume_run(ws: Workspace, run_dir: str | None) -> jobs.Job:
    return jobs.resume(ws.dir("jobs"), existing_path(run_dir, "a run", ws))


# ----------------------------------------------------------------------------------------------- watching


def curves(records: list[dict]):
    """``(loss, accuracy)`` DataFrames in long form (step, value, series) for ``gr.LinePlot``."""
    import pandas as pd

    def frame(series: dict):
        rows = [{"step": int(r["step"]), "value": float(r[key]), "series": label}
                for r in records for key, label in series.items()
                if isinstance(r.get(key), (int, float)) and r.get("step") is not None]
        return pd.DataFrame(rows, columns=["step", "value", "series"])

    return frame(LOSS_SERIES), frame(ACCURACY_SERIES)


def log_tail(path: str | Path, lines: int = 40, max_bytes: int = 200_000) -> str:
    """The last ``lines`` lines of a log, progress bars' carriage-return updates reduced to their last state."""
    path = Path(path)
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - max_bytes))
        text = handle.read().decode("utf-8", errors="replace")
    out = []
    for line in text.split("\n"):  # not splitlines(): it also splits at the bars' \r
        parts = [p for p in line.split("\r") if p.strip()]
        if parts:
            out.append(parts[-1].rstrip())
    return "\n".join(out[-lines:])


def latest_samples(run_dir: str | Path) -> list[dict]:
    """``{step, index, text, wav}`` of the newest ``samples/step-N`` folder holding audio."""
    folders = sorted(Path(run_dir, "samples").glob("step-*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0),
                     reverse=True)
    for folder in folders:
        index = folder / "samples.json"
        if not index.is_file():
            continue
        try:
            records = json.loads(index.read_text(encoding="utf-8"))
        except json.JSONDecodeError:  # being written
            continue
        found = [{"step": r["step"], "index": r["index"], "text": r["text"], "wav": r["wav"]}
                 for r in records if r.get("wav") and Path(r["wav"]).is_file()]
        if found:
            return found
    return []


def run_status(ws: Workspace, run_dir: str | Path | None) -> dict:
    """Everything the page shows about a run: state line, curves, log tail, samples."""
    from amharic_tts.formats import CONFIG_FILE, SUMMARY_FILE, latest_checkpoint, read_train_config
    from amharic_tts.training.trainer import read_log

    job_status = jobs.status(ws.dir("jobs"))
    if not run_dir:
        return {"state": job_status.state, "active": job_status.active, "text": "No run yet.", "records": [],
                "log": "", "samples": []}
    run_dir = Path(run_dir)
    same = job_status.job is not None and Path(job_status.job.output_dir) == run_dir
    state = job_status.state if same else ("finished" if (run_dir / SUMMARY_FILE).is_file() else "idle")
    records = read_log(str(run_dir))
    train = [r for r in records if "loss" in r]
    max_steps = None
    if (run_dir / CONFIG_FILE).is_file():
        max_steps = read_train_config(run_dir).get("training", {}).get("max_steps")
    parts = [f"**{state}**"]
    if train:
        last = train[-1]
        total = f" of {max_steps}" if max_steps and max_steps > 0 else ""
        parts.append(f"step {last['step']}{total}, loss {last['loss']:.3f}")
        if "speech_accuracy" in last:
            parts.append(f"speech-token accuracy {last['speech_accuracy']:.3f}")
    checkpoint = latest_checkpoint(str(run_dir))
    if checkpoint:
        parts.append(f"latest checkpoint `{Path(checkpoint).name}`")
    if same and job_status.message:
        parts.append(job_status.message)
    return {"state": state, "active": same and job_status.active, "text": " · ".join(parts), "records": records,
            "log": log_tail(run_dir / jobs.LOG_FILE), "samples": latest_samples(run_dir),
            "points": len(train)}


# ----------------------------------------------------------------------------------------------- the tab


def build_tab(ws: Workspace, tab, demo) -> dict:
    import gradio as gr

    from amharic_tts.studio.common import refreshed, ui, warn

    defaults = config_defaults(ws, "smoke")
    gr.Markdown("Training runs in the background: you may close this page and come back; it finds the run again. "
                "**Stop** saves a checkpoint first, so **Resume** continues where it stopped. Start with the smoke "
                "test to check that everything fits, then train for real on a GPU.")
    with gr.Row():
        choice = gr.Radio(CONFIG_LABELS, value="smoke", label="configuration", elem_id="train_config")
        dataset = gr.Dropdown(label="prepared dataset", choices=ws.choices(ws.datasets()), elem_id="train_dataset")
        tokenizer = gr.Dropdown(label="tokenizer", choices=ws.choices(ws.tokenizers()), elem_id="train_tokenizer")
    with gr.Accordion("Training settings", open=False, elem_id="train_settings"):
        boxes = []
        with gr.Row(equal_height=True):
            for key, label, kind in HYPERPARAMETERS:
                boxes.append(gr.Number(label=label, value=defaults.get(key), precision=0 if kind is int else None,
                                       elem_id=f"train_{key}", min_width=140))
        processes = gr.Number(label="processes (GPUs)", value=1, precision=0, minimum=1)
    with gr.Row():
        name = gr.Textbox(label="run name (empty: configuration and time)", elem_id="train_name")
        start = gr.Button("Start training", variant="primary", elem_id="train_start")
        stop = gr.Button("Stop (saves a checkpoint)", variant="stop", elem_id="train_stop")
        resume = gr.Button("Resume", elem_id="train_resume")
    with gr.Row():
        run = gr.Dropdown(label="run", choices=ws.choices(ws.runs()), elem_id="train_run")
        status = gr.Markdown(elem_id="train_status")
    with gr.Row():
        loss_plot = gr.LinePlot(x="step", y="value", color="series", title="loss", y_title="loss", color_title="",
                                show_label=False, elem_id="train_loss_plot", height=320)
        acc_plot = gr.LinePlot(x="step", y="value", color="series", title="speech-token accuracy",
                               y_title="accuracy", color_title="", show_label=False, elem_id="train_accuracy_plot",
                               height=320, y_lim=[0, 1])
    with gr.Row():
        log = gr.Textbox(label="log (last lines)", lines=12, max_lines=12, interactive=False, elem_id="train_log")
        with gr.Column():
            sample = gr.Audio(label="latest audio sample", type="filepath", interactive=False, elem_id="train_sample")
            sample_text = gr.Textbox(label="sample text", interactive=False)
    seen = gr.State({})
    timer = gr.Timer(2.0, active=False)

    def view(run_dir, previous):
        try:
            info = run_status(ws, run_dir)
        except Exception as err:  # noqa: BLE001 - a poll never raises into the page; it says what is wrong
            from amharic_tts.studio.common import user_message

            return (f"Cannot read {run_dir}: {user_message(err)}", *(gr.skip(),) * 5, previous,
                    gr.Timer(active=False))
        loss_df, acc_df = curves(info["records"])
        key = {"points": len(info["records"]), "log": info["log"][-500:], "run": run_dir,
               "sample": info["samples"][0]["wav"] if info["samples"] else None}
        previous = previous or {}
        changed = key["points"] != previous.get("points") or key["run"] != previous.get("run")
        log_changed = key["log"] != previous.get("log") or key["run"] != previous.get("run")
        sample_changed = key["sample"] != previous.get("sample")
        first = info["samples"][0] if info["samples"] else None
        sample_label = f"step {first['step']}: {first['text']}" if first else ""
        return (info["text"], loss_df if changed else gr.skip(), acc_df if changed else gr.skip(),
                info["log"] if log_changed else gr.skip(), (first["wav"] if first else None) if sample_changed
                else gr.skip(), sample_label if sample_changed else gr.skip(), key,
                gr.Timer(active=info["active"]))

    watch_outputs = [status, loss_plot, acc_plot, log, sample, sample_text, seen, timer]

    @ui
    def on_choice(selected):
        values = config_defaults(ws, selected)
        return [gr.update(value=values.get(key)) for key, _, _ in HYPERPARAMETERS]

    @ui
    def on_start(selected, data_dir, tok_dir, run_name, n_proc, *values):
        settings = {key: value for (key, _, _), value in zip(HYPERPARAMETERS, values)}
        job = start_run(ws, choice=selected, dataset=data_dir, tokenizer=tok_dir, name=run_name,
                        settings=settings, num_processes=int(n_proc or 1))
        if selected != "smoke":
            import torch

            if not torch.cuda.is_available():
                warn("No GPU on this machine: this configuration will train on the CPU, very slowly.")
        gr.Info(f"Started {ws.label(job.output_dir)}")
        return gr.update(choices=ws.choices(ws.runs()), value=job.output_dir), *view(job.output_dir, {})

    @ui
    def on_stop(run_dir, previous):
        stop_run(ws)
        return view(run_dir, previous)

    @ui
    def on_resume(run_dir):
        job = resume_run(ws, run_dir)
        return gr.update(choices=ws.choices(ws.runs()), value=job.output_dir), *view(job.output_dir, {})

    def on_load(run_dir):
        """Reattach: a reopened page shows the recorded job's run and follows it while it goes on."""
        job = jobs.load_job(ws.dir("jobs"))
        target = job.output_dir if job is not None and Path(job.output_dir).is_dir() else run_dir
        return gr.update(choices=ws.choices(ws.runs()), value=target), *view(target, {})

    # keep the newest log lines in view (Textbox's autoscroll does not follow values set by events)
    log.change(None, None, None, js="() => { setTimeout(() => { const t = document.querySelector('#train_log "
                                   "textarea'); if (t) t.scrollTop = t.scrollHeight; }, 50); }")
    choice.input(on_choice, [choice], boxes)
    start.click(on_start, [choice, dataset, tokenizer, name, processes, *boxes], [run, *watch_outputs],
                show_progress_on=[status])
    stop.click(on_stop, [run, seen], watch_outputs, show_progress_on=[status])
    resume.click(on_resume, [run], [run, *watch_outputs], show_progress_on=[status])
    run.input(lambda r: view(r, {}), [run], watch_outputs)
    timer.tick(view, [run, seen], watch_outputs, show_progress="hidden")
    demo.load(on_load, [run], [run, *watch_outputs])

    def refresh(current_data, current_tok, current_run):
        return (refreshed(ws.choices(ws.datasets()), current_data),
                refreshed(ws.choices(ws.tokenizers()), current_tok), refreshed(ws.choices(ws.runs()), current_run))

    tab.select(refresh, [dataset, tokenizer, run], [dataset, tokenizer, run])
    return {"run": run}

