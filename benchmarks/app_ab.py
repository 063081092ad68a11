"""Paired A/B of a slider move in the browser: two versions of the app, measured move by move in one window.

Why: this machine's speed drifts by 10-60% over minutes to hours (one in-process run of the pilot took 38 ms
in one window and 65 ms in another), which is larger than most changes worth making to the app. Comparing
two ``app_latency.py --browser`` invocations, even interleaved, compares two windows as much as two versions.
Here both versions run at once: two ``streamlit run app.py`` servers (each with its own model workers), two
headless Chromiums, and the moves alternate A, B, B, A, A, B, ... so that each pair of moves, a few seconds
apart, shares the machine's speed; the report is the paired difference (B - A) with a bootstrap interval.

A side is a git revision (checked out as a temporary worktree: its app, ``ui`` and model code are the ones
served and run), a directory holding a project tree, or ``.`` (this tree), plus optional environment
variables for its server. While one side moves, the other is idle apart from its workers building the next
move's members at the lowest CPU priority (``ui.runner.BuiltAhead``), which both sides do alike.

Each move is the one ``app_latency.py --browser`` times: the coal phase-out slider one step to the right, from
the key press to the changed headline (the first stage) and to the full ensemble drawn, a second apart. One
plain run in-process before and after (as ``app_latency.py`` prints it) gives the window's speed.

Usage::

    .venv/bin/python benchmarks/app_ab.py --a HEAD~1 --b HEAD             # 12 pairs, about 2 minutes
    .venv/bin/python benchmarks/app_ab.py --a . --b . --env-b CITYPEAK_APP_BUILD_AHEAD=0 --pairs 16
    .venv/bin/python benchmarks/app_ab.py --a main --b my-branch --json ab.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import app_latency as al  # noqa: E402

MAX_PAIRS = 70
"""Each side's slider starts at its minimum (2028) and moves one year right per move, up to its maximum (2100)."""


@dataclass
class Side:
    """One version of the app: its label, the tree it is served from, and its server's extra environment."""

    name: str
    spec: str
    tree: Path
    env: dict[str, str] = field(default_factory=dict)
    headline_s: list[float] = field(default_factory=list)
    full_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)


def parse_env(items: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings as a dict; a clear error for anything else."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env-a/--env-b: expected NAME=VALUE, got {item!r}")
        out[name] = value
    return out


@contextlib.contextmanager
def checkout(spec: str) -> Iterator[Path]:
    """The project tree of a side: this tree for ``.``, a directory as it is, else a git revision checked out
    as a temporary worktree (removed afterwards)."""
    if spec == ".":
        yield ROOT
        return
    path = Path(spec)
    if path.is_dir() and (path / "app.py").is_file():
        yield path.resolve()
        return
    rev = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"], cwd=ROOT, capture_output=True, text=True
    )
    if rev.returncode != 0:
        raise SystemExit(f"--a/--b: {spec!r} is neither a project directory (with app.py) nor a git revision")
    with tempfile.TemporaryDirectory(prefix="citypeak-ab-") as tmp:
        tree = Path(tmp) / "tree"
        add = ["git", "worktree", "add", "--detach", "--quiet", str(tree), rev.stdout.strip()]
        subprocess.run(add, cwd=ROOT, check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def order_of_pair(i: int) -> tuple[int, int]:
    """Which side moves first in pair ``i``: A then B, then B then A, and so on (ABBA), so that neither side
    always moves just after the other's move (whose workers may still be building ahead)."""
    return (0, 1) if i % 2 == 0 else (1, 0)


def paired_summary(a: Sequence[float], b: Sequence[float], resamples: int = 10_000, seed: int = 0) -> dict[str, float]:
    """B - A over paired moves: median and mean difference, a 95% bootstrap interval of the mean, and in how
    many pairs B was faster.

    Raises:
        ValueError: the two sides have different numbers of moves, or none.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"paired moves needed: got {len(a)} for A and {len(b)} for B")
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {
        "pairs": len(d),
        "median_diff_s": float(np.median(d)),
        "mean_diff_s": float(d.mean()),
        "mean_diff_ci95_s": (float(lo), float(hi)),
        "b_faster_pairs": int((d < 0).sum()),
    }


def _prepare(page: object, url: str) -> object:
    """Load the baseline page, open the lever group and make the first move (the reference is then drawn and
    the headline has deltas); returns the slider's thumb."""
    page.goto(url + "/?preset=baseline")  # type: ignore[attr-defined]
    al.wait_until_drawn(page)
    thumb = al.open_lever(page)
    al.timed_press(page, thumb, "Home")
    return thumb


def measure(sides: list[Side], pairs: int, members: int, resolution: float) -> None:
    """Serve both sides, then time ``pairs`` moves on each, alternating (:func:`order_of_pair`)."""
    base_env = {"CITYPEAK_APP_MEMBERS": str(members), "CITYPEAK_APP_RESOLUTION": str(resolution)}
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(al.app_server({**base_env, **s.env}, root=s.tree)) for s in sides]
        pages = stack.enter_context(al.chromium_pages(len(sides)))
        thumbs = [_prepare(page, url) for page, url in zip(pages, urls, strict=True)]
        for i in range(pairs):
            for k in order_of_pair(i):
                # CPU of every process this script started: both sides', the idle one's nearly 0.
                headline, full, cpu = al.timed_press(pages[k], thumbs[k], "ArrowRight")
                sides[k].headline_s.append(headline)
                sides[k].full_s.append(full)
                if cpu is not None:
                    sides[k].cpu_s.append(sum(cpu.values()))
                print(f"  pair {i + 1:>2} {sides[k].name}: {full:.2f} s", flush=True)


