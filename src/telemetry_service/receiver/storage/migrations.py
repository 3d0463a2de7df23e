"""Versioned schema migrations of the report store, one list per backend.

Version N of each list is applied once, in order, and recorded in ``receiver_migrations``.
Both lists are written from one text, so they define the same tables and indexes; the
backends differ in column types, and PostgreSQL's ``reports`` is partitioned by month of
``received_ms`` (partitions are created on demand, see ``postgres.py``): its primary key
holds ``received_ms`` and it has no ``reports_received`` index.

- ``reports``: every stored report (payload as exact JSON text).
- ``report_digests``: one row per stored report digest, which makes retries idempotent.
- ``clusters``: one row per cluster with its latest snapshot (payload as queryable JSON: on
  PostgreSQL NULL until the fold of ``field_days`` copies it, ``queries/field_fold.py``; on
  SQLite NULL unless its query text differs from the report's text, ``queries/writes.py``)
  and latest opt-in status.

Version 2 adds the dashboard's indexes: ``reports_kind_day`` orders each UTC day's reports by
cluster (per-day counts, distinct clusters per day and the sampled field trend read it
alone), and ``clusters_active_version`` answers the versions of active clusters.

Version 3 adds event-based telemetry (see ``events.py``):

- ``events``: every stored event, append-only (context and properties as JSON text);
  PostgreSQL partitions it by month of ``timestamp_ms`` (``events_pYYYYMM``, on demand).
- ``event_batches``: one row per stored batch key, which makes a retried batch idempotent.
- ``event_days``: events per (event type, UTC day); ``event_day_clusters``: events per
  (event type, UTC day, cluster); ``event_type_clusters``: the first and last event time of
  each (event type, cluster). Kept up to date in the transaction that stores the events, so
  the overview and the daily figures never read ``events``.

Version 4 adds ``public_stats``: the published document of the public statistics (one row per
name, ``current``), so that a restarted receiver serves the last figures at once and several
receivers on one database publish the same ones.

Version 5 adds ``field_days``, the exact per-day aggregate of payload fields behind the field
trend and the daily snapshot counts (``queries/field_days.py``): per (path, UTC day of report
time, JSON kind, value), how many snapshots held it; ``number`` is a number's value, ``text``
a long keyword's as JSON text (its ``value`` is then its hash; so is that of a keyword
holding a character that PostgreSQL's text cannot). ``receiver_backfills`` names the
aggregates still to be filled from the stored snapshots (version 6 turns that into pending
snapshots).

Version 6 adds ``field_days_pending``: the stored snapshots not yet counted in ``field_days``,
keyed by (UTC day of report time, report id). A snapshot's insert adds its row; the fold
(``queries/field_fold.py``) counts pending snapshots in batches, in the background, and removes
their rows; the reads add the pending snapshots of their days themselves. The migration makes
every stored snapshot pending when the version 5 backfill had not run (and empties
``field_days`` then), so the store opens at once and the fold fills the aggregate.

Version 7 (PostgreSQL; nothing on SQLite) compresses the payloads of ``reports`` and
``clusters`` with lz4 instead of pglz, which costs far less CPU at insert for about a fifth
more bytes (measured in ``docs/benchmarks.md``, "Store writes"): the columns of the tables
and of the existing partitions of ``reports`` (a partition created later takes its parent's).
Only where the server has lz4 (PostgreSQL 14+ built with it); others keep pglz, quietly. Data
stored earlier keeps its compression until it is written again (nothing is rewritten).
"""

from __future__ import annotations

__all__ = ["MIGRATION_TABLE", "POSTGRES", "SQLITE"]

MIGRATION_TABLE = "receiver_migrations"

