"""Where a lockstep member's CPU goes, part by part (issue 6: the app's redraw is bound by the model's CPU).

A :class:`sim.model.Lockstep` steps the households', vehicles' and buildings' stacks and the power dispatch
for all its members at once; every other part of a member (the power units' and the developer's decisions,
the refineries, the oilfield, the members' yearly accounts...) steps member by member. This table says what
each part costs a member, so that the parts still worth stacking across members can be weighed before
anyone starts on one (docs/performance.md, thirteenth pass).

Each part is a method timed by a wrapper (``perf_counter`` around every call, well under a microsecond of
its own); the parts nest, so "the rest" rows are what a parent took outside the listed children. The member's
cost is also measured without the wrappers, alternating with the timed locksteps, and one plain run of the
same scenario in this process is the reference, as in ``app_latency.py``. Members are built before the clock
starts, as the app's workers build them between moves.

Usage::

    .venv/bin/python benchmarks/member_parts.py                       # pilot, 0.005, 40 members, 5 locksteps
    .venv/bin/python benchmarks/member_parts.py --members 20 --json parts.json
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ui.state import PRESETS  # noqa: E402

STACKED = "stacked"
PER_MEMBER = "per member"
OTHER = "other"


@dataclass(frozen=True)
class Part:
    """A timed method: ``target`` is ``module:Class.method`` or ``module:function`` (patched in ``module``)."""

    key: str
    target: str
    group: str
    label: str
    inside: str | None = None
    """The key of the part whose calls include this one's."""


PARTS: tuple[Part, ...] = (
    Part("before", "sim.model:CityModel._decide_before_populations", PER_MEMBER, "decisions before the populations"),
    Part("power_units", "sim.model:CityModel._step_power_units", PER_MEMBER, "  power units' decisions", "before"),
    Part("developer", "agents.power:RenewableDeveloper.step", PER_MEMBER, "  renewable developer", "before"),
    Part("refinery_step", "agents.refinery:Refinery.step", PER_MEMBER, "  refineries' abatement decisions", "before"),
    Part("households", "agents.households:HouseholdsStack.step", STACKED, "households' stack: step"),
    Part("vehicles", "agents.vehicles:VehiclesStack.step", STACKED, "vehicles' stack: step"),
    Part("buildings", "agents.buildings:BuildingsStack.step", STACKED, "buildings' stack: step"),
    Part("after", "sim.model:CityModel._decide_after_populations", PER_MEMBER, "decisions after the populations"),
    Part("accounts", "sim.model:Lockstep._account", OTHER, "the year's accounts"),
    Part(
        "households_account",
        "agents.households:HouseholdsStack.account",
        STACKED,
        "  households' stack: account",
        "accounts",
    ),
    Part(
        "vehicles_account", "agents.vehicles:VehiclesStack.account", STACKED, "  vehicles' stack: account", "accounts"
    ),
    Part(
        "buildings_account",
        "agents.buildings:BuildingsStack.account",
        STACKED,
        "  buildings' stack: account",
        "accounts",
    ),
    Part("dispatch", "sim.model:dispatch_many", STACKED, "  power dispatch (all members in one call)", "accounts"),
    Part(
        "begin_accounts",
        "sim.model:CityModel._begin_accounts",
        PER_MEMBER,
        "  CO2 network and hydrogen: open",
        "accounts",
    ),
    Part("refinery_account", "agents.refinery:Refinery.account", PER_MEMBER, "  refineries", "accounts"),
    Part("industry", "agents.industry:IndustryBlock.account", PER_MEMBER, "  other industry", "accounts"),
    Part("oilfield", "agents.oilfield:OilfieldBlock.account", PER_MEMBER, "  oilfield blocks", "accounts"),
    Part("data_centres", "agents.datacentre:DataCentre.account", PER_MEMBER, "  data centres", "accounts"),
    Part("hydrogen", "agents.hydrogen:HydrogenMarket.settle", PER_MEMBER, "  hydrogen market", "accounts"),
    Part("waste", "agents.waste:WasteOperator.account", PER_MEMBER, "  waste", "accounts"),
    Part("ccus_settle", "agents.ccus:CCUSNetwork.settle", PER_MEMBER, "  CO2 network: settle", "accounts"),
    Part("sinks", "agents.sinks:CarbonSink.account", PER_MEMBER, "  carbon sinks", "accounts"),
    Part("policies", "policies.base:PolicySet.end_of_year", PER_MEMBER, "  policies' year end", "accounts"),
    Part(
        "indicator_inputs", "sim.model:CityModel._record_indicator_inputs", PER_MEMBER, "  indicator inputs", "accounts"
    ),
)
"""The parts, in the order a year steps them (a part ``inside`` another is listed after it)."""
PARENTS = {p.inside for p in PARTS if p.inside}
REST_LABELS = {
    "before": "  the rest (weather, appliance standard)",
    "accounts": "  the rest (power sector's bookings, the dispatch request)",
}
YEAR_PARTS = ("before", "households", "vehicles", "buildings", "after", "accounts")
"""The parts that together are a year's stepping (the others are inside them)."""


