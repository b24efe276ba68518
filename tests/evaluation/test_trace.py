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


@pytest.mark.parametrize("preset,offset", [("reproduce", 0), ("paper-text", 1)])
def test_lantm_trace_reads_are_the_reads_that_feed_the_answer(tmp_path, preset, offset):
    """With the read gated straight to the output (reproduce) the read of step t feeds output t;
    without it (paper-text) the read of step t − 1 does, through h_t."""
    import torch

    from memlab.core.runtime import make_generator

    s = train_run("lantm-invnorm", "copy", {"model": {"hidden": 8, "mem_width": 4, "preset": preset},
                                            "task": {"vocab": 4, "train_max": 4, "test_min": 3, "test_max": 4},
                                            "train": {"max_epochs": 1, "eval_every": 1, "eval_batches": 1}},
                  out=tmp_path, name="r", progress=False)
    rec = trace_record(s["run_dir"], 4, seed=0)
    run = load_run(s["run_dir"])
    batch = run.task.sample(1, 4, make_generator(0, 77, 4))
    with torch.no_grad():
        _, tr, _ = run.model.trace(batch)
    n_in, W = int(batch.n_input[0]), run.model.core.spec.write_heads
    n_ans = len(rec["answer"]) - 1
    want = tr.keys[n_in - offset: n_in - offset + n_ans, 0, W, :2]
    assert rec["read_offset"] == offset
    assert torch.allclose(torch.tensor(rec["reads"]), want, atol=1e-4)
    assert torch.allclose(torch.tensor(rec["input_reads"]), tr.keys[: n_in + 1, 0, W, :2], atol=1e-4)
    assert len(rec["input_reads"]) == len(rec["writes"])
    d = [min(((r[0] - w[0]) ** 2 + (r[1] - w[1]) ** 2) ** 0.5 for w in rec["writes"]) for r in rec["reads"]]
    assert rec["read_distance"] == pytest.approx(d, abs=1e-4)
    assert all(0 <= j < len(rec["writes"]) for j in rec["read_slot"]) and len(rec["read_slot"]) == len(rec["reads"])
    assert all(abs(dist - ((r[0] - rec["writes"][j][0]) ** 2 + (r[1] - rec["writes"][j][1]) ** 2) ** 0.5) < 1e-4
               for r, j, dist in zip(rec["reads"], rec["read_slot"], rec["read_distance"]))


def test_trace_gives_the_write_lines_stride_and_turn(tmp_path):
    """``write_stride`` is |a_{t+1} − a_t| of the input writes and ``write_turn`` each step's
    direction against the first's, in degrees, wrapped to (−180, 180]: checked against the written
    keys; with the write gates shut (a straight line) every stride is |v_0| and nothing turns."""
    import math

    for gates in ("learned", "shut"):
        s = train_run("lantm-invnorm", "copy", {"model": {"hidden": 8, "mem_width": 4, "preset": "reproduce",
                                                          "write_gates": gates},
                                                "task": {"vocab": 4, "train_max": 6, "test_min": 5, "test_max": 6},
                                                "train": {"max_epochs": 2, "eval_every": 1, "eval_batches": 1}},
                      out=tmp_path, name=gates, progress=False)
        rec = trace_record(s["run_dir"], 6, seed=0)
        w = rec["writes"]
        steps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(w, w[1:])]
        assert rec["write_stride"] == pytest.approx([math.hypot(*d) for d in steps], abs=1e-4)
        first = math.atan2(steps[0][1], steps[0][0])
        turn = [math.degrees((math.atan2(d[1], d[0]) - first + math.pi) % (2 * math.pi) - math.pi) for d in steps]
        assert rec["write_turn"] == pytest.approx(turn, abs=1e-3)
        if gates == "shut":
            v0 = load_run(s["run_dir"]).model.core.access.v0[0].norm().item()
            assert rec["write_stride"] == pytest.approx([v0] * len(steps), abs=1e-4)
            assert max(abs(t) for t in rec["write_turn"]) < 1e-3
