"""theory-profile: save/recover memory profiles of memories in isolation (seed 000).

Held-out error of a least-squares recover map per lag for finite memories (leaky integrators,
Elman, LSTM, function memory, exact stack and untrained NTM/DNC/LANTM), linear against MLP
readouts, the function-basis memory against K, and capacity against state size S (Thm 3.3:
at most S/d items) (:func:`memlab.theory.profile.profile_experiment`). Was ``memlab theory profile``.

    memlab run theory-profile [--quick] [--set size=32 ns=1,2,4,8,16,32 extra=ntm,dnc]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab.core.errors import check_choice
from memlab.experiments._theory import TheoryExperiment, cell
from memlab.theory.checks import check_int, check_memory, check_number, check_numbers, check_seed

#: untrained memlab memories that can join the comparison (``memlab.theory.profile.EXTRA_MODULES``)
EXTRA = ("ntm", "dnc", "lantm")


@dataclass
class ProfileConfig:
    """item_size d; size: state size of the finite memories compared; ns: sequence lengths;
    threshold: error below which an item counts as recovered; n_test: held-out sequences;
    extra: untrained memlab memories added (any of ntm, dnc, lantm; empty for none); function_n,
    function_Ks: items and basis sizes K of the function-memory study; dims: state sizes S of the
    capacity-versus-S study; readout_n: length of the linear-versus-MLP readout comparison (0: off)."""

    item_size: int = 1
    size: int = 16
    ns: tuple[int, ...] = (1, 2, 4, 8, 12, 16, 24, 32)
    threshold: float = 0.1
    n_test: int = 500
    extra: tuple[str, ...] = EXTRA
    function_n: int = 16
    function_Ks: tuple[int, ...] = (1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24)
    dims: tuple[int, ...] = (2, 4, 8, 12, 16)
    readout_n: int = 8
    seed: int = 0

    def validate(self) -> None:
        check_seed(self.seed)
        check_int("item_size", self.item_size, 1)
        check_int("size", self.size, 1)
        check_numbers("ns", self.ns, 1, integer=True)
        check_number("threshold", self.threshold, 0.0, lo_open=True)
        check_int("n_test", self.n_test, 1)
        for e in self.extra:
            check_choice("extra", e, EXTRA)
        check_int("function_n", self.function_n, 1)
        check_numbers("function_Ks", self.function_Ks, 1, integer=True)
        check_numbers("dims", self.dims, 1, integer=True)
        check_int("readout_n", self.readout_n, 0)
        # states and items of the training and test batches at the longest length, a few copies
        n = max(max(self.ns), self.function_n, 2 * max(self.dims) + 2)
        state = max(self.size, n * self.item_size, max(self.function_Ks), max(self.dims)) + 64
        check_memory(f"ns up to {n}, item_size={self.item_size}, n_test={self.n_test}",
                     8 * 6 * (self.n_test + 4 * state) * n * (state + self.item_size), "use smaller sizes")


class TheoryProfile(TheoryExperiment):
    name = "theory-profile"
    title = "memory profiles of memories in isolation: recovered lags, function memory, capacity vs state size"
    analysis = "profile"
    config_cls = ProfileConfig
    record_fields = {"kind": str}
    record_kinds = ("module", "skipped", "readout_compare", "function_basis", "capacity_vs_dim")

    def quick_overrides(self) -> dict[str, Any]:
        return {"size": 4, "ns": (1, 2, 4), "n_test": 50, "extra": (), "function_n": 4, "function_Ks": (1, 4),
                "dims": (2,), "readout_n": 0}

    def compute(self, cfg: ProfileConfig, device: str) -> list[dict]:
        from memlab.core.runtime import resolve_device
        from memlab.theory.profile import profile_experiment

        return profile_experiment(d=cfg.item_size, size=cfg.size, ns=cfg.ns, threshold=cfg.threshold, n_test=cfg.n_test,
                                  function_n=cfg.function_n, function_Ks=cfg.function_Ks, dims=cfg.dims,
                                  readout_n=cfg.readout_n, seed=cfg.seed, device=resolve_device(device), extra=cfg.extra)

    def headline(self, cfg: ProfileConfig, records: list[dict]) -> dict[str, Any]:
        mods = [r for r in records if r.get("kind") == "module"]
        cv = [r for r in records if r.get("kind") == "capacity_vs_dim"]
        return {
            "capacity": {r["module"]: r["capacity"] for r in mods},
            "state_dim": {r["module"]: r["state_dim_at_max_n"] for r in mods},
            "capacity_never_above_S_over_d": all(r["capacity"] <= r["bound"] for r in cv),
            "skipped": {r["module"]: r["error"] for r in records if r.get("kind") == "skipped"},
        }

    def section(self, records: list[dict]) -> list[str]:
        lines: list[str] = []
        mods = [r for r in records if r["kind"] == "module"]
        lines += [f"## Memory profile (`profile.jsonl`, `profile.png`; seed {records[0].get('seed')})", ""]
        if mods:
            thr = mods[0]["threshold"]
            ns = [x["n"] for x in mods[0]["rows"]]
            lines += [f"Held-out error of a least-squares recover map, items N(0, I_{mods[0]['item_size']}); capacity = largest n with every lag below {thr}.", ""]
            lines += ["| memory | state dim (at n max) | capacity | " + " | ".join(f"lags recovered, n={n}" for n in ns) + " |", "|---|---|---|" + "---|" * len(ns)]
            for r in mods:
                lines.append(f"| {r['module']} | {r['state_dim_at_max_n']} | {r['capacity']} | " + " | ".join(str(x["lags_recovered"]) for x in r["rows"]) + " |")
        for r in (r for r in records if r["kind"] == "skipped"):
            lines.append(f"\n{r['module']} was skipped: {cell(r['error'])}")
        rc = [r for r in records if r["kind"] == "readout_compare"]
        if rc:
            lines += ["", f"Linear versus small-MLP recover map (n={rc[0]['n']}; error per lag 1..n):", ""]
            lines += ["| memory | readout | lags recovered | error by lag |", "|---|---|---|---|"]
            for r in rc:
                lines.append(f"| {r['module']} | linear | {r['lags_recovered_linear']} | {', '.join(f'{e:.3f}' for e in r['error_linear_by_lag'])} |")
                lines.append(f"| {r['module']} | MLP | {r['lags_recovered_mlp']} | {', '.join(f'{e:.3f}' for e in r['error_mlp_by_lag'])} |")
        fb = [r for r in records if r["kind"] == "function_basis"]
        if fb:
            Ks = sorted({r["K"] for r in fb})
            lines += ["", f"Seed 000 §5 function memory, n={fb[0]['n']} items, mean error over lags with its own recover map γ (fitted linear map in brackets):", ""]
            lines += ["| basis | " + " | ".join(f"K={k}" for k in Ks) + " |", "|---|" + "---|" * len(Ks)]
            for basis in dict.fromkeys(r["basis"] for r in fb):
                cells = [next(f"{r['own_error_mean']:.3g} ({r['fit_error_mean']:.3g})" for r in fb if r["basis"] == basis and r["K"] == k) for k in Ks]
                lines.append(f"| {basis} | " + " | ".join(cells) + " |")
        cv = [r for r in records if r["kind"] == "capacity_vs_dim"]
        if cv:
            Ss = sorted({r["state_dim"] for r in cv})
            lines += ["", "Capacity versus state dimension S (Thm 3.3: a finite memory holds at most S/d items):", ""]
            lines += ["| family | " + " | ".join(f"S={s}" for s in Ss) + " |", "|---|" + "---|" * len(Ss)]
            for fam in dict.fromkeys(r["family"] for r in cv):
                cells = [next((str(r["capacity"]) for r in cv if r["family"] == fam and r["state_dim"] == s), "—") for s in Ss]
                lines.append(f"| {fam} | " + " | ".join(cells) + " |")
        lines += ["", "Findings (computed from the records):", ""]
        by = {r["module"]: r for r in mods}
        if "exact_stack" in by:
            es = by["exact_stack"]["rows"][-1]
            lines.append(f"- Exact stack (perfect memory, Thm 3.2): every item of n = {es['n']} recovered, max error {es['max_error']:.1e}; its state grows as n·d.")
        if "leaky_integrator_N1" in by:
            lk = by["leaky_integrator_N1"]["rows"][-1]["error_by_lag"]
            lines.append(f"- 1-unit leaky integrator: error {lk[0]:.3f} at lag 1, {lk[1]:.3f} at lag 2, ≥ {min(lk[2:]):.3f} beyond.")
        if cv:
            lines.append(f"- Capacity never exceeds S/d for any finite memory tested: {all(r['capacity'] <= r['bound'] for r in cv)} (Thm 3.3).")
            fams = list(dict.fromkeys(r["family"] for r in cv))
            at = [f for f in fams if all(r["capacity"] == r["bound"] for r in cv if r["family"] == f)]
            below = [f for f in fams if f not in at]
            lines.append(f"- Reach S/d at every S: {', '.join(at) or 'none'}; below it somewhere: " + ", ".join(f"{f} (max {max(r['capacity'] for r in cv if r['family'] == f)} at S ≤ {max(r['state_dim'] for r in cv if r['family'] == f)})" for f in below) + ".")
        if fb:
            mono = sorted((r for r in fb if r["basis"] == "monomial"), key=lambda r: r["K"])
            first_perfect = next((r["K"] for r in mono if r["own_error_mean"] < 1e-12), None)
            lines.append(f"- Function memory (§5, monomial basis): own-recover error falls from {mono[0]['own_error_mean']:.3f} at K = {mono[0]['K']} to {mono[-1]['own_error_mean']:.1e} at K = {mono[-1]['K']} (n = {mono[0]['n']}); smallest K with error < 1e-12: {first_perfect}.")
        lines.append("")
        return lines

    def figure(self, records: list[dict], path: Path) -> Path:
        from memlab.plots.theory import plot_profile

        return plot_profile(records, path)


EXPERIMENT = TheoryProfile()
