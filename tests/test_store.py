"""Batch folders: manifest, atomic shards, resume, reading, finalize (sim/store.py)."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim import store as store_mod
from sim.store import BatchStore, StoreError, scenario_hash

SCENARIO = "name: pilot\nhorizon: 2024\ncarbon_price_cny_per_t: 80\n"
YEARS = range(2020, 2025)
SECTORS = ("industry", "transport")


def _params(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame({"run_id": np.arange(n), "gdp_growth_pct_per_yr": np.linspace(2.0, 6.0, n)})


def _results(run_ids: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    yearly = pd.DataFrame(
        [
            {"run_id": r, "year": y, "sector": s, "emissions_mt": float(r + (y - 2020) + (s == "industry"))}
            for r in run_ids
            for y in YEARS
            for s in SECTORS
        ]
    )
    summary = pd.DataFrame(
        {
            "run_id": run_ids,
            "peak_year": [2024] * len(run_ids),
            "peaked": [False] * len(run_ids),
            "cumulative_mt": [float(10 * r) for r in run_ids],
        }
    )
    return yearly, summary


def _new(tmp_path: Path, n: int = 8) -> BatchStore:
    return BatchStore(tmp_path / "batch").create({"scenario_text": SCENARIO, "root_seed": 7}, _params(n))


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_create_writes_manifest_with_hash_version_and_created_time(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "batch").create(
        {"scenario_text": SCENARIO, "root_seed": np.int64(7), "sampler": "lhs"}, _params()
    )
    m = json.loads((store.path / "manifest.json").read_text(encoding="utf-8"))
    assert m["scenario_hash"] == scenario_hash(SCENARIO) == store.manifest["scenario_hash"]
    assert m["root_seed"] == 7 and m["n_runs"] == 8 and m["sampler"] == "lhs"
    assert m["package_version"]  # "0+unknown" when not installed
    assert m["created_utc"].endswith("+00:00")
    assert_frame = store.read_params()
    assert assert_frame["run_id"].tolist() == list(range(8))
    assert store.pending_run_ids() == set(range(8))


def test_create_refuses_existing_batch_unless_overwrite(tmp_path: Path) -> None:
    store = _new(tmp_path)
    store.write_shard(*_results([0, 1]))
    with pytest.raises(StoreError, match="already holds a batch.*overwrite=True"):
        _new(tmp_path)
    again = BatchStore(store.path).create({"scenario_text": "other", "root_seed": 1}, _params(3), overwrite=True)
    assert again.completed_run_ids() == set()
    assert BatchStore.open(store.path).manifest["n_runs"] == 3


def test_create_refuses_folder_with_foreign_files_even_with_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(StoreError, match=r"not part of a batch \(notes.txt\)"):
        BatchStore(folder).create({"scenario_text": SCENARIO, "root_seed": 7}, _params(), overwrite=True)
    assert (folder / "notes.txt").exists()


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"root_seed": 7}, "scenario_text"),
        ({"scenario_text": SCENARIO}, "root_seed"),
        ({"scenario_text": SCENARIO, "root_seed": -1}, "root_seed"),
        ({"scenario_text": SCENARIO, "root_seed": 7, "scenario_hash": "x"}, "set by the store"),
        ({"scenario_text": SCENARIO, "root_seed": 7, "n_runs": 5}, "n_runs"),
        ({"scenario_text": SCENARIO, "root_seed": 7, "blob": object()}, "JSON-serialisable"),
    ],
)
def test_create_rejects_invalid_manifest_without_touching_disk(tmp_path: Path, manifest: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchStore(tmp_path / "batch").create(manifest, _params())
    assert not (tmp_path / "batch").exists()


def test_create_rejects_params_with_repeated_run_ids(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run_id=1 more than once"):
        BatchStore(tmp_path / "b").create({"scenario_text": SCENARIO, "root_seed": 7}, _params().assign(run_id=1))


def test_open_rejects_folders_that_are_not_valid_batches(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="manifest.json is missing"):
        BatchStore.open(tmp_path)
    store = _new(tmp_path)
    m = json.loads((store.path / "manifest.json").read_text(encoding="utf-8"))
    m["scenario_text"] += "# edited\n"
    (store.path / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(StoreError, match="scenario_hash does not match"):
        BatchStore.open(store.path)


def test_unopened_store_cannot_be_used(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="create\\(\\) or BatchStore.open\\(\\)"):
        BatchStore(tmp_path).completed_run_ids()


def test_write_shard_names_both_files_after_first_and_last_run(tmp_path: Path) -> None:
    store = _new(tmp_path)
    stem = store.write_shard(*_results([3, 1, 2]))
    assert stem.startswith("part-000001-000003-") and len(stem) == len("part-000001-000003-") + 8
    assert _files(store.yearly_dir) == _files(store.summary_dir) == [f"{stem}.parquet"]
    assert store.completed_run_ids() == {1, 2, 3}
    assert store.pending_run_ids() == {0, 4, 5, 6, 7}


@pytest.mark.parametrize(
    ("yearly_ids", "summary_ids", "message"),
    [
        ([0, 1], [0], "only in yearly: \\[1\\]"),
        ([0], [0, 1], "only in summary: \\[1\\]"),
        ([0, 99], [0, 99], "run_ids \\[99\\] are not planned"),
    ],
)
def test_write_shard_rejects_inconsistent_runs(
    tmp_path: Path, yearly_ids: list[int], summary_ids: list[int], message: str
) -> None:
    store = _new(tmp_path)
    with pytest.raises(ValueError, match=message):
        store.write_shard(_results(yearly_ids)[0], _results(summary_ids)[1])
    assert _files(store.yearly_dir) == _files(store.summary_dir) == []


def test_completed_ids_come_from_summary_shards_only(tmp_path: Path) -> None:
    store = _new(tmp_path)
    store.write_shard(*_results([0, 1]))
    # A crash between the two renames leaves a yearly shard with no summary partner.
    yearly, _ = _results([2, 3])
    pq.write_table(store_mod._to_table(yearly), store.yearly_dir / "part-000002-000003-deadbeef.parquet")
    assert store.completed_run_ids() == {0, 1}
    assert store.pending_run_ids() == set(range(2, 8))
    assert set(store.read_yearly()["run_id"]) == {0, 1}


def test_completed_ids_read_only_the_run_id_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _new(tmp_path)
    store.write_shard(*_results([0, 1]))
    store.write_shard(*_results([2]))
    calls = []
    real = pq.read_table

    def spy(source: object, *args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("columns"))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pq, "read_table", spy)
    assert store.completed_run_ids() == {0, 1, 2}
    assert calls == [["run_id"], ["run_id"]]


def _failing_write(fail_on_call: int):
    """A stand-in for ``pq.write_table`` that writes some bytes, then runs out of disk space."""
    real = pq.write_table
    state = {"calls": 0}

    def write(table: object, where: object, *args: object, **kwargs: object) -> None:
        state["calls"] += 1
        if state["calls"] == fail_on_call:
            where.write(b"PAR1 half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        real(table, where, *args, **kwargs)

    return write


def test_shard_write_failure_leaves_no_final_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _new(tmp_path)
    monkeypatch.setattr(pq, "write_table", _failing_write(fail_on_call=1))
    with pytest.raises(StoreError, match=r"could not write yearly shard .*yearly/part-000000-000001-.*No space"):
        store.write_shard(*_results([0, 1]))
    assert _files(store.yearly_dir) == _files(store.summary_dir) == []
    assert store.pending_run_ids() == set(range(8))


def test_summary_write_failure_removes_the_yearly_shard_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _new(tmp_path)
    monkeypatch.setattr(pq, "write_table", _failing_write(fail_on_call=2))
    with pytest.raises(StoreError, match="could not write summary shard"):
        store.write_shard(*_results([0, 1]))
    assert _files(store.yearly_dir) == _files(store.summary_dir) == []


def test_rename_failure_removes_the_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _new(tmp_path)

    def deny(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", deny)
    with pytest.raises(StoreError, match="Permission denied"):
        store.write_shard(*_results([0]))
    assert _files(store.yearly_dir) == _files(store.summary_dir) == []


def test_readers_skip_temp_files(tmp_path: Path) -> None:
    store = _new(tmp_path)
    store.write_shard(*_results([0]))
    yearly, summary = _results([1])
    pq.write_table(store_mod._to_table(yearly), store.yearly_dir / ".tmp-part-000001-000001-x.parquet.partial")
    pq.write_table(store_mod._to_table(summary), store.summary_dir / ".tmp-part-000001-000001-x.parquet.partial")
    assert store.completed_run_ids() == {0}
    assert set(store.read_yearly()["run_id"]) == {0}
    assert store.read_summary()["run_id"].tolist() == [0]


def test_open_deletes_stale_temp_files_but_keeps_fresh_ones(tmp_path: Path) -> None:
    store = _new(tmp_path)
    stale = store.yearly_dir / ".tmp-part-000000-000000-aaaaaaaa.parquet.partial"
    fresh = store.summary_dir / ".tmp-part-000001-000001-bbbbbbbb.parquet.partial"
    stale.write_bytes(b"crashed writer")
    fresh.write_bytes(b"writer still running")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    BatchStore.open(store.path)
    assert not stale.exists()
    assert fresh.exists()
    BatchStore.open(store.path, stale_temp_age_s=0)
    assert not fresh.exists()


def test_resume_runs_only_pending_ids(tmp_path: Path) -> None:
    _new(tmp_path).write_shard(*_results([0, 1, 2]))
    resumed = BatchStore.open(tmp_path / "batch")
    todo = sorted(resumed.pending_run_ids())
    assert todo == [3, 4, 5, 6, 7]
    resumed.write_shard(*_results(todo))
    assert resumed.pending_run_ids() == set()


def test_read_yearly_selects_columns_and_runs(tmp_path: Path) -> None:
    store = _new(tmp_path)
    store.write_shard(*_results([0, 1]))
    store.write_shard(*_results([2, 3]))
    everything = store.read_yearly()
    assert len(everything) == 4 * len(YEARS) * len(SECTORS)
    assert list(everything.columns) == ["run_id", "year", "sector", "emissions_mt"]
    some = store.read_yearly(columns=["year", "emissions_mt"], run_ids=[1, 2])
    assert list(some.columns) == ["year", "emissions_mt"]
    assert len(some) == 2 * len(YEARS) * len(SECTORS)
    with pytest.raises(ValueError, match="no column"):
        store.read_yearly(columns=["energy_pj"])


def test_empty_batch_reads_as_empty_tables(tmp_path: Path) -> None:
    store = _new(tmp_path)
    assert store.read_summary().empty
    assert store.read_yearly().empty
    assert store.read_failures().empty


def test_duplicate_run_is_read_once_and_finalize_reports_it(tmp_path: Path) -> None:
    store = _new(tmp_path, n=6)
    store.write_shard(*_results([0, 1, 2, 3]))
    store.write_shard(*_results([2, 3, 4, 5]))  # a retried worker rewrote runs 2 and 3
    assert store.read_summary()["run_id"].tolist() == list(range(6))
    assert len(store.read_yearly()) == 6 * len(YEARS) * len(SECTORS)

    report = store.finalize()
    assert report["duplicate_runs"] == 2
    assert report["runs_completed"] == 6 and report["runs_pending"] == 0
    assert len(_files(store.yearly_dir)) == len(_files(store.summary_dir)) == 2
    n_rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{store.yearly_dir}/*.parquet')").fetchall()[0][0]
    assert n_rows == 6 * len(YEARS) * len(SECTORS)
    assert BatchStore.open(store.path).manifest["duplicate_runs"] == 2


def test_finalize_writes_one_summary_row_per_run_and_updates_manifest(tmp_path: Path) -> None:
    store = _new(tmp_path)
    store.write_shard(*_results([4, 5]))
    store.write_shard(*_results([0, 1]))
    yearly, _ = _results([6])
    pq.write_table(store_mod._to_table(yearly), store.yearly_dir / "part-000006-000006-deadbeef.parquet")

    report = store.finalize()
    assert report == {
        "runs_completed": 4,
        "runs_pending": 4,
        "duplicate_runs": 0,
        "orphan_shards_removed": 1,
        "temp_files_removed": 0,
    }
    consolidated = pd.read_parquet(store.path / "summary.parquet")
    assert consolidated["run_id"].tolist() == [0, 1, 4, 5]
    assert consolidated["cumulative_mt"].tolist() == [0.0, 10.0, 40.0, 50.0]
    m = BatchStore.open(store.path).manifest
    assert m["runs_completed"] == 4 and m["runs_pending"] == 4 and "finalized_utc" in m


def test_reading_works_before_and_after_finalize(tmp_path: Path) -> None:
    store = _new(tmp_path)
    store.write_shard(*_results([0, 1, 2]))
    store.record_failure(3, {"gdp_growth_pct_per_yr": 9.0}, "ValueError: boom")
    before = (store.read_summary(), store.read_yearly(), store.completed_run_ids(), store.pending_run_ids())
    store.finalize()
    reopened = BatchStore.open(store.path)
    after = (
        reopened.read_summary(),
        reopened.read_yearly(),
        reopened.completed_run_ids(),
        reopened.pending_run_ids(),
    )
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1], after[1])
    assert before[2:] == after[2:] == ({0, 1, 2}, {3, 4, 5, 6, 7})
    assert reopened.read_failures()["run_id"].tolist() == [3]
    reopened.write_shard(*_results([3]))  # a finalized batch can still be resumed
    assert reopened.finalize()["runs_completed"] == 4


def test_record_failure_appends_json_lines_and_skips_a_torn_last_line(tmp_path: Path) -> None:
    store = _new(tmp_path)
    store.record_failure(np.int64(2), {"gdp_growth_pct_per_yr": np.float64(3.5), "k": np.arange(2)}, "boom")
    store.record_failure(2, {"gdp_growth_pct_per_yr": 3.5}, "boom again")
    with open(store.path / "failures.jsonl", "a", encoding="utf-8") as f:
        f.write('{"run_id": 5, "err')
    failures = store.read_failures()
    assert list(failures.columns) == ["run_id", "time_utc", "error", "params"]
    assert failures["run_id"].tolist() == [2, 2]
    assert failures["error"].tolist() == ["boom", "boom again"]
    assert failures["params"].iloc[0] == {"gdp_growth_pct_per_yr": 3.5, "k": [0, 1]}
    assert store.pending_run_ids() >= {2}


def test_store_readable_by_duckdb(tmp_path: Path) -> None:
    store = _new(tmp_path)
    store.write_shard(*_results([0, 1]))
    store.write_shard(*_results([2]))
    (store.yearly_dir / ".tmp-part-000003-000003-cccccccc.parquet.partial").write_bytes(b"half")
    totals = duckdb.sql(
        f"""
        SELECT run_id, sum(emissions_mt) AS total_mt
        FROM read_parquet('{store.yearly_dir}/*.parquet')
        WHERE year = 2020 GROUP BY run_id ORDER BY run_id
        """
    ).fetchall()
    # 2020 totals: industry r + 1, transport r.
    assert totals == [(0, 1.0), (1, 3.0), (2, 5.0)]
    store.finalize()
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{store.path}/summary.parquet')").fetchall()[0][0]
    assert n == 3


def test_finalize_removes_a_shard_that_only_repeats_runs(tmp_path: Path) -> None:
    store = _new(tmp_path)
    stems = [store.write_shard(*_results([0, 1])), store.write_shard(*_results([0, 1]))]
    assert store.finalize()["duplicate_runs"] == 2
    # The copy in the first shard by name is kept; the other shard pair is deleted.
    assert _files(store.yearly_dir) == _files(store.summary_dir) == [f"{min(stems)}.parquet"]
    assert store.read_summary()["run_id"].tolist() == [0, 1]