def _resolve(target: str) -> tuple[object, str]:
    module_name, _, qualname = target.partition(":")
    owner: object = importlib.import_module(module_name)
    *path, attr = qualname.split(".")
    for name in path:
        owner = getattr(owner, name)
    if not hasattr(owner, attr):
        raise AttributeError(f"{target}: no such attribute (the model changed: update member_parts.PARTS)")
    return owner, attr


@contextlib.contextmanager
def timed_parts(parts: tuple[Part, ...] = PARTS) -> Iterator[Counter]:
    """Wrap each part's method so that its calls add their wall time to the yielded counter (seconds by key);
    the originals are put back afterwards."""
    seconds: Counter = Counter()
    patched: list[tuple[object, str, object]] = []

    def wrapper(fn: Callable, key: str) -> Callable:
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[key] += time.perf_counter() - t0

        return timed

    try:
        for part in parts:
            owner, attr = _resolve(part.target)
            original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
            patched.append((owner, attr, original))
            setattr(owner, attr, wrapper(getattr(owner, attr), part.key))
        yield seconds
    finally:
        for owner, attr, original in reversed(patched):
            setattr(owner, attr, original)


def _members(preset: str, n: int, resolution: float):
    """``n`` members of the preset's 200-member app ensemble (its sampled parameters and seeds), built."""
    from sim.ensemble import run_seed
    from sim.model import CityModel
    from ui import runner
    from ui import state as uistate

    text = uistate.scenario_yaml(uistate.preset_data(preset))
    scenario = runner.scenario_from_text(text)
    design = runner.design(runner.EnsembleSpec(text, max(n, 200), 1, resolution))  # the app's own draws
    names = [c for c in design.columns if c != "run_id"]
    rows = design[names].to_numpy(dtype=float)
    return [
        CityModel(scenario, run_seed(1, i), dict(zip(names, rows[i].tolist(), strict=True)), resolution, stacked=False)
        for i in range(n)
    ]


