"""Where the trail questions run: DuckDB over the store, DuckDB over the Parquet layout, or Spark over the Parquet
layout. Each engine shows the events as a table or view named ``events`` and runs the query builder's SQL with
named parameters, streaming the answer as ``(columns, batches)``.

The query builder writes one SQL text for every engine; only the parameter marker differs (``$name`` for DuckDB,
``:name`` for Spark). Spark is configured so that text means the same there: ``TIMESTAMP`` is the time without a
zone (as in DuckDB), the session zone is UTC, and partition values stay strings.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import duckdb

from cloudwarden.trail.parquet import ParquetError, event_files_glob, events_dir, has_event_files
from cloudwarden.trail.store import TrailStore

FETCH_ROWS = 1000
MAX_ERROR_CHARS = 2000
SPARK_MASTER_ENV = "CLOUDWARDEN_SPARK_MASTER"
PYSPARK_HINT = "install it with: pip install 'cloudwarden[spark]'"
JAVA_HINT = "install a Java 17+ runtime (Debian/Ubuntu: apt-get install default-jre-headless) or set JAVA_HOME"

Batches = Iterator[list[tuple[Any, ...]]]
Result = tuple[list[str], Batches]


class QueryError(Exception):
    """A query failed in the engine (bad user SQL, unreadable files); the message is the engine's, shortened."""


class EngineUnavailable(Exception):
    """The engine cannot start here (pyspark or Java missing)."""


class Engine(Protocol):
    """What the query builder needs from an engine."""

    marker: str
    """Prefix of a named parameter in this engine's SQL: ``$`` (DuckDB) or ``:`` (Spark)."""
    partitioned: bool
    """Whether ``events`` has the layout's ``day`` column (``YYYY-MM-DD`` text) that lets the engine skip days."""

    def execute(self, sql: str, params: dict[str, Any]) -> Result:
        """Run the builder's ``sql`` with ``params`` (named); stream the rows."""
        ...

    def run_user_query(self, query: str) -> Result:
        """Run a query the user wrote (one read-only statement)."""
        ...

    def close(self) -> None: ...


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # Spark's messages end with a JVM stack trace: the first lines say what went wrong.
    text = " ".join(line.strip() for line in text.splitlines()[:8] if line.strip())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _fetch(cursor: Any, size: int) -> Batches:
    try:
        while True:
            rows = cursor.fetchmany(size)
            if not rows:
                return
            yield rows
    except duckdb.Error as exc:
        raise QueryError(_short(exc)) from exc


class DuckDBEngine:
    """DuckDB over one connection whose ``events`` is the store's table or a view over the Parquet layout."""

    marker = "$"

    def __init__(self, connection: duckdb.DuckDBPyConnection, partitioned: bool, owned: bool, checked: bool) -> None:
        self.connection = connection
        self.partitioned = partitioned
        self._owned = owned
        self._checked = checked

    @classmethod
    def over_store(cls, store: TrailStore) -> DuckDBEngine:
        """The store's own connection (closing the engine leaves the store open)."""
        return cls(store.connection, partitioned=False, owned=False, checked=False)

    @classmethod
    def over_parquet(cls, directory: Path) -> DuckDBEngine:
        """An in-memory DuckDB whose view ``events`` reads the layout under ``directory``; files outside
        ``DIR/events`` cannot be reached, and user queries must be a single SELECT (the view's folder can be
        written to)."""
        files, glob = _layout(directory)
        connection = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
        try:
            connection.execute("SET allowed_directories = $dirs", {"dirs": [f"{files}{os.sep}"]})
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
            # A view cannot take a prepared parameter: the path is quoted (and has no glob characters).
            quoted = "'" + glob.replace("'", "''") + "'"
            connection.execute(
                f"CREATE VIEW events AS SELECT * FROM read_parquet({quoted}, hive_partitioning = true, "  # noqa: S608
                "hive_types_autocast = false, union_by_name = true)"
            )
        except duckdb.Error as exc:
            connection.close()
            raise ParquetError(f"cannot read the Parquet layout under {directory}: {_short(exc)}") from exc
        return cls(connection, partitioned=True, owned=True, checked=True)

    def execute(self, sql: str, params: dict[str, Any]) -> Result:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, params)
        except duckdb.Error as exc:
            raise QueryError(_short(exc)) from exc
        return [d[0] for d in cursor.description or []], _fetch(cursor, FETCH_ROWS)

    def run_user_query(self, query: str) -> Result:
        if self._checked:
            try:
                statements = self.connection.extract_statements(query)
            except duckdb.Error as exc:
                raise QueryError(_short(exc)) from exc
            # Not EXPLAIN either: EXPLAIN ANALYZE runs its statement (a COPY into the layout's folder, say).
            if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
                raise QueryError("only one SELECT statement can run over the Parquet layout")
        return self.execute(query, {})

    def close(self) -> None:
        if self._owned:
            self.connection.close()


