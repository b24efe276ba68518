"""Trace recorders (memlab.evaluation.trace): a non-LANTM run is a one-line error for the key-space
trace and a model without weightings for the weightings record; commands.plot keeps trace_record."""

import pytest

from memlab.core.errors import MemlabError
from memlab.evaluation import load_run
from memlab.evaluation.trace import trace_record, weightings_record
from memlab.training.run import train_run


def test_trace_recorders_refuse_runs_they_cannot_trace(tmp_path):
    s = train_run("lstm", "copy", {"model": {"hidden": 8, "layers": 1, "embed": 4},
                                   "task": {"vocab": 4, "train_max": 3, "test_min": 2, "test_max": 3},
                                   "train": {"max_epochs": 1, "eval_every": 1, "eval_batches": 1}},
                  out=tmp_path, name="r", progress=False)
    with pytest.raises(MemlabError, match="needs a LANTM run"):
        trace_record(s["run_dir"], 3)
    with pytest.raises(MemlabError, match="without read/write weightings"):
        weightings_record(load_run(s["run_dir"]), 3, 0)
    from memlab.commands.plot import trace_record as from_plot

    with pytest.raises(MemlabError, match="needs a LANTM run"):
        from_plot(s["run_dir"], 3)
