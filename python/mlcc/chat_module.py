"""ChatModule, ChatConfig and GenerationConfig as MLC-LLM's users know them, over the
runtime's Chat (bound in _mlcc). Configs map MLC-LLM's field names onto
mlcc-chat-config.json's, which the runtime applies as overrides when it opens the model.
"""

import dataclasses
import json
import warnings
from typing import Any, Callable, List, Optional, Union

from . import _mlcc

# MLC-LLM's names for mlcc-chat-config.json fields. Other fields pass through as they are;
# the runtime refuses unknown ones, naming the fields it has.
_ALIASES = {"max_gen_len": "max_new_tokens", "max_tokens": "max_new_tokens"}
# Per-generation settings that the chat config file does not hold.
_GENERATION_ONLY = {"seed", "stop", "stop_token_ids"}
# MLC-LLM fields with no meaning here: accepted so that MLC code runs, ignored with a
# warning when set.
_IGNORED = {
    "model_lib", "local_id", "mean_gen_len", "shift_fill_factor", "conv_config",
    "model_category", "model_name", "tensor_parallel_shards", "use_presharded_weights",
    "sliding_window_size", "attention_sink_size", "max_batch_size", "opt", "n",
    "presence_penalty", "frequency_penalty",
}


@dataclasses.dataclass
class ChatConfig:
    """Overrides of the model directory's mlcc-chat-config.json; None keeps the file's value.

    Field names are MLC-LLM's ChatConfig's (max_gen_len is mlcc's max_new_tokens); MLC
    fields mlcc has no use for are accepted and ignored.
    """

    conv_template: Optional[str] = None
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    top_k: Optional[int] = None
    repetition_penalty: Optional[float] = None
    max_gen_len: Optional[int] = None
    context_window_size: Optional[int] = None
    prefill_chunk_size: Optional[int] = None
    tokenizer_files: Optional[List[str]] = None
    seed: Optional[int] = None
    stop: Optional[List[str]] = None
    # MLC-LLM fields without effect in mlcc.
    model_lib: Optional[str] = None
    local_id: Optional[str] = None
    mean_gen_len: Optional[int] = None
    shift_fill_factor: Optional[float] = None
    conv_config: Optional[dict] = None
    model_category: Optional[str] = None
    model_name: Optional[str] = None
    tensor_parallel_shards: Optional[int] = None
    sliding_window_size: Optional[int] = None
    attention_sink_size: Optional[int] = None
    max_batch_size: Optional[int] = None


@dataclasses.dataclass
class GenerationConfig:
    """Settings for one generate() call, as MLC-LLM's GenerationConfig; None: the chat's."""

    temperature: Optional[float] = None
    top_p: Optional[float] = None
    top_k: Optional[int] = None
    repetition_penalty: Optional[float] = None
    max_gen_len: Optional[int] = None
    seed: Optional[int] = None
    stop: Optional[List[str]] = None
    stop_token_ids: Optional[List[int]] = None


def _config_items(config: Any, what: str) -> dict:
    """The set fields of a dict or an object with attributes, under mlcc's names."""
    if config is None:
        return {}
    items = dict(config) if isinstance(config, dict) else dict(vars(config))
    result = {}
    for key, value in items.items():
        if value is None or key.startswith("_"):
            continue
        key = _ALIASES.get(key, key)
        if key in _IGNORED:
            warnings.warn(f"{what}: '{key}' has no effect in mlcc; ignored", stacklevel=3)
            continue
        result[key] = value
    return result


_PER_GENERATION = ("temperature", "top_p", "top_k", "repetition_penalty", "max_gen_len", "seed",
                   "stop", "stop_token_ids")


def _apply_generation(cfg: "_mlcc.GenerationConfig", items: dict, what: str) -> None:
    for key, value in items.items():
        if key in ("temperature", "top_p", "top_k", "repetition_penalty", "seed"):
            setattr(cfg.sampling, key, value)
        elif key == "max_new_tokens":
            cfg.max_new_tokens = value
        # Stops add to the conversation template's, which the chat needs to end a turn.
        elif key == "stop":
            added = [value] if isinstance(value, str) else list(value)
            cfg.stop_strings = cfg.stop_strings + [s for s in added if s not in cfg.stop_strings]
        elif key == "stop_token_ids":
            cfg.stop_token_ids = cfg.stop_token_ids + [
                i for i in value if i not in cfg.stop_token_ids]
        else:
            raise ValueError(
                f"{what}: '{key}' cannot change between generations (these can: "
                f"{', '.join(_PER_GENERATION)}); other fields are set by the chat_config "
                "a ChatModule is created with")


