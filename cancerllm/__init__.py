"""cancerllm — a reproducible, CPU-sized re-implementation of CancerLLM (Li et al., npj Digit. Med. 2026).

The library does all the computing; the notebooks in notebooks/ narrate and plot.
"""

import os

# Never reach a model hub: weights and tokenizers are built locally or loaded from local paths.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
