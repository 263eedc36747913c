"""The page and the command: six tabs wired to the tab modules; safe defaults on the command line."""

import pytest

from amharic_tts.studio.__main__ import build_parser, main, parse_auth


def test_the_page_has_the_six_steps(ws):
    import gradio as gr

    from amharic_tts.studio.app import build_app

    demo = build_app(ws)
    tabs = [block.label for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    assert tabs == ["1 · Data", "2 · Tokenizer", "3 · Train", "4 · Synthesize", "5 · Evaluate", "6 · Publish"]
    timers = [block for block in demo.blocks.values() if isinstance(block, gr.Timer)]
    assert len(timers) == 1 and timers[0].value == 2.0  # the Train tab polls the running job
    passwords = [b for b in demo.blocks.values() if isinstance(b, gr.Textbox) and b.type == "password"]
    assert [b.label for b in passwords] == ["Hugging Face token (empty: HF_TOKEN or hf auth login)"]
    names = {fn.name for fn in demo.fns.values()}
    assert {"on_prepare", "on_build", "on_start", "on_stop", "on_resume", "on_load", "on_speak", "on_run",
            "on_export", "on_push"} <= names


def test_command_line_defaults_bind_to_this_machine_only():
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.workdir, args.share, args.auth) == ("127.0.0.1", 7860, "runs/studio", False,
                                                                          None)
    assert args.base_model == "ResembleAI/chatterbox"
    assert parse_auth("ana:se:cret") == ("ana", "se:cret") and parse_auth(None) is None


@pytest.mark.parametrize("value", ["nopassword", ":x", "user:"])
def test_a_malformed_auth_is_refused(value, capsys):
    assert main(["--auth", value]) == 2
    assert "error: --auth must be USER:PASS" in capsys.readouterr().err


def test_with_auth_nothing_is_served_before_logging_in(ws):
    import httpx

    from amharic_tts.studio.app import launch
    from amharic_tts.testing import free_port

    port = free_port()
    demo = launch(ws, port=port, auth=("ana", "s3cret"), prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/config").status_code == 401
        assert httpx.post(f"{url}/login", data={"username": "ana", "password": "wrong"}).status_code == 400
        with httpx.Client() as client:
            assert client.post(f"{url}/login", data={"username": "ana", "password": "s3cret"}).json() == {
                "success": True}
            config = client.get(f"{url}/config").json()
        assert [c["props"].get("label") for c in config["components"] if c["type"] == "tabitem"][:2] == [
            "1 · Data", "2 · Tokenizer"]
    finally:
        demo.close()