def report(sides: list[Side]) -> dict[str, object]:
    """Print the per-side medians and the paired differences; return them for ``--json``."""
    a, b = sides
    print()
    print(f"{'side':<6} {'version':<28} {'key -> headline':>16} {'key -> full':>12} {'CPU s a move':>13}")
    for s in sides:
        label = s.spec + ("" if not s.env else " " + " ".join(f"{k}={v}" for k, v in s.env.items()))
        cpu = f"{statistics.median(s.cpu_s):.2f}" if s.cpu_s else "-"
        print(
            f"{s.name:<6} {label[:28]:<28} {statistics.median(s.headline_s):>14.3f} s"
            f" {statistics.median(s.full_s):>10.3f} s {cpu:>13}"
        )
    full = paired_summary(a.full_s, b.full_s)
    head = paired_summary(a.headline_s, b.headline_s)
    lo, hi = full["mean_diff_ci95_s"]
    print()
    print(
        f"B - A, key -> full ensemble, {full['pairs']} pairs: median {full['median_diff_s']:+.3f} s, mean"
        f" {full['mean_diff_s']:+.3f} s (95% bootstrap interval {lo:+.3f} .. {hi:+.3f} s); B faster in"
        f" {full['b_faster_pairs']} of {full['pairs']} pairs"
    )
    print(f"B - A, key -> headline: median {head['median_diff_s']:+.3f} s, mean {head['mean_diff_s']:+.3f} s")
    ratios = [statistics.median(s.full_s) / al.TARGET_S for s in sides]
    print(f"against the {al.TARGET_S:g} s target: A {ratios[0]:.2f}x, B {ratios[1]:.2f}x")
    return {
        "sides": [
            {
                "name": s.name,
                "version": s.spec,
                "env": s.env,
                "headline_s": s.headline_s,
                "full_s": s.full_s,
                "cpu_s": s.cpu_s,
            }
            for s in sides
        ],
        "full": full,
        "headline": head,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="HEAD", help="side A: a git revision, a project directory, or . [HEAD]")
    parser.add_argument("--b", default=".", help="side B: a git revision, a project directory, or . [.]")
    parser.add_argument("--env-a", nargs="*", default=[], metavar="NAME=VALUE", help="extra environment of A's server")
    parser.add_argument("--env-b", nargs="*", default=[], metavar="NAME=VALUE", help="extra environment of B's server")
    parser.add_argument("--pairs", type=int, default=12, help="moves per side, alternating [12]")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--resolution", type=float, default=0.005)
    parser.add_argument("--json", type=Path, help="write the moves and the summary here")
    args = parser.parse_args(argv)
    if not 2 <= args.pairs <= MAX_PAIRS:
        parser.error(f"--pairs must be 2 to {MAX_PAIRS} (the slider's steps from its minimum), got {args.pairs}")
    env_a, env_b = parse_env(args.env_a), parse_env(args.env_b)
    load_before = os.getloadavg()
    # The window: one plain run in this process (this tree's code) before and after, as app_latency.py prints it.
    run_before_s, _ = al.measure_single_run(args.resolution, "pilot")
    with checkout(args.a) as tree_a, checkout(args.b) as tree_b:
        sides = [Side("A", args.a, tree_a, env_a), Side("B", args.b, tree_b, env_b)]
        print(f"CityPeak paired A/B: {args.members} members at resolution {args.resolution:g}, {args.pairs} pairs")
        print(f"A: {args.a} ({tree_a})  B: {args.b} ({tree_b}); load average {load_before[0]:.2f}")
        measure(sides, args.pairs, args.members, args.resolution)
    run_after_s, _ = al.measure_single_run(args.resolution, "pilot")
    out = report(sides)
    print(f"the window: one run in-process {1000 * run_before_s:.0f} ms before, {1000 * run_after_s:.0f} ms after")
    if args.json:
        out["single_run_ms"] = {"before": 1000 * run_before_s, "after": 1000 * run_after_s}
        out["load_average_before"] = load_before[0]
        out["when_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
