"""Decode and prefill speed of one model, as MLC-LLM's benchmark script measures it.

    PYTHONPATH=build/python python3 examples/benchmark.py \
        --model dist/tiny-kjv-q4f16_1 --model-lib dist/libs/tiny-kjv-q4f16_1-cpu.so

The model is a directory made by `mlcc convert-weight` or a name under dist/ (the default
is the one scripts/demo.sh makes from examples/tiny-kjv); without
--model-lib the library is looked up as dist/libs/NAME-DEVICE.so.
"""

import argparse

from mlc_chat import ChatModule

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--model", default="tiny-kjv-q4f16_1")
parser.add_argument("--model-lib", default=None)
parser.add_argument("--device", default="auto")
parser.add_argument("--prompt", default="What is the meaning of life?")
parser.add_argument("--generate-length", type=int, default=256)
args = parser.parse_args()

cm = ChatModule(model=args.model, model_lib_path=args.model_lib, device=args.device)
output = cm.benchmark_generate(args.prompt, generate_length=args.generate_length)
print(f"Generated text:\n{output}\n")
print(f"Statistics: {cm.stats()}")
