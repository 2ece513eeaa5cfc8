"""Opening the DuckLake store: one DuckDB connection with the lake attached as `lake`.

What this module relies on, checked with small experiments here (duckdb 1.5.5, ducklake d8a1881e,
SQLite catalog in WAL mode, 2 writer processes + readers, 30 s runs):

- The extensions load by file path from the `duckdb_extension_*` packages (no internet needed).
- Two processes committing to the same lake without coordination: ~10% of commits failed at once
  with "Failed to flush changes into DuckLake: database is locked" (SQLite cannot upgrade a read
  transaction to a write one while another writer is pending; DuckLake does not retry that). With
  writers serialised by an exclusive `flock` on `<catalog>.lock` for the length of the DuckLake
  transaction: 0 failures in 430 commits, commit p50 ~20 ms. `write_transaction()` takes that lock,
  and so does attaching a new catalog (three processes creating one lake at once failed without).
- The SQLite bundled in the extension sleeps in whole seconds when it must wait (no usleep: a
  0.3 s lock held elsewhere cost a reader 1.0 s). Readers and writers stalled ~1 s a few times a
  minute under load: DuckLake opens a SQLite connection per transaction, and when the last one
  closes it checkpoints and deletes the WAL while others open it. An idle SQLite connection held
  open by a child process of every writer (`_Keeper`) removed the stalls: worst reader (attach +
  query) 0.13 s over 30 s of two writers, from 1.0-3.2 s without it. The keeper must be another
  process: Python's and DuckDB's SQLite libraries in one process share POSIX locks (closing one's
  file drops the other's locks), and DuckDB's SQLite then deleted the WAL under the open keeper.
  So this process never opens the catalog file itself (only `stat`), nor should anything else.
- The remaining ~1 s reader stalls (one in 83 `slt sql` queries on a CI machine; none in ~600 here
  under CPU and fsync stress) match that whole-second sleep: a WAL reader that meets a writer
  mid-commit (a torn wal-index header) retries five times at once, then sleeps. So a read-only
  `Lake` takes a *shared* `flock` on `<catalog>.lock` while it attaches, while each query runs
  (`reading()`) and while it closes, and SQLite never sees a reader and a writer at the same moment. The price: a
  long query delays the writers' next commit by its length (the recorder keeps acknowledging from
  its journal meanwhile); the `slt sql` prompt (the DuckDB CLI) takes no lock.
- Readers attach with READ_ONLY and see each commit atomically; a writer's DATA_PATH must match the
  one stored in the catalog (DuckLake refuses a mismatch, which catches a misconfiguration).
- DuckLake has no PRIMARY KEY/UNIQUE constraints: the writer skips existing record ids itself,
  inside the locked transaction, so two writers cannot both insert one id.
- Attaching a missing SQLite catalog read-write creates a new, empty lake. So only `create=True`
  may create one; otherwise a missing catalog is `StoreUnavailable` (e.g. moved away).

A `postgres:<dsn>` catalog builds `ducklake:postgres:<dsn>`; it needs DuckDB's postgres extension,
which is not packaged on PyPI, and is untested here. Cross-process write serialisation then needs a
Postgres advisory lock instead of `flock` (not built).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engine.config import Settings
from engine.core.errors import ConfigError, StoreUnavailable

ALIAS = "lake"
EXTENSIONS = (("duckdb_extension_ducklake", "ducklake"), ("duckdb_extension_sqlite_scanner", "sqlite_scanner"))


def extension_path(package: str, name: str) -> Path:
    """The extension binary shipped in a `duckdb_extension_*` package for this DuckDB version."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise StoreUnavailable(f"Python package {package} is not installed (pip install {package.replace('_', '-')})")
    path = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise StoreUnavailable(f"{path} is missing: {package} does not match duckdb {duckdb.__version__}")
    return path


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Catalog:
    """Where the lake's metadata lives: a SQLite file or a Postgres database."""

    kind: str  # "sqlite" | "postgres"
    target: str  # file path or libpq connection string

    @property
    def path(self) -> Path | None:
        return Path(self.target) if self.kind == "sqlite" else None

    @property
    def lock_path(self) -> Path | None:
        return Path(self.target + ".lock") if self.kind == "sqlite" else None


