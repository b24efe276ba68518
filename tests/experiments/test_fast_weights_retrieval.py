"""fast-weights-retrieval: a quick run trains the three models, resumes without work, and the
table re-renders from the records alone; bad settings are one-line errors."""

from __future__ import annotations

import json

import pytest

from memlab.core.errors import ConfigError
from memlab.experiments.fast_weights_retrieval import EXPERIMENT, render_table
from memlab.experiments.runner import render_experiment, run_experiment


def test_quick_run_resumes_and_rerenders(tmp_path):
    out = tmp_path / "fw"
    res = run_experiment(EXPERIMENT, quick=True, out_dir=out, jobs=1, progress=False)
    assert res["units_run"] == 3
    recs = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]
    assert [r["model"] for r in recs] == ["fast-weights", "lstm", "elman"]
    assert all(r["steps"] == 40 and r["hidden"] == 8 and 0 <= r["accuracy"] <= 1 and r["curve"] for r in recs)
    assert all("unit_wall_s" in r for r in recs)
    table = (out / "README.md").read_text()
    assert "| fast-weights | query key | 8 | 4 |" in table and (out / "retrieval.png").stat().st_size > 0
    assert run_experiment(EXPERIMENT, quick=True, out_dir=out, jobs=1, progress=False)["units_run"] == 0
    (out / "README.md").unlink()
    render_experiment(EXPERIMENT, out)
    assert (out / "README.md").read_text() == table == render_table(recs)


def test_paper_readout_is_a_relu_layer_before_the_softmax():
    """readout_hidden = R': h (H) -> ReLU(R') -> logits; 0: linear. Exactly the extra parameters."""
    from dataclasses import replace

    from memlab.experiments.fast_weights_retrieval import FastWeightsRetrievalConfig, train_unit

    cfg = FastWeightsRetrievalConfig(hidden=6, embed=4, steps=20, batch_size=2, test_batches=1, eval_every=1)
    n_tokens = 41  # 37 data symbols + <s>, </s>, <e>, padding
    mlp = train_unit(replace(cfg, readout_hidden=5), "elman", 0)["n_params"]
    linear = train_unit(replace(cfg, readout_hidden=0), "elman", 0)["n_params"]
    assert mlp - linear == (6 * 5 + 5 + 5 * n_tokens + n_tokens) - (6 * n_tokens + n_tokens)


def test_answer_at_query_reads_each_output_from_the_previous_state():
    """answer_at=query: output(t) = readout(h(t − 1)), so the answer aligned with </s> comes from the
    state at the query key (Ba et al.); the first output reads h(−1) = 0."""
    import torch

    from memlab.experiments.fast_weights_retrieval import query_readout_model
    from memlab.memory.fast_weights_rnn import FastWeightsRNN
    from memlab.models.base import CoreSequenceModel
    from memlab.tasks.associative_retrieval import AssociativeRetrieval

    task = AssociativeRetrieval({"train_min": 3, "train_max": 3, "test_min": 3, "test_max": 3})
    torch.manual_seed(0)
    plain = CoreSequenceModel(task.spec, FastWeightsRNN(input_size=4, hidden_size=6), 4)
    shifted = query_readout_model(task.spec, plain.core, 4)
    shifted.load_state_dict(plain.state_dict())
    batch = task.sample_range(2, 3, 3, torch.Generator().manual_seed(1))
    a, b = plain(batch), shifted(batch)
    torch.testing.assert_close(b[1:], a[:-1])
    torch.testing.assert_close(b[0], shifted.readout(torch.zeros(2, 6)))
    t_answer = int(batch.n_input[0])  # the first </s>: its output is read from the query key's state
    assert batch.mask[t_answer, 0] and not batch.mask[t_answer - 1, 0]


@pytest.mark.parametrize("over,match", [
    ({"decay": 1.5}, "decay=1.5 is out of range; allowed: >= 0 and <= 1"),
    ({"pairs": 27}, "pairs=27 is out of range"),
    ({"lr": float("nan")}, "lr=nan is not allowed"),
    ({"models": ["gru"]}, "gru"),
    ({"seeds": []}, "seeds is empty; give at least one value"),
    ({"readout_hidden": -1}, "readout_hidden=-1 is out of range"),
    ({"answer_at": "end"}, "answer_at='end' is not allowed; choose one of query, marker"),
])
def test_bad_settings_are_one_line_errors(tmp_path, over, match):
    with pytest.raises(ConfigError, match=match) as e:
        run_experiment(EXPERIMENT, over, out_dir=tmp_path / "x", jobs=1, progress=False)
    assert "\n" not in str(e.value)