def measure(preset: str = "pilot", resolution: float = 0.005, members: int = 40, repeats: int = 5) -> dict:
    """Per-member milliseconds of each part (medians over ``repeats`` timed locksteps) and of the untimed
    member, alternating; plus one plain run in this process (the reference)."""
    from benchmarks.app_latency import measure_single_run
    from sim.model import Lockstep

    single_wall_s, _ = measure_single_run(resolution, preset)
    Lockstep(_members(preset, min(members, 4), resolution)).run()  # warm-up (imports, caches)
    plain_ms: list[float] = []
    timed: list[dict[str, float]] = []
    # Freeze what is alive, as the app's workers do after their warm-up; undone afterwards, unless the caller
    # had frozen objects itself (unfreezing would release those too).
    ours = gc.get_freeze_count() == 0
    if ours:
        gc.collect()
        gc.freeze()
    try:
        for _ in range(repeats):
            models = _members(preset, members, resolution)
            t0 = time.perf_counter()
            Lockstep(models).run()
            plain_ms.append((time.perf_counter() - t0) * 1e3 / members)
            models = _members(preset, members, resolution)
            with timed_parts() as seconds:
                t0 = time.perf_counter()
                Lockstep(models).run()
                total = time.perf_counter() - t0
            row = {k: v * 1e3 / members for k, v in seconds.items()}
            row["total"] = total * 1e3 / members
            timed.append(row)
    finally:
        if ours:
            gc.unfreeze()
    keys = [p.key for p in PARTS] + ["total"]
    ms = {k: statistics.median(r.get(k, 0.0) for r in timed) for k in keys}
    return {
        "preset": preset,
        "resolution": resolution,
        "members": members,
        "repeats": repeats,
        "single_run_ms": single_wall_s * 1e3,
        "member_ms": statistics.median(plain_ms),
        "member_ms_timed": ms["total"],
        "parts_ms": {p.key: ms[p.key] for p in PARTS},
        "rows": table_rows(ms),
    }


def table_rows(ms: dict[str, float]) -> list[dict]:
    """The table's rows from per-member milliseconds by part key (and ``total``): each part, after the last
    child of a parent what the parent took outside its children ("the rest"), the year loop outside every part,
    and the sums by group (over the parts without children, so that nothing counts twice)."""
    rows = []
    for i, part in enumerate(PARTS):
        rows.append({"label": part.label, "group": part.group, "ms": ms[part.key], "parent": part.key in PARENTS})
        following = PARTS[i + 1] if i + 1 < len(PARTS) else None
        if part.inside and (following is None or following.inside != part.inside):
            children = sum(ms[p.key] for p in PARTS if p.inside == part.inside)
            rows.append({"label": REST_LABELS[part.inside], "group": PER_MEMBER, "ms": ms[part.inside] - children})
    rows.append(
        {"label": "joining, the year loop, results", "group": OTHER, "ms": ms["total"] - sum(ms[k] for k in YEAR_PARTS)}
    )
    by_group: Counter = Counter()
    for r in rows:
        if not r.get("parent"):
            by_group[r["group"]] += r["ms"]
    for group in (STACKED, PER_MEMBER, OTHER):
        rows.append({"label": f"sum: {group}", "group": group, "ms": by_group[group], "sum": True})
    return rows


def format_table(result: dict) -> str:
    total = result["member_ms_timed"]
    lines = [
        f"CityPeak: where a lockstep member's CPU goes ({result['preset']}, resolution {result['resolution']}, "
        f"{result['members']} members a lockstep, median of {result['repeats']})",
        f"one run in-process:               {result['single_run_ms']:6.1f} ms (reference)",
        f"a member in the lockstep:         {result['member_ms']:6.1f} ms "
        f"({result['member_ms'] / result['single_run_ms']:.2f} x one run); with the part timers "
        f"{total:.1f} ms",
        "",
        f"{'part':58s} {'ms a member':>11s} {'share':>7s}  steps",
        "-" * 92,
    ]
    for r in result["rows"]:
        if r.get("sum") and not lines[-1].startswith(("-", "sum")):
            lines.append("-" * 92)
        steps = "(the parts below it)" if r.get("parent") else r["group"]
        lines.append(f"{r['label']:58s} {r['ms']:11.2f} {r['ms'] / total:7.1%}  {steps}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="where a lockstep member's CPU goes, part by part")
    parser.add_argument("--preset", default="pilot", choices=sorted(PRESETS))
    parser.add_argument("--resolution", type=float, default=0.005)
    parser.add_argument("--members", type=int, default=40, help="members a lockstep (the app's later tasks: 40)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.members < 1 or args.repeats < 1:
        parser.error(f"--members and --repeats must be at least 1, got {args.members} and {args.repeats}")
    result = measure(args.preset, args.resolution, args.members, args.repeats)
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
