"""llama.cpp's OpenAI-compatible server (``llama_cpp.server``) with weight repacking off.

    python -m synth.backends.llama_server --model MODEL.gguf --host 127.0.0.1 --port 8000

Takes the same arguments as ``python -m llama_cpp.server``; the only difference is that the
model loads with ``use_extra_bufts`` off (see :mod:`synth.backends.llamacpp`: repacking
segfaults on AVX-512 machines with llama-cpp-python 0.3.36). Set ``ZHCURATE_LLAMA_REPACK=1``
to keep repacking on.
"""

from __future__ import annotations

import os

from synth.backends.llamacpp import model_params_patch


def main() -> None:
    from llama_cpp.server.__main__ import main as server_main

    with model_params_patch(os.environ.get("ZHCURATE_LLAMA_REPACK") == "1"):
        server_main()


if __name__ == "__main__":
    main()