class _Streamer:
    """Feeds the runtime's text pieces to a progress callback, callback_interval at a time."""

    def __init__(self, progress_callback: Any):
        emit = getattr(progress_callback, "callback", None)
        if emit is None:
            if not callable(progress_callback):
                raise TypeError("progress_callback: expected an object with a callback(delta) "
                                "method or a callable taking the delta")
            emit = progress_callback
        self._emit: Callable[[str], None] = emit
        self._stopped = getattr(progress_callback, "stopped_callback", None)
        self._interval = max(1, int(getattr(progress_callback, "callback_interval", 1)))
        self._pending: List[str] = []

    def __call__(self, piece: str) -> None:
        self._pending.append(piece)
        if len(self._pending) >= self._interval:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            delta = "".join(self._pending)
            self._pending.clear()
            self._emit(delta)

    def finish(self) -> None:
        self._flush()
        if self._stopped is not None:
            self._stopped()


class ChatModule:
    """A chat with one model, as MLC-LLM's mlc_chat.ChatModule.

    model: a model directory (weights, mlcc-chat-config.json, tokenizer), or a name looked
    up as MLC-LLM does (NAME, dist/NAME, dist/prebuilt/NAME). model_lib_path: the compiled
    library; None looks for dist/libs/NAME-DEVICE.so. device: "auto", "cpu", "cuda",
    "cuda:N", "rocm", "rocm:N", "vulkan", "vulkan:N". chat_config: a ChatConfig, a dict, or any object with those attributes.
    Failures raise mlcc.MLCCError naming the file and what was expected.
    """

    def __init__(self, model: str, model_lib_path: Optional[str] = None, device: str = "auto",
                 chat_config: Union[ChatConfig, dict, Any, None] = None):
        items = _config_items(chat_config, "chat_config")
        overrides = {k: v for k, v in items.items() if k not in _GENERATION_ONLY}
        self._chat = _mlcc.Chat.open(str(model), str(model_lib_path or ""), device,
                                     json.dumps(overrides))
        self._update_generation_config({k: v for k, v in items.items() if k in _GENERATION_ONLY},
                                       "chat_config")

    def generate(self, prompt: str, progress_callback: Any = None,
                 generation_config: Union[GenerationConfig, dict, Any, None] = None) -> str:
        """One user turn; returns the reply. progress_callback receives the reply as it
        grows (see mlcc.callback); an exception it raises stops the generation and
        propagates. generation_config overrides the sampling settings for this call."""
        streamer = _Streamer(progress_callback) if progress_callback is not None else None
        items = _config_items(generation_config, "generation_config")
        saved = self._chat.get_generation_config() if items else None
        self._update_generation_config(items, "generation_config")
        try:
            reply = self._chat.generate(prompt, streamer)
        finally:
            if saved is not None:
                self._chat.set_generation_config(saved)
        if streamer is not None:
            streamer.finish()
        return reply

    def benchmark_generate(self, prompt: str, generate_length: int) -> str:
        """Prefills the prompt, then decodes exactly generate_length tokens (stop tokens
        ignored), starting from an empty conversation. Returns the generated text."""
        return self._chat.benchmark_generate(prompt, int(generate_length))

    def stats(self, verbose: bool = False) -> str:
        """The last generation's speed: "prefill: X tok/s, decode: Y tok/s"."""
        return self._chat.stats_text(verbose)

    def reset_chat(self, chat_config: Union[ChatConfig, dict, Any, None] = None) -> None:
        """Forgets the conversation. chat_config may change the sampling settings
        (temperature, top_p, top_k, repetition_penalty, max_gen_len, seed, stop)."""
        self._update_generation_config(_config_items(chat_config, "chat_config"), "chat_config")
        self._chat.reset()

    def _update_generation_config(self, items: dict, what: str) -> None:
        if items:
            cfg = self._chat.get_generation_config()
            _apply_generation(cfg, items, what)
            self._chat.set_generation_config(cfg)

    @property
    def tokenizer(self) -> Optional["_mlcc.Tokenizer"]:
        return self._chat.tokenizer

    @property
    def chat_config(self) -> dict:
        """mlcc-chat-config.json as in use (overrides applied)."""
        return json.loads(self._chat.chat_config)

    @property
    def model_path(self) -> str:
        return self._chat.model_dir

    @property
    def model_lib_path(self) -> str:
        return self._chat.model_lib
