"""Training: the trainer (seed 004 protocol), its typed configs and run folders.

``training.config``: ``TrainConfig``, ``RunConfig``, ``resolve_run_config``, ``read_run_config``
(no torch). ``training.trainer``: ``Trainer``, ``make_optimizer``. ``training.run``:
``train_run`` (a run folder in a store), ``exclusive_run``. Loading and scoring a trained run
is ``memlab.evaluation``.
"""
