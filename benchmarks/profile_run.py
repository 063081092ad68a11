"""Profile one full-resolution run of the project's model with pyinstrument (the hotspots in RESULTS.md).

Usage::

    python benchmarks/profile_run.py                  # text call tree to stdout
    python benchmarks/profile_run.py --html prof.html # interactive tree
    python benchmarks/profile_run.py --flat           # self time per function, top 25

pyinstrument samples the stack, so the shares are of wall time with low overhead; several runs are
profiled together (``--runs``) so that one-off costs and scheduler noise average out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pyinstrument import Profiler  # noqa: E402

from sim.model import CityModel  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402


def flat_self_times(profiler: Profiler, top: int = 25) -> list[tuple[str, float, float]]:
    """(function location, self seconds, share of total) for the functions with the most self time."""
    session = profiler.last_session
    root = session.root_frame()
    total = root.time if root is not None else 0.0
    acc: dict[str, float] = {}

    def walk(frame) -> None:
        if not frame.is_synthetic:  # "[self]" children are already in their parent's total_self_time
            key = f"{frame.function} ({Path(frame.file_path or '?').name}:{frame.line_no})"
            acc[key] = acc.get(key, 0.0) + frame.total_self_time
        for child in frame.children:
            walk(child)

    if root is not None:
        walk(root)
    rows = sorted(acc.items(), key=lambda kv: -kv[1])[:top]
    return [(k, v, v / total if total else 0.0) for k, v in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="pyinstrument profile of full-resolution runs")
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "karamay_baseline.yaml")
    parser.add_argument("--resolution", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--html", type=Path)
    parser.add_argument("--flat", action="store_true")
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    CityModel(scenario, seed=args.seed, resolution=0.02).run()  # warm-up outside the profile
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for i in range(args.runs):
        CityModel(scenario, seed=args.seed + i, resolution=args.resolution).run()
    profiler.stop()
    if args.html:
        args.html.write_text(profiler.output_html())
    if args.flat:
        for name, seconds, share in flat_self_times(profiler):
            print(f"{share:6.1%} {seconds:7.3f} s  {name}")
    else:
        print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
