"""The amharic-tts studio: the whole workflow (data, tokenizer, training, synthesis, evaluation, publishing) in one
Gradio page, built on the same package functions the command-line tools call.

    python -m amharic_tts.studio [--host 127.0.0.1] [--port 7860] [--workdir runs/studio] [--share]
                                 [--auth user:pass] [--base-model ResembleAI/chatterbox]

One module per tab (``data``, ``tokenizer``, ``train``, ``synthesize``, ``evaluate``, ``publish``): each holds
plain functions (paths and values in, values out) and a ``build_tab`` that only wires them to Gradio components.
``jobs`` runs training in the background so it outlives the page. Importing this package does not import Gradio.
"""