def parse_catalog(text: str) -> Catalog:
    """`sqlite:<path>`, a bare path, or `postgres:<dsn>`."""
    if text.startswith("postgres:"):
        return Catalog("postgres", text.removeprefix("postgres:"))
    target = text.removeprefix("sqlite:")
    if not target or "://" in target:
        raise ConfigError(f"SLT_STORE_CATALOG={text!r} is not allowed: expected 'sqlite:<path>', a path or 'postgres:<dsn>'")
    return Catalog("sqlite", str(Path(target).expanduser().absolute()))


def attach_sql(catalog: Catalog, data_path: str | None, read_only: bool) -> str:
    options = []
    if data_path is not None:
        options.append(f"DATA_PATH {quote(data_path)}")
    if read_only:
        options.append("READ_ONLY")
    suffix = f" ({', '.join(options)})" if options else ""
    return f"ATTACH {quote(f'ducklake:{catalog.kind}:{catalog.target}')} AS {ALIAS}{suffix}"


def load_sql() -> list[str]:
    return [f"LOAD {quote(str(extension_path(pkg, name)))}" for pkg, name in EXTENSIONS]


class Lake:
    """A DuckDB connection with the lake attached. Writers use `write_transaction()`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, catalog: Catalog, read_only: bool,
                 keeper: _Keeper | None = None) -> None:
        self.con = con
        self.catalog = catalog
        self.read_only = read_only
        self._keeper = keeper
        self.timings: dict[str, float] = {}  # seconds spent loading extensions and attaching
        self._inode = catalog.path.stat().st_ino if catalog.path is not None and not read_only else None

    def check(self) -> None:
        """Raise `StoreUnavailable` if the catalog file was moved or deleted under us: an open
        handle would otherwise keep writing into the moved file."""
        path = self.catalog.path
        if path is None or self._inode is None:
            return
        try:
            inode = path.stat().st_ino
        except OSError:
            inode = None
        if inode != self._inode:
            raise StoreUnavailable(f"DuckLake catalog {path} was moved or replaced")

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor for one query. On a read-only lake it holds the shared catalog lock, so
        the query never meets a writer inside SQLite (see the module docstring). A writer's own
        reads take no lock: they may run inside its write transaction, and flock would deadlock."""
        with _CatalogLock(self.catalog.lock_path if self.read_only else None, exclusive=False, required=False):
            cur = self.con.cursor()  # a new connection: name tables `lake.<table>` (or `USE lake` first)
            try:
                yield cur
            finally:
                cur.close()

    @contextmanager
    def write_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckLake transaction, serialised with every other writer of this catalog."""
        with self.exclusive() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextmanager
    def exclusive(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The writers' lock without a transaction: for DuckLake's maintenance functions, which
        commit by themselves (engine/store/maintenance.py)."""
        if self.read_only:
            raise StoreUnavailable("the lake is attached read-only")
        self.check()
        with _CatalogLock(self.catalog.lock_path):
            yield self.con

    def close(self) -> None:
        try:
            # Closing SQLite connections briefly takes file locks that could make a connection
            # opening elsewhere sleep a whole second: close under the lock like everything else.
            with _CatalogLock(self.catalog.lock_path, exclusive=not self.read_only, required=False):
                self.con.close()
        finally:
            if self._keeper is not None:
                self._keeper.close()
                self._keeper = None

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Runs in a child process with the system's SQLite: creates the catalog in WAL mode if asked, then
# keeps one connection open until its stdin closes (the parent closed the lake or died).
_KEEPER = """
import os, sqlite3, sys
path, create = sys.argv[1], sys.argv[2] == "1"
if not create and not os.path.exists(path):
    print("missing", flush=True); sys.exit(2)
con = sqlite3.connect(path)
mode = con.execute("PRAGMA journal_mode").fetchone()[0]
if mode.lower() != "wal":
    mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
con.execute("SELECT count(*) FROM sqlite_master").fetchall()
print("ready", mode, flush=True)
sys.stdin.read()
"""