def _layout(directory: Path) -> tuple[Path, str]:
    """The layout's event folder (absolute) and the glob of its files; ParquetError when it has none."""
    glob = event_files_glob(directory)
    if not has_event_files(directory.expanduser().resolve()):
        raise ParquetError(
            f"no Parquet trail under {directory}: write it with `cloudwarden trail ingest SOURCE --parquet "
            f"{directory}` or `cloudwarden trail export --parquet {directory}`"
        )
    return events_dir(directory.expanduser().resolve()), glob


_spark_session: Any = None
# Spark's own startup lines (and SQL errors, which reach the caller as exceptions) would interleave with the
# answer on the terminal: a console appender with the root logger off (and the shell's level the same, or Spark
# announces that it sets one).
_LOG4J_CONFIG = """rootLogger.level = off
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = off
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %m%n
"""


def spark_session() -> Any:
    """The process's SparkSession, started on first use: master ``local[2]`` (or $CLOUDWARDEN_SPARK_MASTER), small
    memory, no UI, no console progress, logs off (errors reach the caller as exceptions), and the settings that
    make the query builder's SQL mean what it means in DuckDB. Raises EngineUnavailable without pyspark or Java."""
    global _spark_session
    if _spark_session is not None:
        return _spark_session
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineUnavailable(f"--engine spark needs pyspark: {PYSPARK_HINT}") from exc
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and shutil.which("java") is None:
        raise EngineUnavailable(f"--engine spark needs Java (no java on PATH or in JAVA_HOME): {JAVA_HINT}")
    scratch = Path(tempfile.mkdtemp(prefix="cloudwarden-spark-"))
    log_config = scratch / "log4j2.properties"
    log_config.write_text(_LOG4J_CONFIG, encoding="utf-8")
    java_options = f"-Dlog4j2.configurationFile={log_config.as_uri()} -Duser.timezone=UTC"
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    master = os.environ.get(SPARK_MASTER_ENV) or "local[2]"
    builder = (
        SparkSession.builder.master(master)
        .appName("cloudwarden-trail")
        .config("spark.driver.memory", "1g")
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.session.timeZone", "UTC")
        # A JSON object with a key twice parses as DuckDB's and orjson's do (the last one wins), not as an error.
        .config("spark.sql.variant.allowDuplicateKeys", "true")
        .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.runSQLOnFiles", "false")
    )
    if master.startswith("local"):  # nothing but this process talks to a local driver: listen on loopback only
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # pyspark raises its own errors, or RuntimeError when the JVM does not start
        raise EngineUnavailable(f"Spark did not start ({_short(exc)}); {JAVA_HINT}") from exc
    session.sparkContext.setLogLevel("OFF")
    _spark_session = session
    return session


def stop_spark() -> None:
    """Stop the process's SparkSession, if one was started."""
    global _spark_session
    if _spark_session is not None:
        _spark_session.stop()
        _spark_session = None


def _spark_errors() -> tuple[type[BaseException], ...]:
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError)


class SparkEngine:
    """Spark SQL over the Parquet layout, as the temporary view ``events``.

    Spark SQL has no sandbox like DuckDB's: a user query can call ``reflect``/``java_method`` and reach what the
    process can. ``sql`` accepts only a query (it runs as a subquery, so DDL and INSERT do not parse) and reading
    files by path (``parquet.`/path```) is turned off, but run it only on a machine and as a user you trust."""

    marker = ":"
    partitioned = True

    def __init__(self, session: Any, directory: Path) -> None:
        files, _ = _layout(directory)
        self.session = session
        self._errors = _spark_errors()
        try:
            frame = session.read.option("mergeSchema", "true").option("pathGlobFilter", "*.parquet").parquet(str(files))
            frame.createOrReplaceTempView("events")
        except self._errors as exc:
            raise ParquetError(f"cannot read the Parquet layout under {directory}: {_short(exc)}") from exc

    @classmethod
    def open(cls, directory: Path) -> SparkEngine:
        """Check the layout under ``directory``, then start (or reuse) the process's SparkSession over it."""
        _layout(directory)
        return cls(spark_session(), directory)

    def execute(self, sql: str, params: dict[str, Any]) -> Result:
        try:
            frame = self.session.sql(sql, args=params)
            columns = list(frame.columns)
            rows = frame.toLocalIterator(prefetchPartitions=False)
        except self._errors as exc:
            raise QueryError(_short(exc)) from exc
        return columns, self._batches(rows)

    def _batches(self, rows: Iterator[Any]) -> Batches:
        batch: list[tuple[Any, ...]] = []
        try:
            for row in rows:
                batch.append(tuple(row))
                if len(batch) >= FETCH_ROWS:
                    yield batch
                    batch = []
        except self._errors as exc:
            raise QueryError(_short(exc)) from exc
        if batch:
            yield batch

    def run_user_query(self, query: str) -> Result:
        text = query.strip().rstrip(";").strip()
        # Newlines keep a trailing -- comment from swallowing the closing parenthesis.
        return self.execute(f"SELECT * FROM (\n{text}\n) AS user_query", {})  # noqa: S608 (the user's own query)

    def close(self) -> None:
        self.session.catalog.dropTempView("events")
