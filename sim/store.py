"""One folder per batch of runs: a manifest, the planned parameters, and results streamed as shards.

Layout (DESIGN.md section 9)::

    <batch>/
      manifest.json        scenario text and hash, root seed, run count, package version, created time
      params.parquet       one row per planned run_id with its sampled values
      yearly/part-<first>-<last>-<uuid8>.parquet    run_id, year, sector, fuel, ..., emissions_mt, ...
      summary/part-<first>-<last>-<uuid8>.parquet   one row per run_id: peak_year, peaked, cumulative_mt...
      summary.parquet      consolidated, de-duplicated copy of the summary shards (written by finalize)
      failures.jsonl       one JSON line per failed run attempt

Why shards: an ensemble of thousands of runs must not be held in memory and saved at the end (the EMA
Workbench pain, its issue 304); a crash would lose everything. Each batch of finished runs is written
at once as a pair of shards with the same name in ``yearly/`` and ``summary/``.

Crash safety rests on three rules:

1. A shard is written under a temporary name (``.tmp-...partial``, skipped by every reader, by
   ``pyarrow.dataset`` and by a ``*.parquet`` glob) and then renamed with ``os.replace``, which is atomic
   on one file system; a half-written file never appears under a final name.
2. The yearly shard is renamed first and the summary shard last, so **a run is complete exactly when a
   summary shard holds its row**. A resumed batch runs only ``pending_run_ids()``.
3. Readers trust the summary shards: a yearly shard whose summary partner is missing (a crash between
   the two renames) is ignored, and a run_id stored twice (a crashed or retried worker rewrote it) is
   read once, from the first shard by name. Because every run's random numbers derive from its run_id
   and the root seed, both copies hold the same numbers; which one is kept does not change results.

The summary shards stay the source of truth after :meth:`BatchStore.finalize`; ``summary.parquet`` is the
consolidated copy for other tools. Only one process should write a batch at a time; any number may read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

__all__ = ["BatchStore", "StoreError", "package_version", "scenario_hash"]

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
PARAMS_FILE = "params.parquet"
SUMMARY_FILE = "summary.parquet"
FAILURES_FILE = "failures.jsonl"
YEARLY_DIR = "yearly"
SUMMARY_DIR = "summary"
TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".partial"
SHARD_PREFIX = "part-"
SHARD_SUFFIX = ".parquet"

_BATCH_ENTRIES = {MANIFEST_FILE, PARAMS_FILE, SUMMARY_FILE, FAILURES_FILE, YEARLY_DIR, SUMMARY_DIR}
_COMPUTED_KEYS = {
    "created_utc",
    "package_version",
    "scenario_hash",
    "format_version",
    "runs_completed",
    "runs_pending",
    "duplicate_runs",
    "finalized_utc",
}
_FAILURE_COLUMNS = ["run_id", "time_utc", "error", "params"]


class StoreError(Exception):
    """A batch folder cannot be created, read or written; the message names the path and the cause."""


def package_version() -> str:
    """Installed ``citypeak`` version, or ``0+unknown`` when running from a source tree."""
    try:
        return metadata.version("citypeak")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def scenario_hash(scenario_text: str) -> str:
    """SHA-256 hex digest of the scenario text, to tell whether two batches ran the same scenario."""
    return hashlib.sha256(scenario_text.encode("utf-8")).hexdigest()


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _is_temp(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def _fsync_dir(folder: Path) -> None:
    """Persist a rename in ``folder``; not supported everywhere (Windows), so best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _is_empty(folder: Path) -> bool:
    return folder.is_dir() and not any(folder.iterdir())


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _atomic_write(path: Path, write: Any, what: str) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place.

    ``write`` receives a binary file object. On any failure the temporary file is removed; an
    ``OSError`` (disk full, permission, ...) becomes a :class:`StoreError` naming ``path``.
    """
    tmp = path.with_name(f"{TEMP_PREFIX}{path.name}{TEMP_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise StoreError(f"could not write {what} {path}: {exc}") from exc
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_dir(path.parent)


def _write_table(table: pa.Table, path: Path, what: str) -> None:
    _atomic_write(path, lambda f: pq.write_table(table, f), what)


def _check_run_ids(df: pd.DataFrame, name: str, unique: bool) -> np.ndarray:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if "run_id" not in df.columns:
        raise ValueError(f"{name} lacks a run_id column; it has {list(df.columns)}")
    col = df["run_id"]
    if col.isna().any():
        raise ValueError(f"{name}.run_id has missing values: every row needs an integer run_id")
    if not pd.api.types.is_integer_dtype(col.dtype):
        raise ValueError(f"{name}.run_id has dtype {col.dtype}: run_id must be an integer column")
    ids = col.to_numpy(dtype=np.int64)
    if ids.size and ids.min() < 0:
        raise ValueError(f"{name}.run_id has {int(ids.min())}: run_ids must be >= 0")
    if unique:
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"{name} has run_id={int(uniq[counts > 1][0])} more than once: one row per run")
    return ids


def _to_table(df: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(df, preserve_index=False)
    i = table.schema.get_field_index("run_id")
    return table.set_column(i, "run_id", pc.cast(table["run_id"], pa.int64()))


def _few(ids: Iterable[int], k: int = 5) -> str:
    ids = sorted(int(i) for i in ids)
    return ", ".join(map(str, ids[:k])) + (", ..." if len(ids) > k else "")


class BatchStore:
    """A batch folder: create it, stream shards into it, resume it, read it, finalize it.

    ``BatchStore(path)`` only names the folder; use :meth:`create` for a new batch or :meth:`open` for an
    existing one before writing or reading.

    Example::

        store = BatchStore("results/pilot").create(
            {"scenario_text": text, "root_seed": 42}, params
        )
        store.write_shard(yearly_df, summary_df)      # repeatedly, as runs finish
        store = BatchStore.open("results/pilot")      # later, to resume
        todo = store.pending_run_ids()
        store.finalize()
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._manifest: dict[str, Any] | None = None
        self._planned: frozenset[int] | None = None

    def __repr__(self) -> str:
        return f"BatchStore({str(self.path)!r})"

    # -- paths ---------------------------------------------------------------------------------------

    @property
    def yearly_dir(self) -> Path:
        """Folder of the yearly shards (glob ``*.parquet`` from other tools)."""
        return self.path / YEARLY_DIR

    @property
    def summary_dir(self) -> Path:
        """Folder of the summary shards."""
        return self.path / SUMMARY_DIR

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the batch manifest."""
        return dict(self._require_batch())

    # -- create / open -------------------------------------------------------------------------------

    def create(self, manifest: dict[str, Any], params: pd.DataFrame, overwrite: bool = False) -> BatchStore:
        """Start a new batch: write ``params.parquet``, then ``manifest.json``.

        The manifest is written last, so a folder is a batch only once both files exist. The store adds
        ``created_utc`` (UTC, ISO 8601), ``package_version``, ``scenario_hash`` (SHA-256 of
        ``scenario_text``, to match batches of the same scenario), ``n_runs`` and ``format_version``.

        Args:
            manifest: JSON-serialisable metadata with at least ``scenario_text`` (the scenario YAML as
                run) and ``root_seed`` (the ``SeedSequence`` root, needed to resume reproducibly);
                ``n_runs`` is optional and must equal the number of params rows. Any other keys
                (sampler, executor, ...) are kept.
            params: one row per planned run, with an integer ``run_id`` and the sampled values.
            overwrite: replace an existing batch in the folder. Folders with files that are not part
                of a batch are never overwritten.

        Returns:
            ``self``, ready for writing.

        Raises:
            ValueError: if the manifest or params are invalid.
            StoreError: if a batch exists and ``overwrite`` is false, the folder holds other files, or
                writing fails.
        """
        m = self._new_manifest(manifest)
        ids = _check_run_ids(params, "params", unique=True)
        if m.setdefault("n_runs", int(ids.size)) != ids.size:
            raise ValueError(f"manifest['n_runs']={m['n_runs']!r} but params has {ids.size} runs: they must match")
        manifest_bytes = json.dumps(m, indent=2, ensure_ascii=False, default=_json_default).encode("utf-8")
        table = _to_table(params)

        self._prepare_folder(overwrite)
        _write_table(table, self.path / PARAMS_FILE, "params")
        _atomic_write(self.path / MANIFEST_FILE, lambda f: f.write(manifest_bytes), "manifest")
        self._manifest = m
        self._planned = frozenset(int(i) for i in ids)
        return self

    @classmethod
    def open(cls, path: str | os.PathLike[str], stale_temp_age_s: float = 600.0) -> BatchStore:
        """Open an existing batch, validate its manifest and delete stale temporary files.

        A temporary file is stale when it is older than ``stale_temp_age_s``: it was left by a writer
        that crashed. Younger ones may belong to a writer still running (e.g. the app opens a batch the
        CLI is filling), so they are left alone; readers skip them either way.

        Args:
            path: the batch folder.
            stale_temp_age_s: age in seconds above which temporary files are deleted.

        Returns:
            The opened store.

        Raises:
            StoreError: if the folder is not a batch, or its manifest or params are invalid.
        """
        store = cls(path)
        store._manifest = store._load_manifest()
        store._remove_temp_files(stale_temp_age_s)
        return store

    def _new_manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(manifest, dict):
            raise ValueError(f"manifest must be a dict, got {type(manifest).__name__}")
        text = manifest.get("scenario_text")
        if not isinstance(text, str):
            raise ValueError(f"manifest['scenario_text']={text!r} is not allowed: give the scenario YAML text as a str")
        seed = manifest.get("root_seed")
        if isinstance(seed, np.integer):
            seed = int(seed)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"manifest['root_seed']={seed!r} is not allowed: give the non-negative int root seed")
        computed = sorted(_COMPUTED_KEYS & manifest.keys())
        if computed:
            raise ValueError(f"manifest keys {computed} are set by the store; leave them out")
        m = {**manifest, "root_seed": seed}
        try:
            json.dumps(m, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"manifest must be JSON-serialisable: {exc}") from exc
        m.update(
            format_version=FORMAT_VERSION,
            created_utc=_utc_now(),
            package_version=package_version(),
            scenario_hash=scenario_hash(text),
        )
        return m

    def _prepare_folder(self, overwrite: bool) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"{self.path} exists and is not a folder; choose a folder path for the batch")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            entries = {p.name for p in self.path.iterdir()}
        except OSError as exc:  # a parent is a file, no permission, read-only file system
            raise StoreError(f"cannot create the batch folder {self.path}: {exc.strerror or exc}") from exc
        foreign = sorted(n for n in entries if n not in _BATCH_ENTRIES and not _is_temp(n))
        if foreign:
            raise StoreError(
                f"{self.path} holds files that are not part of a batch ({', '.join(foreign[:5])}); "
                "choose an empty or new folder"
            )
        # A create() that failed before its manifest (disk full) left no batch, only debris to clear.
        failed_create = MANIFEST_FILE not in entries and not any(
            (self.path / d).is_dir() and not _is_empty(self.path / d) for d in (YEARLY_DIR, SUMMARY_DIR)
        )
        if entries and not failed_create and not overwrite:
            kind = "a batch" if MANIFEST_FILE in entries else "an incomplete batch"
            raise StoreError(
                f"{self.path} already holds {kind}; open it with BatchStore.open() to resume, "
                "or pass overwrite=True to replace it"
            )
        for name in sorted(entries, key=lambda n: n != MANIFEST_FILE):
            target = self.path / name
            try:
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink()
            except OSError as exc:
                raise StoreError(f"could not remove {target} to overwrite the batch: {exc}") from exc
        for sub in (YEARLY_DIR, SUMMARY_DIR):
            try:
                (self.path / sub).mkdir(exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {self.path / sub}: {exc.strerror or exc}") from exc

    def _load_manifest(self) -> dict[str, Any]:
        file = self.path / MANIFEST_FILE
        if not file.is_file():
            raise StoreError(f"{self.path} is not a batch: {MANIFEST_FILE} is missing")
        try:
            m = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read {file}: {exc}") from exc
        if not isinstance(m, dict):
            raise StoreError(f"{file} must hold a JSON object, found {type(m).__name__}")
        if m.get("format_version") != FORMAT_VERSION:
            raise StoreError(
                f"{file} has format_version={m.get('format_version')!r}; this citypeak reads {FORMAT_VERSION}"
            )
        expected = {
            "scenario_text": str,
            "scenario_hash": str,
            "root_seed": int,
            "n_runs": int,
            "created_utc": str,
            "package_version": str,
        }
        for key, typ in expected.items():
            if not isinstance(m.get(key), typ):
                raise StoreError(f"{file}: '{key}'={m.get(key)!r} is missing or not a {typ.__name__}")
        if scenario_hash(m["scenario_text"]) != m["scenario_hash"]:
            raise StoreError(f"{file}: scenario_hash does not match scenario_text; the manifest was altered")
        planned = self._read_planned()
        if len(planned) != m["n_runs"]:
            raise StoreError(
                f"{self.path / PARAMS_FILE} plans {len(planned)} runs but the manifest says n_runs={m['n_runs']}"
            )
        return m

    def _require_batch(self) -> dict[str, Any]:
        if self._manifest is None:
            raise StoreError(f"{self.path}: call create() or BatchStore.open() before using the batch")
        return self._manifest

    def _write_manifest(self, m: dict[str, Any]) -> None:
        data = json.dumps(m, indent=2, ensure_ascii=False, default=_json_default).encode("utf-8")
        _atomic_write(self.path / MANIFEST_FILE, lambda f: f.write(data), "manifest")
        self._manifest = m

    def _remove_temp_files(self, min_age_s: float) -> int:
        now = time.time()
        removed = 0
        for folder in (self.path, self.yearly_dir, self.summary_dir):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if not _is_temp(p.name):
                    continue
                with contextlib.suppress(OSError):  # gone already, or not ours to delete: readers skip it
                    if now - p.stat().st_mtime >= min_age_s:
                        p.unlink()
                        removed += 1
        return removed

    # -- writing -------------------------------------------------------------------------------------

    def write_shard(self, yearly: pd.DataFrame, summary: pd.DataFrame) -> str:
        """Store the results of some finished runs as one yearly and one summary shard.

        Both shards get the name ``part-<first>-<last>-<uuid8>.parquet`` (first and last run_id). The
        yearly shard is written and renamed into place first, the summary shard last: only then do the
        runs count as complete. If writing the summary fails, the yearly shard is removed again.

        Args:
            yearly: rows of these runs (``run_id``, ``year``, keys, values); every run has rows.
            summary: one row per run, the same run_ids as ``yearly``, all of them planned.

        Returns:
            The shard name without suffix (``part-000000-000031-1a2b3c4d``).

        Raises:
            ValueError: if the tables are empty, lack ``run_id``, disagree on run_ids, repeat a run in
                ``summary`` or hold unplanned run_ids.
            StoreError: if a file cannot be written (disk full, permission); no file is left under a
                final name and the temporary file is removed.
        """
        self._require_batch()
        s_ids = _check_run_ids(summary, "summary", unique=True)
        y_ids = _check_run_ids(yearly, "yearly", unique=False)
        if s_ids.size == 0:
            raise ValueError("summary is empty: a shard stores at least one run")
        s_set, y_set = set(s_ids.tolist()), set(np.unique(y_ids).tolist())
        if s_set != y_set:
            raise ValueError(
                "yearly and summary must hold the same runs: "
                f"only in summary: [{_few(s_set - y_set)}], only in yearly: [{_few(y_set - s_set)}]"
            )
        unplanned = s_set - self._planned_ids()
        if unplanned:
            raise ValueError(f"run_ids [{_few(unplanned)}] are not planned in {self.path / PARAMS_FILE}")
        return self._write_pair(_to_table(yearly), _to_table(summary), int(s_ids.min()), int(s_ids.max()))

    def _write_pair(self, yearly: pa.Table, summary: pa.Table, first: int, last: int) -> str:
        stem = f"{SHARD_PREFIX}{first:06d}-{last:06d}-{uuid.uuid4().hex[:8]}"
        yearly_path = self.yearly_dir / f"{stem}{SHARD_SUFFIX}"
        _write_table(yearly, yearly_path, "yearly shard")
        try:
            _write_table(summary, self.summary_dir / f"{stem}{SHARD_SUFFIX}", "summary shard")
        except BaseException:
            _remove_quietly(yearly_path)
            raise
        return stem

    def record_failure(self, run_id: int, params: dict[str, Any], error: str) -> None:
        """Append a failed run attempt to ``failures.jsonl``.

        A failed run stays pending, so a resumed batch retries it; the file keeps every attempt so the
        parameter values that break the model can be studied (``read_failures``).

        Args:
            run_id: the run that failed.
            params: its sampled parameter values.
            error: the error text (e.g. the formatted traceback).

        Raises:
            StoreError: if the file cannot be written.
        """
        self._require_batch()
        record = {"run_id": int(run_id), "time_utc": _utc_now(), "error": str(error), "params": params}
        line = json.dumps(record, ensure_ascii=False, default=_json_default) + "\n"
        file = self.path / FAILURES_FILE
        try:
            with open(file, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise StoreError(f"could not append to {file}: {exc}") from exc

    # -- reading -------------------------------------------------------------------------------------

    def read_params(self) -> pd.DataFrame:
        """The planned runs: ``run_id`` and the sampled parameter values."""
        self._require_batch()
        return pq.read_table(self.path / PARAMS_FILE).to_pandas()

    def _read_planned(self) -> frozenset[int]:
        file = self.path / PARAMS_FILE
        try:
            ids = pq.read_table(file, columns=["run_id"])["run_id"].to_numpy()
        except (OSError, pa.ArrowInvalid, KeyError) as exc:
            raise StoreError(f"cannot read run_id from {file}: {exc}") from exc
        return frozenset(int(i) for i in ids)

    def _planned_ids(self) -> frozenset[int]:
        if self._planned is None:
            self._planned = self._read_planned()
        return self._planned

    def _shard_stems(self, folder: Path) -> list[str]:
        if not folder.is_dir():
            return []
        return sorted(
            p.name[: -len(SHARD_SUFFIX)]
            for p in folder.iterdir()
            if p.name.startswith(SHARD_PREFIX) and p.name.endswith(SHARD_SUFFIX)
        )

    def _summary_index(self) -> dict[str, np.ndarray]:
        """run_ids of every summary shard, by shard name; reads only the run_id column."""
        index = {}
        for stem in self._shard_stems(self.summary_dir):
            file = self.summary_dir / f"{stem}{SHARD_SUFFIX}"
            try:
                index[stem] = pq.read_table(file, columns=["run_id"])["run_id"].to_numpy()
            except (OSError, pa.ArrowInvalid) as exc:
                raise StoreError(f"cannot read summary shard {file}: {exc}") from exc
        return index

    @staticmethod
    def _duplicates(index: dict[str, np.ndarray]) -> dict[str, set[int]]:
        """For each shard, the run_ids already held by an earlier shard (by name): read once, there."""
        seen: set[int] = set()
        dropped: dict[str, set[int]] = {}
        for stem in sorted(index):
            ids = set(index[stem].tolist())
            again = ids & seen
            if again:
                dropped[stem] = again
            seen |= ids
        return dropped

    def planned_run_ids(self) -> set[int]:
        """Every run_id in ``params.parquet``."""
        self._require_batch()
        return set(self._planned_ids())

    def completed_run_ids(self) -> set[int]:
        """Runs with a row in a summary shard; yearly shards alone do not make a run complete."""
        self._require_batch()
        done: set[int] = set()
        for ids in self._summary_index().values():
            done.update(ids.tolist())
        return done

    def pending_run_ids(self) -> set[int]:
        """Planned runs that are not complete (including failed ones): what a resumed batch runs."""
        return self.planned_run_ids() - self.completed_run_ids()

    def read_summary(self) -> pd.DataFrame:
        """One row per completed run, sorted by run_id, from the summary shards.

        A run stored twice is read from the first shard by name, the same copy :meth:`read_yearly` uses.
        """
        self._require_batch()
        index = self._summary_index()
        dropped = self._duplicates(index)
        tables = []
        for stem in index:
            table = pq.read_table(self.summary_dir / f"{stem}{SHARD_SUFFIX}")
            if stem in dropped:
                keep = pc.invert(pc.is_in(table["run_id"], pa.array(sorted(dropped[stem]), pa.int64())))
                table = table.filter(keep)
            tables.append(table)
        if not tables:
            return pd.DataFrame({"run_id": pd.Series([], dtype=np.int64)})
        df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
        return df.sort_values("run_id", kind="stable").reset_index(drop=True)

    def read_yearly(self, columns: list[str] | None = None, run_ids: Iterable[int] | None = None) -> pd.DataFrame:
        """Yearly rows of completed runs, read with ``pyarrow.dataset`` (only the requested columns).

        Yearly shards without a summary partner (left by a crash) and second copies of a run are
        skipped, so every completed run appears exactly once.

        Args:
            columns: columns to read (default: all).
            run_ids: restrict to these runs (default: all completed runs).

        Returns:
            The rows, in shard order.

        Raises:
            ValueError: if a requested column does not exist.
            StoreError: if a completed shard's yearly file is missing.
        """
        self._require_batch()
        index = self._summary_index()
        dropped = self._duplicates(index)
        files = {stem: self.yearly_dir / f"{stem}{SHARD_SUFFIX}" for stem in index}
        missing = [str(f) for f in files.values() if not f.is_file()]
        if missing:
            raise StoreError(
                f"summary shards have no yearly partner ({missing[0]}); the batch is damaged: delete the "
                "matching summary shard to run those runs again"
            )
        if not files:
            return pd.DataFrame({c: [] for c in (columns or ["run_id"])})

        schema = pa.unify_schemas([pq.read_schema(f) for f in files.values()], promote_options="permissive")
        if columns is not None:
            unknown = [c for c in columns if c not in schema.names]
            if unknown:
                raise ValueError(f"yearly shards have no column(s) {unknown}; they have {schema.names}")
        wanted = None if run_ids is None else pa.array(sorted({int(i) for i in run_ids}), pa.int64())
        base = None if wanted is None else ds.field("run_id").isin(wanted)

        def scan(paths: list[Path], drop: set[int] | None) -> pa.Table:
            expr = base
            if drop:
                keep = ~ds.field("run_id").isin(pa.array(sorted(drop), pa.int64()))
                expr = keep if expr is None else expr & keep
            dataset = ds.dataset([str(p) for p in paths], schema=schema, format="parquet")
            return dataset.to_table(columns=columns, filter=expr)

        clean = [files[s] for s in files if s not in dropped]
        tables = [scan(clean, None)] if clean else []
        tables += [scan([files[s]], drop) for s, drop in dropped.items()]
        return pa.concat_tables(tables).to_pandas()

    def read_failures(self) -> pd.DataFrame:
        """Failed run attempts: ``run_id``, ``time_utc``, ``error``, ``params`` (a dict per row).

        A torn last line (the process died while appending) is skipped; damage elsewhere is an error.
        """
        self._require_batch()
        file = self.path / FAILURES_FILE
        if not file.is_file():
            return pd.DataFrame({c: [] for c in _FAILURE_COLUMNS})
        lines = file.read_text(encoding="utf-8").splitlines()
        records = []
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                if n == len(lines):
                    break
                raise StoreError(f"{file} line {n} is not valid JSON: {exc}") from exc
        return pd.DataFrame.from_records(records, columns=_FAILURE_COLUMNS)

    # -- finishing -----------------------------------------------------------------------------------

    def finalize(self) -> dict[str, int]:
        """Clean up the shards and write the consolidated ``summary.parquet``.

        Run it when no writer is active. It removes temporary files and orphan yearly shards, removes
        second copies of runs from the shards (so a plain ``*.parquet`` glob by DuckDB or Spark sees every
        run once), writes ``summary.parquet`` with one row per run_id and records ``runs_completed``,
        ``runs_pending``, ``duplicate_runs`` and ``finalized_utc`` in the manifest. The summary shards are
        kept as the source of truth, so a finalized batch can still be resumed and finalized again.

        Returns:
            ``runs_completed``, ``runs_pending``, ``duplicate_runs`` (second copies removed),
            ``orphan_shards_removed`` and ``temp_files_removed``.

        Raises:
            StoreError: if a file cannot be read, written or removed.
        """
        m = self._require_batch()
        temps = self._remove_temp_files(0.0)
        index = self._summary_index()
        orphans = [s for s in self._shard_stems(self.yearly_dir) if s not in index]
        for stem in orphans:
            self._unlink(self.yearly_dir / f"{stem}{SHARD_SUFFIX}")

        dropped = self._duplicates(index)
        for stem, drop in dropped.items():
            summary_path = self.summary_dir / f"{stem}{SHARD_SUFFIX}"
            yearly_path = self.yearly_dir / f"{stem}{SHARD_SUFFIX}"
            keep_ids = sorted(set(index[stem].tolist()) - drop)
            if keep_ids:
                mask = pa.array(keep_ids, pa.int64())
                yearly = pq.read_table(yearly_path)
                summary = pq.read_table(summary_path)
                self._write_pair(
                    yearly.filter(pc.is_in(yearly["run_id"], mask)),
                    summary.filter(pc.is_in(summary["run_id"], mask)),
                    keep_ids[0],
                    keep_ids[-1],
                )
            self._unlink(summary_path)
            self._unlink(yearly_path)

        summary = self.read_summary()
        _write_table(pa.Table.from_pandas(summary, preserve_index=False), self.path / SUMMARY_FILE, "summary")
        n_dup = sum(len(d) for d in dropped.values())
        report = {
            "runs_completed": len(summary),
            "runs_pending": len(self._planned_ids() - set(summary["run_id"].tolist())),
            "duplicate_runs": n_dup,
            "orphan_shards_removed": len(orphans),
            "temp_files_removed": temps,
        }
        self._write_manifest(
            {
                **m,
                "runs_completed": report["runs_completed"],
                "runs_pending": report["runs_pending"],
                "duplicate_runs": n_dup,
                "finalized_utc": _utc_now(),
            }
        )
        return report

    @staticmethod
    def _unlink(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"could not remove {path}: {exc}") from exc
