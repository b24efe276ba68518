"""The experiment runner: resume, config hash, parallel = serial, provenance, render from records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from memlab.core.errors import ConfigError, MemlabError
from memlab.experiments import EXPERIMENTS, get_experiment
from memlab.experiments.base import Experiment, RunContext, Unit
from memlab.experiments.runner import render_experiment, resolve_config, run_experiment


@dataclass
class ToyConfig:
    n: int = 6
    scale: float = 1.0
    seed: int = 0
    fail_at: int = -1  # a unit that raises, to simulate a run killed part-way

    def validate(self) -> None:
        if self.n < 1:
            raise ConfigError(f"n={self.n} is out of range; allowed: >= 1")


class Toy(Experiment):
    name = "toy"
    title = "a toy experiment: value = i * scale + seed"
    config_cls = ToyConfig
    default_out = "results/toy"
    hash_exclude = ("fail_at",)

    def quick_overrides(self) -> dict:
        return {"n": 2}

    def units(self, cfg: ToyConfig) -> list[Unit]:
        return [Unit(f"u{i}", {"i": i}) for i in range(cfg.n)]

    def run_unit(self, cfg: ToyConfig, unit: Unit, ctx: RunContext) -> list[dict]:
        with open(ctx.out_dir / "calls.log", "a") as f:  # one line per call, from any process
            f.write(unit.key + "\n")
        i = unit.params["i"]
        if i == cfg.fail_at:
            raise MemlabError(f"unit {unit.key} failed")
        return [{"i": i, "value": i * cfg.scale + ctx.seed}, {"i": i, "value": -1.0, "extra": True}]

    def summarise(self, cfg: ToyConfig, records: list[dict], out_dir: Path) -> dict:
        total = sum(r["value"] for r in records if not r.get("extra"))
        (out_dir / "summary.md").write_text(f"total {total}\n")
        return {"total": total}

    def plot(self, cfg: ToyConfig, records: list[dict], out_dir: Path) -> list[Path]:
        p = out_dir / "figure.txt"
        p.write_text(" ".join(str(r["i"]) for r in records) + "\n")
        return [p]


TOY = Toy()


@pytest.fixture
def importable(monkeypatch):
    """Spawned workers unpickle ``Toy`` by module name: put this test package on their path."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))


def calls(out: Path) -> list[str]:
    p = out / "calls.log"
    return p.read_text().split() if p.exists() else []


def records(out: Path) -> list[dict]:
    return [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]


def test_run_summarises_and_plots(tmp_path):
    res = run_experiment(TOY, out_dir=tmp_path, jobs=1, progress=False)
    assert res["total"] == sum(range(6)) and res["units"] == 6 and res["units_run"] == 6
    assert (tmp_path / "summary.md").read_text() == "total 15.0\n"
    assert res["figures"] == [str(tmp_path / "figure.txt")]
    assert len(records(tmp_path)) == 12
    meta = json.loads((tmp_path / "toy.meta.json").read_text())
    assert meta["config"]["n"] == 6 and len(meta["invocations"]) == 1 and meta["config_hash"] == res["config_hash"]


def test_resume_runs_only_the_units_not_recorded(tmp_path):
    with pytest.raises(MemlabError, match="u3 failed"):
        run_experiment(TOY, {"fail_at": 3}, out_dir=tmp_path, jobs=1, progress=False)
    assert calls(tmp_path) == ["u0", "u1", "u2", "u3"]
    assert sorted({r["unit"] for r in records(tmp_path)}) == ["u0", "u1", "u2"]
    # a writer killed mid-line leaves a torn last line: skipped, so that unit runs again
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write('{"unit": "u4", "i": 4, "val')
    res = run_experiment(TOY, out_dir=tmp_path, jobs=1, progress=False)
    assert calls(tmp_path)[4:] == ["u3", "u4", "u5"] and res["units_run"] == 3
    assert res["total"] == 15.0
    # nothing left to do: a third run computes nothing and renders the same
    res = run_experiment(TOY, out_dir=tmp_path, jobs=1, progress=False)
    assert len(calls(tmp_path)) == 7 and res["units_run"] == 0 and res["total"] == 15.0
    meta = json.loads((tmp_path / "toy.meta.json").read_text())
    assert [i["units"] for i in meta["invocations"]] == [3, 3]
    # each invocation records its own settings, hash-excluded ones included
    assert [i["config"]["fail_at"] for i in meta["invocations"]] == [3, ToyConfig().fail_at]


