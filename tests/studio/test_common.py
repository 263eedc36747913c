"""The studio's shared pieces: the work folder, names typed in the page, errors as readable messages."""

import pytest

from amharic_tts.studio.common import StudioError, Workspace, safe_name, ui, user_message


def test_the_work_folder_is_laid_out_and_listed(ws, tmp_path):
    for kind in ("uploads", "data", "tokenizers", "runs", "exports", "eval", "synth", "cache", "jobs"):
        assert (ws.root / kind).is_dir()
    (ws.dir("data") / "half").mkdir()  # not a dataset: no dataset_dict.json
    (ws.dir("data") / "ready").mkdir()
    (ws.dir("data") / "ready" / "dataset_dict.json").write_text("{}")
    assert ws.datasets() == [ws.dir("data") / "ready"]
    assert ws.choices(ws.datasets()) == [("data/ready", str(ws.dir("data") / "ready"))]
    assert ws.label(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")


def test_checkpoints_of_a_run_are_found_newest_step_first(ws, smoke_run):
    import shutil

    run = ws.dir("runs") / "smoke"
    shutil.copytree(smoke_run, run, ignore=shutil.ignore_patterns("optimizer.pt", "runs"))
    assert [ws.label(p) for p in ws.checkpoints()] == ["runs/smoke", "runs/smoke/checkpoint-12",
                                                       "runs/smoke/checkpoint-6"]
    assert ws.models() == ws.checkpoints()  # nothing exported yet


@pytest.mark.parametrize("typed, expected", [("my data", "my-data"), ("../../etc", "etc"), ("", "default"),
                                             ("ዳታ 1", "ዳታ-1"), ("a/b", "a-b")])
def test_names_typed_in_the_page_stay_inside_the_work_folder(typed, expected):
    assert safe_name(typed, "default") == expected


def test_errors_become_one_readable_message_without_a_traceback():
    import gradio as gr

    @ui
    def fails(kind):
        if kind == "user":
            raise StudioError("Choose a <dataset> first.")
        raise KeyError("surprise")

    with pytest.raises(gr.Error) as user:
        fails("user")
    assert user.value.message == "Choose a &lt;dataset&gt; first."  # shown as text, never as HTML
    with pytest.raises(gr.Error) as other:
        fails("bug")
    assert other.value.message == "KeyError: &#x27;surprise&#x27;"
    assert user.value.__cause__ is None and other.value.__suppress_context__
    assert user_message(ValueError("x" * 5000)).endswith("…") and len(user_message(ValueError("x" * 5000))) == 1500


def test_the_wrapped_function_keeps_its_signature_for_gradio():
    import inspect

    import gradio as gr

    @ui
    def action(a, b=1, progress=gr.Progress(track_tqdm=True)):
        return a + b

    assert list(inspect.signature(action).parameters) == ["a", "b", "progress"]
    assert action(1, 2) == 3


def test_workspace_resolves_its_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Workspace("rel/studio").root == tmp_path / "rel" / "studio"


def test_cancel_reaches_the_work_through_gradios_progress():
    import gradio as gr

    from amharic_tts.studio.common import Cancelled, CancelSwitch

    switch = CancelSwitch()
    progress = switch.watch(gr.Progress(track_tqdm=True), "the preparation")
    progress.update(1)  # outside an event Gradio reports nothing; the switch is not set
    progress(0.5, desc="working")
    switch.set()
    with pytest.raises(Cancelled, match="Cancelled: the preparation stopped"):
        progress.update(1)  # what every tqdm step of the package's loops calls under track_tqdm
    with pytest.raises(Cancelled):
        progress(0.6)
    switch.reset()
    progress.update(1)


def test_dropdowns_keep_the_current_choice_while_it_exists(tmp_path):
    from amharic_tts.studio.common import refreshed

    choices = [("data/new", "/w/data/new"), ("data/old", "/w/data/old")]
    assert refreshed(choices, "/w/data/old")["value"] == "/w/data/old"
    assert refreshed(choices, "/w/data/gone")["value"] == "/w/data/new"  # the newest
    assert refreshed(choices, None, optional=True)["value"] is None
    assert refreshed([], "/w/data/gone")["value"] is None
    assert refreshed(choices, "user/hub-model", typed=True)["value"] == "user/hub-model"  # a typed Hub id stays
    assert refreshed(choices, str(tmp_path), typed=True)["value"] == "/w/data/new"  # a local path must be listed
    assert refreshed(choices, ["/w/data/old", "/w/data/gone"], multiselect=True)["value"] == ["/w/data/old"]
    assert refreshed(choices, None, multiselect=True)["value"] == ["/w/data/new"]
    assert refreshed(choices, "/w/data/old")["choices"] == choices


def test_a_page_reachable_from_other_machines_reads_only_allowed_folders(tmp_path, tiny_base_dir, monkeypatch):
    """``--host``/``--share``: a folder typed in the page must lie in the work folder or an --allow-path folder;
    the page says so. A page only this machine reaches reads any folder."""
    from amharic_tts.studio import __main__ as studio_main, data as studio_data, publish, train
    from amharic_tts.studio.app import build_app

    corpus, secret = tmp_path / "corpus", tmp_path / "secret"
    for folder in (corpus, secret):
        (folder / "wavs").mkdir(parents=True)
        (folder / "metadata.csv").write_text("a|ሰላም\n", encoding="utf-8")
    remote = Workspace(tmp_path / "work", str(tiny_base_dir), allowed_roots=(corpus,))
    for call in (lambda: studio_data.gather_sources(remote, ljspeech_folder=str(secret)),
                 lambda: studio_data.gather_sources(remote, hub_dataset=str(secret)),
                 lambda: train.start_run(remote, choice="smoke", dataset=str(secret), tokenizer=str(secret)),
                 lambda: publish.push(str(secret), "user/x", ws=remote),
                 lambda: studio_data.gather_sources(remote, ljspeech_folder=str(corpus / ".." / "secret"))):
        with pytest.raises(StudioError, match="outside the folders this studio may read"):
            call()
    specs, _ = studio_data.gather_sources(remote, ljspeech_folder=str(corpus))  # an allowed folder
    assert [s.path for s in specs] == [str(corpus)]
    local = Workspace(tmp_path / "work", str(tiny_base_dir))
    assert [s.path for s in studio_data.gather_sources(local, ljspeech_folder=str(secret))[0]] == [str(secret)]
    header = next(b for b in build_app(remote).blocks.values() if getattr(b, "elem_id", None) == "studio_header")
    assert "reachable from other machines" in header.value and str(corpus) in header.value

    seen = {}
    monkeypatch.setattr("amharic_tts.studio.app.launch", lambda ws, **kw: seen.update(ws=ws, **kw))
    assert studio_main.main(["--host", "0.0.0.0", "--workdir", str(tmp_path / "w"), "--allow-path", str(corpus),
                             "--auth", "a:b"]) == 0
    assert seen["ws"].allowed_roots == ((tmp_path / "w").resolve(), corpus.resolve())
    assert studio_main.main(["--workdir", str(tmp_path / "w")]) == 0
    assert seen["ws"].allowed_roots is None