#: Version 1, the tables; `int`, `bool` and `json` are the backend's column types, the
#: other fields what partitioning changes.
_TABLES = """
    CREATE TABLE reports (
        id TEXT {id},
        received_ms {int} NOT NULL,
        report_ms {int} NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        cluster_uuid TEXT NOT NULL,
        cluster_name TEXT,
        version TEXT,
        stack_version TEXT,
        kid TEXT NOT NULL,
        opt_in_status {bool},
        payload TEXT NOT NULL{reports_key}
    ){partition};
    CREATE INDEX reports_kind_time ON reports (kind, report_ms, cluster_uuid);
    CREATE INDEX reports_cluster_time ON reports (cluster_uuid, report_ms);
    {received_index}
    CREATE TABLE report_digests (
        digest TEXT PRIMARY KEY,
        report_id TEXT NOT NULL,
        cluster_uuid TEXT NOT NULL,
        received_ms {int} NOT NULL
    );
    CREATE INDEX report_digests_received ON report_digests (received_ms);
    CREATE INDEX report_digests_cluster ON report_digests (cluster_uuid);
    CREATE TABLE clusters (
        cluster_uuid TEXT PRIMARY KEY,
        first_seen_ms {int} NOT NULL,
        last_seen_ms {int} NOT NULL,
        cluster_name TEXT,
        report_id TEXT,
        report_ms {int},
        received_ms {int},
        version TEXT,
        payload {json},
        opt_in_status {bool},
        opt_in_ms {int}
    );
    CREATE INDEX clusters_report_ms ON clusters (report_ms);
    CREATE INDEX clusters_last_seen ON clusters (last_seen_ms);
    """

#: Version 2 (the day expression must match the queries' exactly). PostgreSQL also keeps
#: ``report_ms`` in the index: it then reads the index alone (an index-only scan needs every
#: column the expression uses), in day and cluster order, without sorting 300,000 rows.
_DASHBOARD_INDEXES = """
    CREATE INDEX reports_kind_day ON reports (kind, (report_ms / 86400000), cluster_uuid){include};
    CREATE INDEX clusters_active_version ON clusters (report_ms, version);
    """

#: Version 3, events. `id` orders events of the same millisecond (the keyset of exports); a
#: SQLite index holds the rowid (`id`) already.
_EVENTS = """
    CREATE TABLE events (
        id {serial},
        timestamp_ms {int} NOT NULL,
        received_ms {int} NOT NULL,
        event_type TEXT NOT NULL,
        cluster_uuid TEXT NOT NULL,
        channel TEXT NOT NULL,
        context TEXT NOT NULL,
        properties TEXT NOT NULL
    ){partition};
    CREATE INDEX events_type_time ON events (event_type, timestamp_ms{id});
    CREATE INDEX events_cluster_time ON events (cluster_uuid, timestamp_ms{id});
    CREATE INDEX events_time ON events (timestamp_ms{id});
    CREATE TABLE event_batches (
        batch_key TEXT PRIMARY KEY,
        cluster_uuid TEXT NOT NULL,
        received_ms {int} NOT NULL,
        events {int} NOT NULL
    );
    CREATE INDEX event_batches_received ON event_batches (received_ms);
    CREATE INDEX event_batches_cluster ON event_batches (cluster_uuid);
    CREATE TABLE event_days (
        event_type TEXT NOT NULL,
        day {int} NOT NULL,
        events {int} NOT NULL,
        PRIMARY KEY (event_type, day)
    );
    CREATE TABLE event_day_clusters (
        event_type TEXT NOT NULL,
        day {int} NOT NULL,
        cluster_uuid TEXT NOT NULL,
        events {int} NOT NULL,
        PRIMARY KEY (event_type, day, cluster_uuid)
    );
    CREATE INDEX event_day_clusters_cluster ON event_day_clusters (cluster_uuid);
    CREATE INDEX event_day_clusters_day ON event_day_clusters (day);
    CREATE TABLE event_type_clusters (
        event_type TEXT NOT NULL,
        cluster_uuid TEXT NOT NULL,
        first_ms {int} NOT NULL,
        last_ms {int} NOT NULL,
        PRIMARY KEY (event_type, cluster_uuid)
    );
    CREATE INDEX event_type_clusters_cluster ON event_type_clusters (cluster_uuid);
    """

#: Version 4 (``public/``): the public statistics' published JSON document.
_PUBLIC_STATS = """
    CREATE TABLE public_stats (
        name TEXT PRIMARY KEY,
        computed_ms {int} NOT NULL,
        body TEXT NOT NULL
    );
    """

#: Version 5, the field aggregate (and its pending backfill).
_FIELD_DAYS = """
    CREATE TABLE field_days (
        path TEXT NOT NULL,
        day {int} NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        number {real},
        text TEXT,
        count {int} NOT NULL,
        PRIMARY KEY (path, day, kind, value)
    ){without_rowid};
    CREATE INDEX field_days_day ON field_days (day);
    CREATE TABLE receiver_backfills (name TEXT PRIMARY KEY);
    INSERT INTO receiver_backfills (name) VALUES ('field_days');
    """

