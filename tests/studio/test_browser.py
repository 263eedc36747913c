"""The studio end to end in a real headless Chromium (Playwright): `python -m amharic_tts.studio` on a free port
with the tiny base; prepare the bundled sample, build a tokenizer, train the smoke config and watch the loss plot
move, reload the page and find the run again, stop it, speak a sentence with its checkpoint.

Playwright's own browser download is not used: the test drives Debian's ``chromium`` (``apt-get install
chromium``; ``.ci/run`` installs it) through ``executable_path``, and skips, saying why, where there is none.
Screenshots of every tab go to the test's tmp folder; their paths are printed.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "samples" / "demo"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium found: install Debian's chromium (apt-get install chromium) to run the browser test")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def studio(tmp_path, tiny_base_dir):
    """The studio served by its own command in a subprocess; yields (url, workdir, log path)."""
    from amharic_tts.studio import jobs
    from amharic_tts.testing import free_port

    port = free_port()
    workdir, log_path = tmp_path / "workdir", tmp_path / "studio.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
           "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "amharic_tts.studio", "--port", str(port), "--workdir",
                                   str(workdir), "--base-model", str(tiny_base_dir)], stdout=log,
                                  stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"the studio exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail(f"the studio did not answer within 120 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, workdir, log_path
    finally:
        status = jobs.status(workdir / "jobs") if (workdir / "jobs").is_dir() else None
        if status is not None and status.active:  # never leave a training process behind
            os.killpg(status.job.pid, signal.SIGKILL)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_whole_workflow_in_a_real_browser(browser, studio, exported_model, tmp_path, capsys):
    from playwright.sync_api import expect

    url, workdir, log_path = studio
    shots = tmp_path / "screenshots"
    shots.mkdir()
    lj_zip = tmp_path / "ljspeech.zip"
    with zipfile.ZipFile(lj_zip, "w") as archive:
        for file in sorted((DEMO / "ljspeech").rglob("*")):
            archive.write(file, Path("ljspeech") / file.relative_to(DEMO / "ljspeech"))

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    saved = []

    def shot(name):
        path = shots / f"{len(saved) + 1}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)

    def open_tab(label):
        page.get_by_role("tab", name=label).click()

    def text_box(selector):  # a one-line gr.Textbox is an <input> or a <textarea> depending on its settings
        return page.locator(selector).locator("input, textarea").first

    try:
        page.goto(url)
        expect(page.get_by_role("tab", name="1 · Data")).to_be_visible(timeout=30_000)

        # 1. Data: the bundled sample, uploaded as a user would (media + .srt, LJSpeech folder as a zip)
        page.locator("#data_media input[type=file]").set_input_files([str(DEMO / "lecture.webm"),
                                                                      str(DEMO / "lecture.srt")])
        page.locator("#data_ljspeech_zip input[type=file]").set_input_files([str(lj_zip)])
        expect(page.locator('#data_media a[href$="lecture.srt"]')).to_have_count(1, timeout=30_000)
        expect(page.locator('#data_ljspeech_zip a[href$="ljspeech.zip"]')).to_have_count(1, timeout=30_000)
        text_box("#data_name").fill("demo")
        page.click("#data_prepare")
        expect(page.locator("#data_summary")).to_contain_text("segments kept", timeout=180_000)
        import json

        report = json.loads((workdir / "data" / "demo" / "prepare_report.json").read_text(encoding="utf-8"))
        segments = report["totals"]["segments"]
        assert segments > 0
        expect(page.locator("#data_summary")).to_contain_text(f"{segments} segments kept")
        expect(page.locator("#data_sources")).to_contain_text("lecture")
        expect(page.locator("#data_sources")).to_contain_text("sound_description_only")
        expect(page.locator("#data_clip audio[src]")).to_have_count(1, timeout=30_000)
        shot("data")

        # 2. Tokenizer: from the prepared dataset, a small vocabulary; the preview normalises and splits
        open_tab("2 · Tokenizer")
        expect(page.locator("#tok_datasets")).to_contain_text("data/demo", timeout=20_000)
        vocab = page.locator("#tok_vocab input[type=number]")
        vocab.fill("150")
        vocab.press("Enter")
        page.click("#tok_build")
        expect(page.locator("#tok_summary")).to_contain_text("Built tokenizers/tokenizer", timeout=120_000)
        expect(page.locator("#tok_report")).to_contain_text("tokens per character")
        expect(page.locator("#tok_normalized textarea")).to_have_value(re.compile("ሶስተኛ"))  # 3ኛ read out
        expect(page.locator("#tok_tokens")).to_contain_text("[am]")
        shot("tokenizer")

        # 3. Train: the smoke config, long enough to watch; the loss curve must move while it runs
        open_tab("3 · Train")
        expect(page.locator("#train_dataset input")).to_have_value("data/demo", timeout=20_000)
        expect(page.locator("#train_tokenizer input")).to_have_value("tokenizers/tokenizer")
        page.locator("#train_settings").get_by_text("Training settings").click()
        for key, value in (("max_steps", "400"), ("logging_steps", "1"), ("eval_steps", "1000"),
                           ("save_steps", "1000")):
            box = page.locator(f"#train_{key} input")
            box.fill(value)
            box.press("Tab")
        text_box("#train_name").fill("smoke")
        page.click("#train_start")
        status = page.locator("#train_status")
        expect(status).to_contain_text("running", timeout=30_000)
        expect(status).to_contain_text(re.compile(r"step \d+ of 400, loss"), timeout=120_000)
        line = page.locator("#train_loss_plot g.mark-line path").first
        expect(line).to_be_attached(timeout=30_000)
        first_step = _step(status.inner_text())
        first_curve = line.get_attribute("d")
        expect(status).to_contain_text(re.compile(rf"step (?!{first_step} )\d+ of 400"), timeout=60_000)
        page.wait_for_function(
            "([sel, before]) => { const p = document.querySelector(sel); return p && p.getAttribute('d') !== before }",
            arg=["#train_loss_plot g.mark-line path", first_curve], timeout=30_000)
        assert _step(status.inner_text()) > first_step
        shot("train-running")

        # the page is closed and opened again: it finds the run and keeps following it
        page.reload()
        open_tab("3 · Train")
        expect(page.locator("#train_run input")).to_have_value("runs/smoke", timeout=30_000)
        expect(status).to_contain_text("running", timeout=30_000)
        reattached = _step(status.inner_text())
        expect(status).to_contain_text(re.compile(rf"step (?!{reattached} )\d+ of 400"), timeout=60_000)

        # a graceful stop: a checkpoint, exit 0
        page.click("#train_stop")
        expect(status).to_contain_text("stopped", timeout=90_000)
        expect(status).to_contain_text(re.compile(r"latest checkpoint checkpoint-\d+"), timeout=30_000)
        exit_record = json.loads((workdir / "runs" / "smoke" / "studio_exit.json").read_text())
        assert exit_record["exit_code"] == 0
        checkpoints = sorted((workdir / "runs" / "smoke").glob("checkpoint-*"))
        assert len(checkpoints) == 1 and (checkpoints[0] / "model.safetensors").is_file()
        expect(page.locator("#train_log textarea")).to_have_value(re.compile("exited with code 0"), timeout=20_000)
        shot("train-stopped")

        # resume: the same run continues from its checkpoint (the next logged step follows the saved one)
        saved_step = int(checkpoints[0].name.split("-")[1])
        resumed_at = time.time()
        page.click("#train_resume")
        expect(status).to_contain_text("running", timeout=30_000)
        expect(status).to_contain_text(re.compile(rf"step (?!{saved_step} )\d+ of 400"), timeout=120_000)
        new_records = [json.loads(line) for line in (workdir / "runs" / "smoke" / "log.jsonl").read_text().splitlines()
                       if json.loads(line)["time"] > resumed_at]
        assert new_records[0]["step"] == saved_step + 1, new_records[:2]
        page.click("#train_stop")
        expect(status).to_contain_text("stopped", timeout=90_000)
        checkpoints = sorted((workdir / "runs" / "smoke").glob("checkpoint-*"), key=lambda p: int(p.name[11:]))
        assert int(checkpoints[-1].name[11:]) > saved_step
        assert json.loads((workdir / "runs" / "smoke" / "studio_exit.json").read_text())["exit_code"] == 0
        checkpoints = checkpoints[-1:]

        # 4. Synthesize. The page offers the checkpoint just saved; a few steps may have taught that model to stop
        # at once (then it rightly says it made no speech), so speak with an exported model typed in by path,
        # which is what a user does with a folder from `python -m amharic_tts.export`
        open_tab("4 · Synthesize")
        expect(page.locator("#synth_model input")).to_have_value(f"runs/smoke/{checkpoints[0].name}", timeout=20_000)
        page.locator("#synth_model input").fill(str(exported_model))
        page.locator("#synth_model input").press("Enter")
        expect(page.locator("#synth_model input")).to_have_value(str(exported_model), timeout=20_000)
        page.locator("#synth_text textarea").fill("ሰላም ነው።")
        page.click("#synth_speak")
        expect(page.locator("#synth_info")).to_contain_text("s of speech", timeout=240_000)
        audio = page.locator("#synth_output audio[src]")
        expect(audio).to_have_count(1, timeout=30_000)
        src = audio.get_attribute("src")
        assert src and src.endswith(".wav")
        body = page.request.get(src).body()
        assert body[:4] == b"RIFF" and len(body) > 1000
        shot("synthesize")
        # a failed action shows a readable message and leaves the earlier result in place
        page.locator("#synth_text textarea").fill("   ")
        page.click("#synth_speak")
        expect(page.locator(".toast-body")).to_contain_text("Type some Amharic text to speak.", timeout=30_000)
        assert "Traceback" not in page.content()
        expect(page.locator("#synth_output audio[src]")).to_have_attribute("src", src)

        # 5, 6: the remaining tabs, as they open
        open_tab("5 · Evaluate")
        expect(page.get_by_role("button", name="Evaluate")).to_be_visible()
        shot("evaluate")
        open_tab("6 · Publish")
        expect(page.get_by_role("button", name="Export")).to_be_visible()
        shot("publish")
    except Exception:
        page.screenshot(path=str(shots / "failure.png"), full_page=True)
        print(f"studio log (end):\n{log_path.read_text(errors='replace')[-4000:]}")
        train_log = workdir / "runs" / "smoke" / "train.log"
        if train_log.is_file():
            print(f"train.log (end):\n{train_log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        with capsys.disabled():
            print("\nstudio screenshots:\n  " + "\n  ".join(str(p) for p in saved or [shots]))
        page.close()


def _step(text: str) -> int:
    match = re.search(r"step (\d+) of", text)
    assert match, text
    return int(match.group(1))
