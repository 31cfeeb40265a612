"""Multi-process training entry point for `accelerate launch` (DDP; FSDP/DeepSpeed via accelerate configs in
configs/). The same TRL trainers as the notebooks — accelerate/transformers own the distribution; nothing here
is home-made. Each rank writes a checksum of its final weights so a test can check the ranks agree.

    accelerate launch --config_file configs/accelerate_ddp_cpu.yaml -m cancerllm.distributed params/demo.yaml --out /tmp/ddp
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import torch

from . import modeling, pipeline, training
from .config import load_params
from .data import load_cohort


def weights_checksum(model) -> str:
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="cancerllm.distributed")
    ap.add_argument("params")
    ap.add_argument("--out", required=True)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    cfg = load_params(args.params, args.overrides)
    cohort = load_cohort(cfg)
    corpora = training.cpt_corpora(cohort, cfg.seed)
    tokenizer = pipeline.run_tokenizer(corpora, cfg.vocab_size)
    model = modeling.build_small_model(cfg, tokenizer)
    out = Path(args.out)
    model, metrics = training.run_cpt(cfg, model, tokenizer, corpora["cancer"]["train"], out / "cpt")
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    record = {"rank": rank, "world_size": world, "steps": metrics["steps"], "checksum": weights_checksum(model),
              "train_loss": metrics["train_loss"]}
    (out / f"rank{rank}.json").write_text(json.dumps(record), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
