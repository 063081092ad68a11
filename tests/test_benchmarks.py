"""The benchmark runner works and the plain-Mesa reference decides by the same rules as the kernels.

No timing assertions here: the speed targets are judged in the benchmark table, not by unit tests, because
test machines are shared and loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.agreement import agreement, format_rows
from benchmarks.reference_mesa import MesaBuilding, MesaHousehold, MesaVehicle, ReferenceCityModel
from sim.model import CityModel

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT_RESOLUTION = 0.05  # ~9,500 households, ~8,100 vehicles, 500 buildings: seconds per reference run
AGREEMENT_SEEDS = range(6)
TABLE_MEASURES = (
    "(a) full run wall time",
    "(a) speed-up over plain-Mesa reference",
    "(a) agent-steps per second, full run",
    "(b) households step() kernel vs bare numpy loop",
    "(b) vehicles step() kernel vs bare numpy loop",
    "(b) buildings step() kernel vs bare numpy loop",
    "(b) households step(): plain-Mesa reference vs kernel",
    "(b) vehicles step(): plain-Mesa reference vs kernel",
    "(b) buildings step(): plain-Mesa reference vs kernel",
    "(d) peak RSS of a full run",
    "(d) tracemalloc peak during the run",
)


def test_reference_has_one_mesa_agent_per_project_row(baseline):
    project = CityModel(baseline, seed=5, resolution=0.02)
    reference = ReferenceCityModel(baseline, seed=5, resolution=0.02)
    assert len(reference.agents_by_type[MesaHousehold]) == project.households.n
    assert len(reference.agents_by_type[MesaVehicle]) == project.vehicles.n
    assert len(reference.agents_by_type[MesaBuilding]) == project.buildings.n
    # Same seed, same starting population: agent 0 of each type carries row 0's state.
    h = reference.households.agents[0]
    assert h.hurdle_rate == pytest.approx(float(project.households.live("hurdle_rate")[0]))
    v = reference.vehicles.agents[0]
    assert (v.segment, v.powertrain, v.age) == tuple(
        int(project.vehicles.live(c)[0]) for c in ("segment", "powertrain", "age")
    )


def test_reference_runs_are_reproducible(baseline):
    a = ReferenceCityModel(baseline, seed=2, resolution=0.02).run()
    b = ReferenceCityModel(baseline, seed=2, resolution=0.02).run()
    np.testing.assert_array_equal(a.ledger.energy_tj, b.ledger.energy_tj)


def test_reference_agents_grow_like_the_kernels(baseline):
    project = CityModel(baseline, seed=4, resolution=0.02)
    project.run()
    reference = ReferenceCityModel(baseline, seed=4, resolution=0.02)
    reference.run()
    for name in ("households", "vehicles", "buildings"):
        n_p, n_r = getattr(project, name).n, getattr(reference, name).n
        assert n_r == pytest.approx(n_p, rel=0.03), name


def test_reference_agrees_statistically_with_the_kernels(baseline):
    """Same rules, different random numbers: means over seeds agree within a few percent or sampling error.

    Emissions must agree within 3% (shares within 3 points) or within 3 standard errors of the paired
    difference, whichever is wider: buildings emissions at this resolution hinge on which of ~500 buildings
    replace their heating, so their seed-to-seed spread is several percent (see ``benchmarks/agreement.py``).
    """
    rows = agreement(baseline, AGREEMENT_RESOLUTION, AGREEMENT_SEEDS)
    assert {r["outcome"] for r in rows} >= {"total_mt", "power_heat_mt", "transport_mt", "buildings_mt"}
    disagree = [r for r in rows if not r["agrees"]]
    assert not disagree, format_rows(disagree)


@pytest.mark.slow
def test_quick_benchmark_prints_the_whole_table(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_benchmarks.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    header = "| measure "
    assert header in proc.stdout
    for measure in TABLE_MEASURES:
        assert measure in proc.stdout, measure
    assert "(a) full run CPU time" in proc.stdout
    data = json.loads(out.read_text())
    assert len(data["rows"]) == len(data["rows_cpu"]) == len(TABLE_MEASURES)
    for row in data["rows"] + data["rows_cpu"]:
        assert set(row) == {"measure", "value", "unit", "reference", "ratio", "target", "met"}
        assert row["value"] > 0
        assert row["met"] in {"yes", "no", "n/a", "-"}
    assert data["meta"]["quick"] is True
    assert data["meta"]["machine"]["nproc"] >= 1