#: Version 6, the snapshots still to be folded into ``field_days`` (see ``field_fold.py``).
_FIELD_DAYS_PENDING = """
    CREATE TABLE field_days_pending (
        day {int} NOT NULL,
        report_id TEXT NOT NULL,
        PRIMARY KEY (day, report_id)
    ){without_rowid};
    INSERT INTO field_days_pending (day, report_id)
        SELECT report_ms / 86400000, id FROM reports WHERE kind = 'snapshot'
        AND EXISTS (SELECT 1 FROM receiver_backfills WHERE name = 'field_days');
    DELETE FROM field_days
        WHERE EXISTS (SELECT 1 FROM receiver_backfills WHERE name = 'field_days');
    DELETE FROM receiver_backfills WHERE name = 'field_days';
    """

#: Version 7, lz4 payloads on PostgreSQL (one ``DO`` block; ``\073`` is its semicolons, which
#: a migration script may not hold in a literal). ``SET COMPRESSION`` takes an exclusive lock
#: on each table: on a database that other receivers are using, a lock not granted within
#: 5 s, or a deadlock with a reader, skips the change (rolled back; new values keep pglz until
#: an administrator runs the ``ALTER``s, docs/receiver.md) instead of failing the start.
_LZ4_PAYLOADS = r"""
    DO E'DECLARE t regclass\073 previous text\073 BEGIN
        IF EXISTS (SELECT 1 FROM pg_settings WHERE name = ''default_toast_compression''
                   AND ''lz4'' = ANY(enumvals)) THEN
            previous := current_setting(''lock_timeout'')\073
            BEGIN
                PERFORM set_config(''lock_timeout'', ''5s'', true)\073
                FOR t IN SELECT CAST(''reports'' AS regclass) UNION ALL
                    SELECT CAST(''clusters'' AS regclass) UNION ALL
                    SELECT CAST(inhrelid AS regclass) FROM pg_inherits
                    WHERE inhparent = CAST(''reports'' AS regclass)
                LOOP
                    EXECUTE format(
                        ''ALTER TABLE %s ALTER COLUMN payload SET COMPRESSION lz4'', t
                    )\073
                END LOOP\073
                PERFORM set_config(''lock_timeout'', previous, true)\073
            EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
                RAISE WARNING ''lz4 payloads skipped: the tables are in use''\073
            END\073
        END IF\073
    END'
    """

SQLITE: tuple[str, ...] = (
    _TABLES.format(
        id="PRIMARY KEY",
        int="INTEGER",
        bool="INTEGER",
        json="TEXT",
        reports_key="",
        partition="",
        received_index="CREATE INDEX reports_received ON reports (received_ms);",
    ),
    _DASHBOARD_INDEXES.format(include=""),
    _EVENTS.format(serial="INTEGER PRIMARY KEY", int="INTEGER", partition="", id=""),
    _PUBLIC_STATS.format(int="INTEGER"),
    _FIELD_DAYS.format(int="INTEGER", real="REAL", without_rowid=" WITHOUT ROWID"),
    _FIELD_DAYS_PENDING.format(int="INTEGER", without_rowid=" WITHOUT ROWID"),
    "",  # version 7: PostgreSQL's compression
)
POSTGRES: tuple[str, ...] = (
    _TABLES.format(
        id="NOT NULL",
        int="BIGINT",
        bool="BOOLEAN",
        json="JSONB",
        reports_key=",\n        PRIMARY KEY (id, received_ms)",
        partition=" PARTITION BY RANGE (received_ms)",
        received_index="",
    ),
    _DASHBOARD_INDEXES.format(include=" INCLUDE (report_ms)"),
    _EVENTS.format(
        serial="BIGSERIAL NOT NULL",
        int="BIGINT",
        partition=" PARTITION BY RANGE (timestamp_ms)",
        id=", id",
    ),
    _PUBLIC_STATS.format(int="BIGINT"),
    _FIELD_DAYS.format(int="BIGINT", real="DOUBLE PRECISION", without_rowid=""),
    _FIELD_DAYS_PENDING.format(int="BIGINT", without_rowid=""),
    _LZ4_PAYLOADS,
)
