"""cancerllm — a reproducible, CPU-sized re-implementation of CancerLLM (Li et al., npj Digit. Med. 2026).

The library does all the computing; the notebooks in notebooks/ narrate and plot.
"""

import os
import sys

# Never reach a model hub: weights and tokenizers are built locally or loaded from local paths. Forced, not
# defaulted: an inherited HF_HUB_OFFLINE=0 must not turn network access back on (notebook kernels inherit these).
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ[_var] = "1"
if "huggingface_hub.constants" in sys.modules:  # imported before us: it read the environment already
    sys.modules["huggingface_hub.constants"].HF_HUB_OFFLINE = True
# torch.load uses its weights-only unpickler (tensors and plain data, never code) even where a caller asks
# otherwise; kernels inherit it. The Trainer's optimizer/scheduler/RNG files are the pickles this reaches
# (cancerllm/safe_weights.py refuses pickle weights outright).
os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"

__version__ = "0.1.0"
