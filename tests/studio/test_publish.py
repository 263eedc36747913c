"""Publish tab: export through the package, the card previewed from the folder, push with a token that never
shows up anywhere."""

import json
import logging

import pytest

from amharic_tts.studio import publish
from amharic_tts.studio.common import StudioError

TOKEN = "hf_secretTOKEN1234567890"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_base_dir, smoke_run):
    from amharic_tts.studio.common import Workspace

    ws = Workspace(tmp_path_factory.mktemp("studio_publish"), str(tiny_base_dir))
    results = ws.dir("eval") / "checkpoint-12-test" / "results.json"
    results.parent.mkdir()
    results.write_text(json.dumps({"cer": 0.1234, "wer": 0.5, "speaker_similarity": 0.8, "rtf": 2.5,
                                   "dataset": "data", "split": "test", "sentences": 3, "asr_model": "tiny",
                                   "worst": [{"file": "wavs/0000.wav", "cer": 1.0}]}))
    result = publish.export(ws, str(smoke_run / "checkpoint-12"), evaluation=str(results.parent),
                            repo_id="user/chatterbox-amharic", samples=1)
    return ws, result


def test_export_writes_a_loadable_folder_with_its_card(exported, smoke_run):
    ws, result = exported
    assert result.folder == ws.dir("exports") / "run-checkpoint-12" and ws.exports() == [result.folder]
    assert result.step == 12 and (result.folder / "t3_am.safetensors").is_file()
    assert json.loads((result.folder / "evaluation.json").read_text()) == {
        "cer": 0.1234, "wer": 0.5, "speaker_similarity": 0.8, "rtf": 2.5, "dataset": "data", "split": "test",
        "sentences": 3, "asr_model": "tiny"}  # the per-sentence list stays out of the card
    metadata, body = publish.card_preview(result.folder)
    assert "language:\n- am" in metadata or "language: am" in metadata
    assert "pipeline_tag: text-to-speech" in metadata and "value: 0.1234" in metadata
    assert body.startswith("\n# chatterbox-amharic") or body.lstrip().startswith("# chatterbox-amharic")
    assert 'AmharicTTS.from_pretrained("user/chatterbox-amharic")' in body and "| CER | 0.1234 |" in body
    # one audio sample of the default voice, played by the card (as the command line's --samples)
    samples = result.folder / "samples"
    assert (samples / "01.wav").stat().st_size > 1000 and not (samples / "02.wav").exists()
    assert "url: samples/01.wav" in metadata
    assert '<audio controls src="https://huggingface.co/user/chatterbox-amharic/resolve/main/samples/01.wav">' in body


def test_push_sends_the_folder_with_the_typed_token(exported, recorded_hub, caplog):
    _, result = exported
    with caplog.at_level(logging.DEBUG):
        url = publish.push(str(result.folder), "user/chatterbox-amharic", token=f"  {TOKEN} ", private=True,
                           commit_message="first voice")
    assert url.startswith("https://huggingface.co/user/chatterbox-amharic/commit/")
    create = recorded_hub.find("/api/repos/create")[0]
    assert json.loads(create[3])["visibility"] == "private" and create[2]["authorization"] == f"Bearer {TOKEN}"
    commit = recorded_hub.find("/commit/")[0][3].decode("utf-8", errors="replace")
    assert "first voice" in commit and "t3_am.safetensors" in commit and "README.md" in commit
    assert TOKEN not in caplog.text and TOKEN not in url


def test_a_failed_push_never_repeats_the_token(exported, monkeypatch):
    import httpx
    import huggingface_hub
    from huggingface_hub.utils import _http

    def refuse(request):
        return httpx.Response(403, json={"error": f"the token {TOKEN} may not write to user"})

    huggingface_hub.set_client_factory(lambda: httpx.Client(transport=httpx.MockTransport(refuse)))
    try:
        with pytest.raises(StudioError) as err:
            publish.push(str(exported[1].folder), "user/chatterbox-amharic", token=TOKEN)
    finally:
        huggingface_hub.set_client_factory(_http.default_client_factory)
    assert str(err.value).startswith("pushing to user/chatterbox-amharic failed: ")
    assert TOKEN not in str(err.value) and "***" in str(err.value)


def test_push_without_any_token_says_what_to_do(exported, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(StudioError, match="no Hugging Face token: set HF_TOKEN"):
        publish.push(str(exported[1].folder), "user/chatterbox-amharic", token="")


def test_repo_ids_and_folders_are_checked(exported, tmp_path):
    ws, result = exported
    with pytest.raises(StudioError, match="as your-user-name/model-name"):
        publish.push(str(result.folder), "just-a-name")
    with pytest.raises(StudioError, match="exported for user/chatterbox-amharic .* export it again"):
        publish.push(str(result.folder), "other/repo")
    with pytest.raises(StudioError, match="not an exported model folder"):
        publish.push(str(tmp_path), "user/x")
    with pytest.raises(StudioError, match="Choose a run or checkpoint first"):
        publish.export(ws, None)
    with pytest.raises(StudioError, match="is not a Hub repo id"):
        publish.export(ws, str(result.folder), repo_id="no spaces/allowed here")
    with pytest.raises(Exception, match="is not a training run or checkpoint"):
        publish.export(ws, str(tmp_path))
