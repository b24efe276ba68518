"""Evaluation: load a trained run, score it at exact lengths or length scales, as records.

``load_run(run_dir, checkpoint="best") -> LoadedRun``; ``evaluate(model, task, *, scales |
lengths, batches, batch_size, seed, device) -> list[dict]``; ``evaluate_batches`` (counts over
fresh batches); ``load_model_weights``.

(The function ``evaluate`` is bound here after its module ``memlab.evaluation.evaluate`` is
imported, so ``from memlab.evaluation import evaluate`` gives the function.)
"""

from memlab.evaluation.evaluate import (
    evaluate_batches,
    evaluate_model,
    evaluate_run,
    length_bounds,
    parse_lengths,
    parse_scales,
)
from memlab.evaluation.evaluate import evaluate  # noqa: E402  (rebinds the submodule name)
from memlab.evaluation.load import (
    LoadedRun,
    build_run,
    checkpoint_path,
    load_model_weights,
    load_run,
    read_checkpoint,
)

__all__ = ["LoadedRun", "build_run", "checkpoint_path", "evaluate", "evaluate_batches", "evaluate_model",
           "evaluate_run", "length_bounds", "load_model_weights", "load_run", "parse_lengths", "parse_scales",
           "read_checkpoint"]
