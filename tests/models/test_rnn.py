import pytest
import torch

from memlab.core.errors import ConfigError
from memlab.models import build_model
from memlab.tasks import make_task


def test_lstm_cell_variants_change_the_parameters():
    spec = make_task("copy", {"vocab": 8}).spec
    base = build_model("lstm-cell", spec, overrides={"hidden": 16, "embed": 4})
    peep = build_model("lstm-cell", spec, overrides={"hidden": 16, "embed": 4, "peepholes": True})
    proj = build_model("lstm-cell", spec, overrides={"hidden": 16, "embed": 4, "proj_size": 6})
    assert peep.n_params() == base.n_params() + 3 * 16
    assert proj.core.output_size == 6 and proj.readout.in_features == 6


def test_elman_learns_copy_of_length_one():
    torch.manual_seed(0)
    task = make_task("copy", {"vocab": 4, "train_min": 1, "train_max": 1, "test_min": 1, "test_max": 1})
    model = build_model("elman", task.spec, overrides={"hidden": 32, "embed": 8})
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        b = task.sample_range(32, 1, 1, g)
        loss = task.loss(model(b), b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    b = task.sample_range(64, 1, 1, g)
    assert task.score(model(b), b).coarse == 1.0


def test_bad_sizes_are_config_errors():
    spec = make_task("copy").spec
    with pytest.raises(ConfigError, match="model.hidden=0"):
        build_model("elman", spec, overrides={"hidden": 0})


def test_lstm_cell_model_exposes_every_seed_variant_as_a_setting():
    """model.* settings of lstm-cell reach the one LSTM: LSTMP sizes and the seed-002 gate biases."""
    import torch

    from memlab.models import build_model
    from memlab.tasks import make_task

    task = make_task("copy")
    m = build_model("lstm-cell", task.spec, overrides={"hidden": 8, "embed": 4, "proj_size": 3, "nonrec_proj_size": 2,
                                                      "y_size": 5, "input_bias": -2.0, "output_bias": -1.5})
    core = m.core
    H = 8
    assert core.output_size == 5
    assert torch.allclose(core.b[:H], torch.full((H,), -2.0)) and torch.allclose(core.b[3 * H:], torch.full((H,), -1.5))
    batch = task.sample_range(2, *task.train_range, torch.Generator().manual_seed(0))
    assert m(batch).shape[-1] == task.spec.output_size