def test_more_units_extend_a_finished_run(tmp_path):
    run_experiment(TOY, {"n": 3}, out_dir=tmp_path, jobs=1, progress=False)
    with pytest.raises(ConfigError, match="another configuration"):  # n is part of the hash
        run_experiment(TOY, {"n": 5}, out_dir=tmp_path, jobs=1, progress=False)


def test_config_hash_mismatch_is_one_line_unless_fresh(tmp_path):
    run_experiment(TOY, ["scale=1"], out_dir=tmp_path, jobs=1, progress=False)
    with pytest.raises(ConfigError) as e:
        run_experiment(TOY, ["scale=2"], out_dir=tmp_path, jobs=1, progress=False)
    msg = str(e.value)
    assert "\n" not in msg and "--fresh" in msg and "scale: saved 1.0, requested 2.0" in msg
    assert len(calls(tmp_path)) == 6  # nothing ran
    res = run_experiment(TOY, ["scale=2"], out_dir=tmp_path, jobs=1, fresh=True, progress=False)
    assert res["total"] == 30.0 and len(records(tmp_path)) == 12
    assert {r["config_hash"] for r in records(tmp_path)} == {res["config_hash"]}
    # an excluded field (fail_at) does not change the hash
    res2 = run_experiment(TOY, ["scale=2", "fail_at=99"], out_dir=tmp_path, jobs=1, progress=False)
    assert res2["config_hash"] == res["config_hash"] and res2["units_run"] == 0


def test_records_of_another_config_without_meta_are_detected(tmp_path):
    run_experiment(TOY, out_dir=tmp_path, jobs=1, progress=False)
    (tmp_path / "toy.meta.json").unlink()
    with pytest.raises(ConfigError, match="another configuration"):
        run_experiment(TOY, {"scale": 3}, out_dir=tmp_path, jobs=1, progress=False)


def test_parallel_records_equal_serial(tmp_path, importable):
    a, b = tmp_path / "a", tmp_path / "b"
    run_experiment(TOY, {"n": 5}, out_dir=a, jobs=1, seed=7, progress=False)
    res = run_experiment(TOY, {"n": 5}, out_dir=b, jobs=2, seed=7, progress=False)

    def core(out):
        return sorted((r["unit"], r["i"], r["value"], r.get("extra", False), r["config_hash"]) for r in records(out))

    assert core(a) == core(b) and res["units_run"] == 5 and res["total"] == sum(range(5)) + 5 * 7
    assert json.loads((b / "toy.meta.json").read_text())["invocations"][0]["jobs"] == 2


def test_parallel_error_propagates_and_keeps_finished_units(tmp_path, importable):
    with pytest.raises(MemlabError, match="u0 failed"):
        run_experiment(TOY, {"n": 3, "fail_at": 0}, out_dir=tmp_path, jobs=2, progress=False)
    res = run_experiment(TOY, {"n": 3}, out_dir=tmp_path, jobs=2, progress=False)
    assert res["total"] == 3.0 and sorted(r["unit"] for r in records(tmp_path))[::2] == ["u0", "u1", "u2"]


def test_provenance_on_every_record(tmp_path):
    res = run_experiment(TOY, {"n": 2}, out_dir=tmp_path, jobs=1, progress=False)
    for r in records(tmp_path):
        assert {"commit", "time", "experiment", "unit", "config_hash", "unit_wall_s", "unit_cpu_s"} <= set(r)
        assert r["experiment"] == "toy" and r["config_hash"] == res["config_hash"]
        assert r["unit_wall_s"] >= 0 and r["unit_cpu_s"] >= 0


def test_render_reads_records_only(tmp_path):
    run_experiment(TOY, {"n": 3}, out_dir=tmp_path, jobs=1, progress=False)
    n_calls = len(calls(tmp_path))
    (tmp_path / "summary.md").unlink()
    recs = records(tmp_path)
    recs[0]["value"] = 100.0  # an edited record changes the table: it comes from the records
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    res = render_experiment(TOY, tmp_path)
    assert len(calls(tmp_path)) == n_calls  # nothing computed
    assert res["total"] == 103.0 and (tmp_path / "summary.md").read_text() == "total 103.0\n"
    assert res["figures"] == [str(tmp_path / "figure.txt")]
    assert render_experiment(TOY, tmp_path, plots=False)["figures"] == []


