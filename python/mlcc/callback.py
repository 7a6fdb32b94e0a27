"""Streaming callbacks for ChatModule.generate, shaped as MLC-LLM's mlc_chat.callback.

generate() hands a callback the text generated since its last call (the delta), every
`callback_interval` text pieces, then calls stopped_callback() once the reply is done.
Any callable taking the delta works as well.
"""

import sys


class DeltaCallback:
    """Base class: override delta_callback (and stopped_callback if needed)."""

    callback_interval = 1

    def callback(self, delta: str) -> None:
        self.delta_callback(delta)

    def delta_callback(self, delta: str) -> None:
        raise NotImplementedError

    def stopped_callback(self) -> None:
        pass


class StreamToStdout(DeltaCallback):
    """Prints the reply as it is generated, as MLC-LLM's StreamToStdout does."""

    def __init__(self, callback_interval: int = 2):
        self.callback_interval = callback_interval

    def delta_callback(self, delta: str) -> None:
        sys.stdout.write(delta)
        sys.stdout.flush()

    def stopped_callback(self) -> None:
        sys.stdout.write("\n")
        sys.stdout.flush()
