"""Brian2 reference for memlab's LIF liquid (tests/controllers/test_lsm.py): the same network
simulated by Brian2 (numpy code generation, exact integration). Needs only numpy and brian2.

``python tests/controllers/data/lsm_brian2_reference.py`` rewrites ``lsm_brian2_golden.json``
(brian2 2.9 imports only with numpy < 2.4; run it in such an environment); the test compares
memlab with this file always, and with a live Brian2 run when brian2 imports.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).with_name("lsm_brian2_golden.json")


def small_network(seed: int = 0) -> dict:
    """A 20-neuron liquid (16 excitatory, 4 inhibitory, p = 0.3) driven by 3 Poisson inputs for 200 steps."""
    rng = np.random.default_rng(seed)
    N, I, T = 20, 3, 200
    sign = np.where(np.arange(N) < 16, 1.0, -4.0)
    W = (rng.random((N, N)) < 0.3) * rng.uniform(0.5, 1.5, (N, N)) * 1.2 * sign[None, :]  # W[i, j]: j -> i (mV)
    np.fill_diagonal(W, 0.0)
    W_in = (rng.random((N, I)) < 0.5) * rng.uniform(1.0, 3.0, (N, I))  # (N, I) mV per input spike
    spikes = (rng.random((T, I)) < 0.15).astype(float)  # (T, I) input spike trains
    params = dict(dt=1.0, tau_m=30.0, v_rest=0.0, v_background=13.5, v_thresh=15.0, v_reset=13.5, refractory=3.0)
    return dict(W=W.tolist(), W_in=W_in.tolist(), spikes=spikes.tolist(), params=params)


def brian2_run(net: dict) -> dict:
    """Simulate ``net`` in Brian2: spike (step, neuron) pairs and v after every step (T, N) in mV."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    p = net["params"]
    W, W_in, spikes = np.array(net["W"]), np.array(net["W_in"]), np.array(net["spikes"])
    N, T = W.shape[0], spikes.shape[0]
    ms, mV = b2.ms, b2.mV
    b2.defaultclock.dt = p["dt"] * ms
    eqs = "dv/dt = (v_rest + v_bg - v) / tau : volt (unless refractory)"
    ns = dict(v_rest=p["v_rest"] * mV, v_bg=p["v_background"] * mV, tau=p["tau_m"] * ms)
    G = b2.NeuronGroup(N, eqs, threshold=f"v > {p['v_thresh']}*mV", reset=f"v = {p['v_reset']}*mV",
                       refractory=p["refractory"] * ms, method="exact", namespace=ns)
    G.v = p["v_rest"] * mV
    on_pre = "v_post += w * int(not_refractory_post)"  # a refractory neuron is clamped at v_reset
    rec = b2.Synapses(G, G, "w : volt", on_pre=on_pre)
    post, pre = np.nonzero(W)
    rec.connect(i=pre, j=post)
    rec.w = W[post, pre] * mV
    t_idx, ch = np.nonzero(spikes)
    inp = b2.SpikeGeneratorGroup(spikes.shape[1], ch, t_idx * p["dt"] * ms)
    syn = b2.Synapses(inp, G, "w : volt", on_pre=on_pre)
    post, pre = np.nonzero(W_in)
    syn.connect(i=pre, j=post)
    syn.w = W_in[post, pre] * mV
    sm = b2.SpikeMonitor(G)
    vm = b2.StateMonitor(G, "v", record=True, when="end")  # after the step's resets
    b2.run(T * p["dt"] * ms)
    steps = np.round(np.asarray(sm.t / ms) / p["dt"]).astype(int)
    order = np.lexsort((np.asarray(sm.i), steps))
    return dict(spikes=[[int(steps[k]), int(sm.i[k])] for k in order], v=(np.asarray(vm.v / mV).T).tolist())


if __name__ == "__main__":
    net = small_network()
    GOLDEN.write_text(json.dumps({**net, "brian2": brian2_run(net)}))
    print(f"wrote {GOLDEN}")
