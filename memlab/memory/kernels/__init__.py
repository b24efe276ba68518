"""Fused sequence kernels (hand-written BPTT), each tested against the ``*_ref`` step it speeds up.

One file per memory (``ntm_scan.py``, ``dnc_scan.py``, ``lantm_scan.py``, ``stack_rnn_scan.py``).
Each runs a whole sequence as one ``torch.autograd.Function``, may inline the controller for speed, and is tested
in float64 against the composed per-step reference of its memory: values, gradients, gradcheck,
graph freed. A model picks it with ``model.kernel=fused`` (``reference`` runs the composed step;
``compile=true`` runs that step through ``torch.compile``). Nothing here is imported until a
kernel runs.
"""
