"""Tests of the Python module (mlcc, mlc_chat) and examples/benchmark.py on a real model.

The model is converted with `mlcc convert-weight` and compiled with `mlcc compile` into a
temporary directory, from the source named in MODEL below (stories260K from ../shared by
default). Exits with 77 (ctest: skipped) when ../shared is not there.

    python3 test_mlcc_python.py --mlcc build/tools/mlcc --shared ../shared \
        --source-dir . [unittest arguments, e.g. TokenizerTest]
"""

import argparse
import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
import threading
import unittest

import mlcc
from mlcc.callback import StreamToStdout

# The model under test, relative to ../shared; switch here to test another one.
MODEL = {
    "name": "stories260K-q0f32",
    "source": "models/stories260K/stories260K.bin",
    "tokenizer": "models/stories260K/tok512.bin",
    "quantization": "q0f32",
    "vocab_size": 512,
    # What llama2.c prints greedily from BOS; None when there is no such oracle.
    "greedy_reference": "models/stories260K/greedy_reference.txt",
}
SKIP_CODE = 77
STATS_RE = r"^prefill: [0-9.]+ tok/s, decode: [0-9.]+ tok/s$"

ARGS = argparse.Namespace()


def shared(path):
    return os.path.join(ARGS.shared, path)


def run_mlcc(*args):
    r = subprocess.run([ARGS.mlcc, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"mlcc {' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")


class Model:
    """The converted model directory and its library, made once for all tests."""

    dir = lib = None
    _tmp = None

    @classmethod
    def prepare(cls):
        if cls.dir:
            return
        cls._tmp = tempfile.TemporaryDirectory(prefix="mlcc-python-test-")
        cls.dir = os.path.join(cls._tmp.name, "dist", MODEL["name"])
        cls.lib = os.path.join(cls._tmp.name, "dist", "libs", MODEL["name"] + "-cpu.so")
        run_mlcc("convert-weight", shared(MODEL["source"]), "--quantization",
                 MODEL["quantization"], "--tokenizer", shared(MODEL["tokenizer"]), "-o", cls.dir)
        run_mlcc("compile", shared(MODEL["source"]), "--target", "cpu", "--quantization",
                 MODEL["quantization"], "-o", cls.lib)

    @classmethod
    def open(cls, **chat_config):
        cls.prepare()
        return mlcc.ChatModule(model=cls.dir, model_lib_path=cls.lib, device="cpu",
                               chat_config=mlcc.ChatConfig(**chat_config))


class TokenizerTest(unittest.TestCase):
    def setUp(self):
        self.tok = mlcc.Tokenizer(shared(MODEL["tokenizer"]))

    def test_properties(self):
        self.assertEqual(self.tok.vocab_size, MODEL["vocab_size"])
        self.assertIsInstance(self.tok.kind, str)
        self.assertGreaterEqual(self.tok.bos_id, 0)
        self.assertGreaterEqual(self.tok.eos_id, 0)
        self.assertIsInstance(self.tok.token_piece(self.tok.bos_id), str)

    def test_round_trip(self):
        for text in ["Once upon a time, there was a little girl named Lily.", "Hi!\nBye."]:
            ids = self.tok.encode(text)
            self.assertTrue(ids and all(isinstance(i, int) for i in ids))
            self.assertNotEqual(ids[0], self.tok.bos_id)
            self.assertEqual(self.tok.decode(ids), text)
            with_bos = self.tok.encode(text, add_bos=True)
            self.assertEqual(with_bos, [self.tok.bos_id] + ids)
            self.assertEqual(self.tok.decode(with_bos), text)

    def test_errors(self):
        with self.assertRaisesRegex(mlcc.MLCCError, "no-such-tokenizer"):
            mlcc.Tokenizer("/no-such-tokenizer.model")
        with self.assertRaises(mlcc.MLCCError):
            self.tok.token_piece(10**6)
        self.assertTrue(issubclass(mlcc.MLCCError, RuntimeError))


class ChatModuleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cm = Model.open(temperature=0, max_gen_len=48)

    def setUp(self):
        self.cm.reset_chat()

    def test_generate_greedy(self):
        reply = self.cm.generate("Once upon a time")
        self.assertIsInstance(reply, str)
        self.assertTrue(reply.strip())
        self.assertRegex(self.cm.stats(), STATS_RE)
        self.cm.reset_chat()
        self.assertEqual(self.cm.generate("Once upon a time"), reply)

    @unittest.skipUnless(MODEL["greedy_reference"], "no reference text")
    def test_greedy_matches_llama2c(self):
        with open(shared(MODEL["greedy_reference"]), encoding="utf-8") as f:
            reference = f.read()
        reply = self.cm.generate("", generation_config={"max_gen_len": 64})
        self.assertGreater(len(reply), 100)
        self.assertTrue(reference.startswith(reply),
                        f"greedy text differs from llama2.c's:\n{reply!r}\n{reference[:400]!r}")

    def test_streaming(self):
        deltas = []
        reply = self.cm.generate("Once upon a time", progress_callback=deltas.append)
        self.assertGreater(len(deltas), 1)
        self.assertEqual("".join(deltas), reply)

        self.cm.reset_chat()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            reply = self.cm.generate("Once upon a time", progress_callback=StreamToStdout(3))
        self.assertEqual(out.getvalue(), reply + "\n")

    def test_callback_exception_stops_generation(self):
        seen = []

        def callback(delta):
            seen.append(delta)
            if len(seen) == 3:
                raise KeyError("stop here")

        with self.assertRaisesRegex(KeyError, "stop here"):
            self.cm.generate("Once upon a time", progress_callback=callback)
        self.assertEqual(len(seen), 3)
        self.cm.reset_chat()
        self.assertTrue(self.cm.generate("Once upon a time"))

    def test_call_from_callback_refused(self):
        with self.assertRaisesRegex(mlcc.MLCCError, "callback"):
            self.cm.generate("Once upon a time", progress_callback=lambda d: self.cm.stats())
        self.cm.reset_chat()
        self.assertTrue(self.cm.generate("Once upon a time"))

    def test_generation_config_per_call(self):
        before = self.cm._chat.get_generation_config().max_new_tokens
        self.cm.generate("Once upon a time", generation_config=mlcc.GenerationConfig(max_gen_len=4))
        self.assertLessEqual(self.cm._chat.stats().decode_tokens, 4)
        self.assertEqual(self.cm._chat.get_generation_config().max_new_tokens, before)
        with self.assertRaisesRegex(ValueError, "conv_template"):
            self.cm.generate("x", generation_config={"conv_template": "llama-2"})

    def test_benchmark_generate(self):
        text = self.cm.benchmark_generate("What is the meaning of life?", generate_length=32)
        self.assertIsInstance(text, str)
        self.assertTrue(text)
        self.assertRegex(self.cm.stats(), STATS_RE)
        self.assertRegex(self.cm.stats(verbose=True), r"decode: [0-9.]+ tok/s \(3[12] tokens")

    def test_threads_share_one_chat(self):
        replies, errors = [], []

        def work():
            try:
                replies.append(self.cm.benchmark_generate("Once", generate_length=16))
            except Exception as e:  # reported by the assertion below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(set(replies)), 1)

    def test_properties(self):
        self.assertEqual(self.cm.tokenizer.vocab_size, MODEL["vocab_size"])
        self.assertEqual(self.cm.chat_config["temperature"], 0)
        self.assertEqual(self.cm.chat_config["max_new_tokens"], 48)
        self.assertEqual(os.path.abspath(self.cm.model_lib_path), os.path.abspath(Model.lib))


class VulkanChatModuleTest(unittest.TestCase):
    """ChatModule on device="vulkan" (lavapipe in CI): the greedy text and stats of the CPU."""

    @classmethod
    def setUpClass(cls):
        Model.prepare()
        devices = subprocess.run([ARGS.mlcc, "devices"], capture_output=True, text=True).stdout
        if not re.search(r"^vulkan:0 ", devices, re.MULTILINE):
            raise unittest.SkipTest("no Vulkan device (mlcc devices lists none)")
        cls.lib = Model.lib.replace("-cpu.so", "-vulkan.so")
        run_mlcc("compile", shared(MODEL["source"]), "--target", "vulkan", "--quantization",
                 MODEL["quantization"], "-o", cls.lib)

    def test_generate_matches_cpu(self):
        config = mlcc.ChatConfig(temperature=0, max_gen_len=64)
        gpu = mlcc.ChatModule(model=Model.dir, model_lib_path=self.lib, device="vulkan",
                              chat_config=config)
        cpu = mlcc.ChatModule(model=Model.dir, model_lib_path=Model.lib, device="cpu",
                              chat_config=config)
        reply = gpu.generate("Once upon a time")
        self.assertGreater(len(reply), 100)
        self.assertEqual(reply, cpu.generate("Once upon a time"))
        self.assertRegex(gpu.stats(), STATS_RE)

    def test_auto_picks_vulkan_library(self):
        # device="auto" (the default) runs a vulkan library on the Vulkan device.
        cm = mlcc.ChatModule(model=Model.dir, model_lib_path=self.lib,
                             chat_config=mlcc.ChatConfig(temperature=0, max_gen_len=8))
        self.assertTrue(cm.generate("Once upon a time").strip())


class OpenErrorsTest(unittest.TestCase):
    def setUp(self):
        Model.prepare()

    def test_bad_model_path(self):
        with self.assertRaisesRegex(mlcc.MLCCError, "no-such-model.*not found"):
            mlcc.ChatModule(model="/no-such-model", model_lib_path=Model.lib)

    def test_bad_library_path(self):
        with self.assertRaisesRegex(mlcc.MLCCError, "no-such-lib.so"):
            mlcc.ChatModule(model=Model.dir, model_lib_path="/no-such-lib.so")

    def test_bad_chat_config(self):
        with self.assertRaisesRegex(mlcc.MLCCError, "temprature"):
            mlcc.ChatModule(model=Model.dir, model_lib_path=Model.lib,
                            chat_config={"temprature": 0})
        with self.assertWarnsRegex(UserWarning, "mean_gen_len"):
            mlcc.ChatModule(model=Model.dir, model_lib_path=Model.lib,
                            chat_config=mlcc.ChatConfig(mean_gen_len=10))


class MlcChatTest(unittest.TestCase):
    def test_import(self):
        import mlc_chat
        from mlc_chat import ChatConfig, ChatModule, callback
        from mlc_chat.callback import StreamToStdout as S

        self.assertIs(ChatModule, mlcc.ChatModule)
        self.assertIs(ChatConfig, mlcc.ChatConfig)
        self.assertIs(callback, mlcc.callback)
        self.assertIs(S, StreamToStdout)
        self.assertIs(mlc_chat.MLCCError, mlcc.MLCCError)

    def test_benchmark_script(self):
        Model.prepare()
        script = os.path.join(ARGS.source_dir, "examples", "benchmark.py")
        r = subprocess.run([sys.executable, script, "--model", Model.dir, "--model-lib",
                            Model.lib, "--generate-length", "32"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Generated text:\n", r.stdout)
        self.assertRegex(r.stdout, r"Statistics: prefill: [0-9.]+ tok/s, decode: [0-9.]+ tok/s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlcc", required=True, help="the mlcc binary")
    parser.add_argument("--shared", required=True, help="the ../shared directory")
    parser.add_argument("--source-dir", required=True, help="the project's source directory")
    global ARGS
    ARGS, rest = parser.parse_known_args()
    if not os.path.isdir(ARGS.shared):
        print(f"SKIPPED: ../shared not present ({ARGS.shared})")
        sys.exit(SKIP_CODE)
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