def test_render_without_records_is_one_line(tmp_path):
    with pytest.raises(MemlabError, match="no records") as e:
        render_experiment(TOY, tmp_path)
    assert "\n" not in str(e.value)


def test_quick_and_seed_and_bad_overrides():
    cfg, d = resolve_config(TOY, quick=True, seed=5)
    assert cfg.n == 2 and cfg.seed == 5 and d["n"] == 2
    with pytest.raises(ConfigError, match="unknown key size"):
        resolve_config(TOY, ["size=3"])
    with pytest.raises(ConfigError, match="n=0"):
        resolve_config(TOY, {"n": 0})


def test_quick_writes_beside_not_into_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run_experiment(TOY, quick=True, jobs=1, progress=False)
    assert Path(res["out_dir"]) == Path("results/toy/quick") and res["units"] == 2


def test_out_dir_that_is_a_file_is_one_line(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        run_experiment(TOY, out_dir=f, jobs=1, progress=False)
    with pytest.raises(ConfigError, match="cannot be created|not writable"):
        run_experiment(TOY, out_dir=f / "sub", jobs=1, progress=False)


def test_jobs_out_of_range(tmp_path):
    with pytest.raises(ConfigError, match="jobs=0"):
        run_experiment(TOY, out_dir=tmp_path, jobs=0, progress=False)


def test_registry_names_match_files_and_unknown_is_one_line():
    for name, module in EXPERIMENTS.items():
        assert module == "memlab.experiments." + name.replace("-", "_")
    with pytest.raises(ConfigError) as e:
        get_experiment("nope")
    assert "\n" not in str(e.value) and "lantm-tables" in str(e.value)


def test_records_without_their_fields_are_one_line(tmp_path):
    class Strict(Toy):
        record_fields = ("i", "value")

    run_experiment(TOY, {"n": 2}, out_dir=tmp_path, jobs=1, progress=False)
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write('{"unit": "u9", "i": 9}\n')
    with pytest.raises(MemlabError, match="record 5 has no value") as e:
        render_experiment(Strict(), tmp_path)
    assert "\n" not in str(e.value)
    with open(tmp_path / "records.jsonl", "a") as f:
        f.write("[1, 2]\n")
    with pytest.raises(MemlabError, match="not a record"):
        render_experiment(TOY, tmp_path)


def test_no_units_or_a_unit_without_records_is_one_line(tmp_path):
    class NoUnits(Toy):
        def units(self, cfg):
            return []

    class Silent(Toy):
        def run_unit(self, cfg, unit, ctx):
            return []

    with pytest.raises(ConfigError, match="no units of work") as e:
        run_experiment(NoUnits(), out_dir=tmp_path / "a", jobs=1, progress=False)
    assert "\n" not in str(e.value) and not (tmp_path / "a" / "records.jsonl").exists()
    with pytest.raises(MemlabError, match="unit u0 produced no records"):
        run_experiment(Silent(), out_dir=tmp_path / "b", jobs=1, progress=False)
    assert not (tmp_path / "b" / "toy.meta.json").exists()  # nothing recorded, no meta either


def test_a_selection_that_names_a_value_twice_is_one_line(tmp_path):
    """``--set seeds=0,0`` (or models=lstm,lstm) would run one unit twice: a one-line ConfigError
    naming the setting, before anything is written. Two units of one key that no setting explains
    stay an internal error: that is a bug of the experiment, not of the user's input."""
    from dataclasses import field

    @dataclass
    class PickConfig(ToyConfig):
        picks: list = field(default_factory=lambda: [1, 2])
        model: dict = field(default_factory=dict)

    class Picks(Toy):
        config_cls = PickConfig

        def units(self, cfg):
            return [Unit(f"p{p}", {"i": p}) for p in cfg.picks]

    class Clash(Toy):
        def units(self, cfg):
            return [Unit("same", {"i": i}) for i in range(cfg.n)]

    for overrides, needle in (({"picks": [1, 2, 1]}, "picks=1,2,1 names a value twice, so unit 'p1' would run twice"),
                              ({"model": {"sizes": [3, 3]}, "picks": [4, 4]}, "picks=4,4 and model.sizes=3,3 name a value twice")):
        with pytest.raises(ConfigError, match=needle) as e:
            run_experiment(Picks(), overrides, out_dir=tmp_path / "a", jobs=1, progress=False)
        assert "\n" not in str(e.value) and not (tmp_path / "a").exists()
    assert run_experiment(Picks(), {"picks": [1, 3]}, out_dir=tmp_path / "b", jobs=1, progress=False)["units"] == 2
    with pytest.raises(RuntimeError, match="unit key 'same' is not unique"):
        run_experiment(Clash(), out_dir=tmp_path / "c", jobs=1, progress=False)


class ShardedToy(Toy):
    """Toy with its records split by a field: ``records-even.jsonl`` and ``records-odd.jsonl``."""

    records_shard = "part"

    def run_unit(self, cfg: ToyConfig, unit: Unit, ctx: RunContext) -> list[dict]:
        return [{**r, "part": "odd" if r["i"] % 2 else "even"} for r in super().run_unit(cfg, unit, ctx)]


def test_sharded_records_are_split_by_field_and_read_together(tmp_path):
    exp = ShardedToy()
    res = run_experiment(exp, out_dir=tmp_path, jobs=1, progress=False)
    assert res["total"] == 15.0 and res["units_run"] == 6
    assert not (tmp_path / "records.jsonl").exists()
    assert [p.name for p in exp.records_paths(tmp_path)] == ["records-even.jsonl", "records-odd.jsonl"]
    for part, want in (("even", {0, 2, 4}), ("odd", {1, 3, 5})):
        rows = [json.loads(l) for l in (tmp_path / f"records-{part}.jsonl").read_text().splitlines()]
        assert {r["i"] for r in rows} == want and {r["part"] for r in rows} == {part} and len(rows) == 6
    assert res["records"] == str(tmp_path / "records-*.jsonl")
    assert render_experiment(exp, tmp_path, plots=False)["total"] == 15.0


def test_sharding_resumes_a_single_file_and_fresh_removes_every_shard(tmp_path):
    # a folder written before sharding (records.jsonl, units u0–u2) is read beside the shards
    with pytest.raises(MemlabError, match="u3 failed"):
        run_experiment(TOY, {"fail_at": 3}, out_dir=tmp_path, jobs=1, progress=False)
    exp = ShardedToy()
    res = run_experiment(exp, out_dir=tmp_path, jobs=1, progress=False)
    assert calls(tmp_path)[4:] == ["u3", "u4", "u5"] and res["total"] == 15.0
    assert len(exp.records_paths(tmp_path)) == 3
    # a torn last line in a shard is cut, and its unit runs again
    with open(tmp_path / "records-odd.jsonl", "a") as f:
        f.write('{"unit": "u7", "i": 7, "val')
    res = run_experiment(exp, {"n": 6}, out_dir=tmp_path, jobs=1, progress=False)
    assert res["units_run"] == 0 and (tmp_path / "records-odd.jsonl").read_text().endswith("}\n")
    with pytest.raises(ConfigError, match="another configuration"):
        run_experiment(exp, {"scale": 2}, out_dir=tmp_path, jobs=1, progress=False)
    res = run_experiment(exp, {"scale": 2}, out_dir=tmp_path, jobs=1, fresh=True, progress=False)
    assert res["total"] == 30.0 and not (tmp_path / "records.jsonl").exists()
    assert sum(len(p.read_text().splitlines()) for p in exp.records_paths(tmp_path)) == 12


def test_a_shard_value_that_cannot_name_a_file_is_refused(tmp_path):
    exp = ShardedToy()
    assert exp.record_path(tmp_path, {"part": "lstm"}) == tmp_path / "records-lstm.jsonl"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError, match="cannot name a records file"):
            exp.record_path(tmp_path, {"part": bad})


def test_a_field_added_later_keeps_older_hashes_until_it_is_set():
    """``hash_unless_set``: at its default the field is left out of the hash (records made before
    it existed keep theirs); set to anything else it counts."""
    from memlab.experiments.runner import config_hash

    class Later(Toy):
        hash_unless_set = ("scale",)

    exp = Later()
    _, d = resolve_config(exp)
    before = {k: v for k, v in d.items() if k != "scale"}  # the config as saved before the field
    assert config_hash(exp, d) == config_hash(exp, before) != config_hash(TOY, d)
    _, d2 = resolve_config(exp, {"scale": 2.0})
    assert config_hash(exp, d2) != config_hash(exp, d)
    assert config_hash(exp, d2) == config_hash(TOY, d2)
