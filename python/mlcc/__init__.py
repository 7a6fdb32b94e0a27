"""mlcc: run models compiled by mlcc from Python.

    import mlcc
    cm = mlcc.ChatModule(model="dist/stories", model_lib_path="dist/libs/stories-cpu.so",
                         chat_config=mlcc.ChatConfig(temperature=0))
    print(cm.generate("Once upon a time", progress_callback=mlcc.callback.StreamToStdout()))
    print(cm.stats())

The same API is importable as `mlc_chat` for scripts written for MLC-LLM.
"""

from . import callback
from ._mlcc import MLCCError, Tokenizer, __version__
from .chat_module import ChatConfig, ChatModule, GenerationConfig

__all__ = ["ChatConfig", "ChatModule", "GenerationConfig", "MLCCError", "Tokenizer",
           "__version__", "callback"]
