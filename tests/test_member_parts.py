"""The member-parts table (benchmarks/member_parts.py): its timers leave the model as it was, its rows add up,
and every part it names still exists in the model. No timing assertions (see test_benchmarks.py)."""

from __future__ import annotations

import gc
import json
import math

import pytest

from agents.power import RenewableDeveloper
from benchmarks import member_parts
from sim import model as sim_model
from sim.model import CityModel, Lockstep, run


def test_every_part_names_a_method_the_model_still_has():
    for part in member_parts.PARTS:
        owner, attr = member_parts._resolve(part.target)
        assert callable(getattr(owner, attr)), part.target
        assert part.inside is None or part.inside in {p.key for p in member_parts.PARTS}


def test_part_timers_are_removed_afterwards_and_leave_results_unchanged(baseline):
    before = (RenewableDeveloper.step, sim_model.dispatch_many, CityModel._step_power_units)
    plain = [run(baseline, seed, None, 0.02).total_mt() for seed in (3, 4)]
    with member_parts.timed_parts() as seconds:
        timed = Lockstep([CityModel(baseline, seed, None, 0.02, stacked=False) for seed in (3, 4)]).run()
    assert (RenewableDeveloper.step, sim_model.dispatch_many, CityModel._step_power_units) == before
    assert all((a == r.total_mt()).all() for a, r in zip(plain, timed, strict=True))
    # Every part of a year ran and was timed; a part inside another took no longer than it.
    keys = {p.key for p in member_parts.PARTS} - {"data_centres", "sinks"}  # the baseline may have none
    assert keys <= {k for k, v in seconds.items() if v > 0}
    for part in member_parts.PARTS:
        if part.inside:
            assert seconds[part.key] <= seconds[part.inside]


def test_a_timer_that_fails_to_resolve_puts_back_the_ones_already_placed():
    broken = (*member_parts.PARTS[:3], member_parts.Part("gone", "sim.model:CityModel._no_such_step", "x", "gone"))
    original = RenewableDeveloper.step
    with pytest.raises(AttributeError, match="_no_such_step"), member_parts.timed_parts(broken):
        pass
    assert RenewableDeveloper.step is original


def test_rows_give_each_parents_rest_and_sums_that_add_up_to_the_member():
    ms = {p.key: 0.1 for p in member_parts.PARTS}
    ms.update(before=1.0, power_units=0.3, developer=0.2, refinery_step=0.1, accounts=4.0, total=10.0)
    ms.update(households=1.5, vehicles=1.0, buildings=0.5, after=0.5)
    rows = {r["label"]: r for r in member_parts.table_rows(ms)}
    assert rows[member_parts.REST_LABELS["before"]]["ms"] == pytest.approx(1.0 - 0.6)
    n_account_children = sum(p.inside == "accounts" for p in member_parts.PARTS)
    assert rows[member_parts.REST_LABELS["accounts"]]["ms"] == pytest.approx(4.0 - 0.1 * n_account_children)
    assert rows["joining, the year loop, results"]["ms"] == pytest.approx(10.0 - (1.0 + 1.5 + 1.0 + 0.5 + 0.5 + 4.0))
    sums = [r["ms"] for r in rows.values() if r.get("sum")]
    assert math.fsum(sums) == pytest.approx(10.0)


def test_the_script_prints_the_table_and_writes_its_json(tmp_path, capsys):
    out = tmp_path / "parts.json"
    member_parts.main(["--members", "2", "--repeats", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "one run in-process" in printed and "sum: per member" in printed
    saved = json.loads(out.read_text())
    assert saved["members"] == 2 and saved["member_ms"] > 0 and saved["single_run_ms"] > 0
    assert set(saved["parts_ms"]) == {p.key for p in member_parts.PARTS}
    assert math.fsum(r["ms"] for r in saved["rows"] if r.get("sum")) == pytest.approx(saved["member_ms_timed"])


def test_the_script_refuses_a_lockstep_of_no_members_and_an_unknown_preset(capsys):
    with pytest.raises(SystemExit):
        member_parts.main(["--members", "0"])
    assert "--members and --repeats must be at least 1, got 0 and 5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        member_parts.main(["--preset", "karamay"])
    err = capsys.readouterr().err
    assert "--preset" in err and "'karamay'" in err and "pilot" in err


def test_measuring_leaves_no_objects_frozen_in_the_callers_process():
    frozen = gc.get_freeze_count()
    member_parts.measure(members=2, repeats=1)
    assert gc.get_freeze_count() == frozen
