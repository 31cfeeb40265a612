"""Stage-level steps of the training chapters: where models live in the run directory, how each ablation
model is initialised, and the loops over models. Stages hand models to each other only through files:

  10_continued_pretraining/models/base/          small model + tokenizer (or a pointer to the local base_model)
  10_continued_pretraining/models/<general|cancer>_cpt/final/   CPT result (full weights, or a LoRA adapter)
  20_instruction_tuning/models/<model>/final/    SFT LoRA adapter (or full weights) + base.json naming its init

Where the code lives:
  - ``rundir``: the stage names and model directories above, the instruction sets saved in stage 20
    (``save_sets``, ``load_sets``) and the answer reading every scoring stage refits from them (``reading``,
    ``answer_normaliser``);
  - ``models``: the base model and tokenizer (``prepare_base``, ``load_base``), each arm's SFT init
    (``load_init``, ``load_arm``, ``arm_config``), the init's weight hash and the tuned model loaded on the exact
    base it was trained on (``init_fingerprint``, ``load_tuned``);
  - ``stages``: the stage drivers (``continued_pretraining``, ``instruction_sets``, ``sft_examples``,
    ``instruction_tuning``, ``memorisation_check``);
  - ``tables``: the chapters' tables of corpora, tokenizer, perplexity, training cost and instruction sets, and
    the formatted example.

Used in notebooks/10_continued_pretraining.ipynb, 20_instruction_tuning.ipynb and 30_evaluation.ipynb.
"""

from .models import (arm_config, init_fingerprint, load_arm, load_base, load_init, load_tuned, prepare_base,
                     run_tokenizer, tokenizer_texts)
from .rundir import (CPT_STAGE, SETS, SFT_STAGE, answer_normaliser, base_dir, base_path, cpt_dir, load_sets, reading, save_sets,
                     sft_dir)
from .stages import (SFT_DEV_MAX, continued_pretraining, instruction_sets, instruction_tuning, memorisation_check,
                     sft_examples)
from .tables import (corpus_table, example_or_notice, instruction_table, perplexity_table, tokenizer_examples,
                     training_table)

__all__ = ["CPT_STAGE", "SETS", "SFT_DEV_MAX", "SFT_STAGE", "answer_normaliser", "arm_config", "base_dir", "base_path",
           "continued_pretraining", "corpus_table", "cpt_dir", "example_or_notice", "init_fingerprint",
           "instruction_sets", "instruction_table", "instruction_tuning", "load_arm", "load_base", "load_init",
           "load_sets", "load_tuned", "memorisation_check", "perplexity_table", "prepare_base", "reading",
           "run_tokenizer", "save_sets", "sft_dir", "sft_examples", "tokenizer_examples", "tokenizer_texts", "training_table"]