class _Keeper:
    """A child process holding one idle connection to the SQLite catalog.

    It must be another process: two SQLite libraries in one process (Python's and DuckDB's) share
    POSIX locks, so closing one's file releases the other's locks; here DuckDB's SQLite then
    deleted the WAL under an open connection."""

    def __init__(self, path: Path, create: bool) -> None:
        self.process = subprocess.Popen([sys.executable, "-I", "-c", _KEEPER, str(path), "1" if create else "0"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        answer = self.process.stdout.readline().split()
        if answer[:1] != ["ready"]:
            self.close()
            raise StoreUnavailable(f"no DuckLake catalog at {path}: run `slt up` (or `make run`) once to create it"
                                   if answer[:1] == ["missing"] else f"cannot open DuckLake catalog {path}")
        if answer[1].lower() != "wal":
            self.close()
            raise StoreUnavailable(f"DuckLake catalog {path} cannot use WAL mode (journal mode {answer[1]})")

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _CatalogLock:
    """`flock` on `<catalog>.lock`: exclusive for a writer, shared for a reader (SQLite catalogs
    only; `None` is no lock). Released when the process dies. Unless `required`, a lock file that
    cannot be opened (a read-only data directory, a catalog moved away with its directory) means
    going without: waiting a second now and then beats failing to read or to close."""

    def __init__(self, path: Path | None, exclusive: bool = True, required: bool = True) -> None:
        self.path = path
        self.exclusive = exclusive
        self.required = required
        self.fd: int | None = None

    def __enter__(self) -> None:
        if self.path is None:
            return
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            if self.required:
                raise
            try:
                self.fd = os.open(self.path, os.O_RDONLY)
            except OSError:
                return
        fcntl.flock(self.fd, fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None


def connect(settings: Settings, *, read_only: bool = False, create: bool = False) -> Lake:
    """Open the lake named by `settings.store_catalog`. Readers pass `read_only=True`; only
    `create=True` may create a new catalog."""
    catalog = parse_catalog(settings.store_catalog)
    if catalog.path is not None:
        if not catalog.path.exists() and (read_only or not create):
            raise StoreUnavailable(f"no DuckLake catalog at {catalog.path}: run `slt up` (or `make run`) once to create it")
        catalog.path.parent.mkdir(parents=True, exist_ok=True)
    data_path = None if read_only else settings.store_data_path
    if data_path is not None and "://" not in data_path:
        Path(data_path).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    con = duckdb.connect()
    keeper: _Keeper | None = None
    try:
        for statement in load_sql():
            con.execute(statement)
        loaded = time.perf_counter()
        # Writers attach under the exclusive lock: attaching a new catalog initialises it, which
        # must happen once even when several processes start at the same moment. Readers attach
        # under the shared one.
        with _CatalogLock(catalog.lock_path, exclusive=not read_only, required=not read_only):
            if catalog.path is not None and not read_only:
                keeper = _Keeper(catalog.path, create)
            con.execute(attach_sql(catalog, data_path, read_only))
        con.execute(f"USE {ALIAS}")
        lake = Lake(con, catalog, read_only, keeper)
        lake.timings = {"load": loaded - started, "attach": time.perf_counter() - loaded}
        return lake
    except BaseException as exc:
        con.close()
        if keeper is not None:
            keeper.close()
        if isinstance(exc, duckdb.Error):
            raise StoreUnavailable(f"cannot attach DuckLake catalog {settings.store_catalog}: {exc}") from exc
        if isinstance(exc, OSError):
            raise StoreUnavailable(f"cannot open DuckLake catalog {catalog.target}: {exc}") from exc
        raise
