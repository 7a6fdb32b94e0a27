"""mlc_chat: MLC-LLM's package name for mlcc's ChatModule, so that scripts written for
MLC-LLM (`from mlc_chat import ChatModule`, `from mlc_chat.callback import StreamToStdout`)
run unchanged."""

import sys

from mlcc import ChatConfig, ChatModule, GenerationConfig, MLCCError, Tokenizer, callback

# `import mlc_chat.callback` looks in sys.modules before searching for a file.
sys.modules[__name__ + ".callback"] = callback

__all__ = ["ChatConfig", "ChatModule", "GenerationConfig", "MLCCError", "Tokenizer", "callback"]
