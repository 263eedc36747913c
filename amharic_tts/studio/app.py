"""The studio page: six tabs in one ``gr.Blocks``, each built by its module (which holds the tab's logic)."""

from __future__ import annotations

from amharic_tts.studio.common import Workspace

TABS = (("1 · Data", "data"), ("2 · Tokenizer", "tokenizer"), ("3 · Train", "train"),
        ("4 · Synthesize", "synthesize"), ("5 · Evaluate", "evaluate"), ("6 · Publish", "publish"))
CSS = """
#train_log textarea { font-family: ui-monospace, monospace; font-size: 12px; }
"""


def build_app(ws: Workspace):
    """The ``gr.Blocks`` of the studio for a work folder."""
    import gradio as gr

    from amharic_tts.studio import data, evaluate, publish, synthesize, tokenizer, train

    with gr.Blocks(title="Amharic TTS studio", analytics_enabled=False) as demo:
        gr.Markdown(f"# Amharic TTS studio\nFrom your Amharic recordings to a voice, step by step. Base model: "
                    f"`{ws.base_model}` · work folder: `{ws.root}`"
                    + ("" if ws.allowed_roots is None else "\n\nThis page is reachable from other machines: folder "
                       f"paths typed in it are read only inside {ws.allowed_text()} (`--allow-path` adds folders)."),
                    elem_id="studio_header")
        with gr.Tabs():
            for label, key in TABS:
                with gr.Tab(label, id=key, elem_id=f"tab_{key}") as tab:
                    if key == "train":
                        train.build_tab(ws, tab, demo)
                    else:
                        {"data": data, "tokenizer": tokenizer, "synthesize": synthesize, "evaluate": evaluate,
                         "publish": publish}[key].build_tab(ws, tab)
    return demo


def launch(ws: Workspace, *, host: str = "127.0.0.1", port: int | None = 7860, share: bool = False,
           auth: tuple[str, str] | None = None, prevent_thread_lock: bool = False, quiet: bool = False):
    """Build and serve the page; returns the ``gr.Blocks`` (serving in the background with
    ``prevent_thread_lock``)."""
    demo = build_app(ws)
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=host, server_port=port, share=share, auth=auth, prevent_thread_lock=prevent_thread_lock,
                allowed_paths=[str(ws.root)], ssr_mode=False, quiet=quiet, show_error=False, css=CSS,
                footer_links=["gradio", "settings"], inbrowser=False)
    return demo
