"""Versioned schema migrations of the report store, one list per backend.

Version N of each list is applied once, in order, and recorded in ``receiver_migrations``.
Both lists define the same tables and indexes; PostgreSQL's ``reports`` is partitioned by
month of ``received_ms`` (partitions are created on demand, see ``postgres.py``).

- ``reports``: every stored report (payload as exact JSON text).
- ``report_digests``: one row per stored report digest, which makes retries idempotent.
- ``clusters``: one row per cluster with its latest snapshot (payload as queryable JSON) and
  latest opt-in status.

Version 2 adds the dashboard's indexes: ``reports_kind_day`` orders each UTC day's reports by
cluster (per-day counts, distinct clusters per day and the sampled field trend read it
alone), and ``clusters_active_version`` answers the versions of active clusters.
"""

from __future__ import annotations

__all__ = ["MIGRATION_TABLE", "POSTGRES", "SQLITE"]

MIGRATION_TABLE = "receiver_migrations"

#: Version 2 (the day expression must match the queries' exactly). PostgreSQL also keeps
#: ``report_ms`` in the index: it then reads the index alone (an index-only scan needs every
#: column the expression uses), in day and cluster order, without sorting 300,000 rows.
_SQLITE_DASHBOARD_INDEXES = """
    CREATE INDEX reports_kind_day ON reports (kind, (report_ms / 86400000), cluster_uuid);
    CREATE INDEX clusters_active_version ON clusters (report_ms, version);
    """
_POSTGRES_DASHBOARD_INDEXES = """
    CREATE INDEX reports_kind_day ON reports (kind, (report_ms / 86400000), cluster_uuid)
        INCLUDE (report_ms);
    CREATE INDEX clusters_active_version ON clusters (report_ms, version);
    """

SQLITE: tuple[str, ...] = (
    """
    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        received_ms INTEGER NOT NULL,
        report_ms INTEGER NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        cluster_uuid TEXT NOT NULL,
        cluster_name TEXT,
        version TEXT,
        stack_version TEXT,
        kid TEXT NOT NULL,
        opt_in_status INTEGER,
        payload TEXT NOT NULL
    );
    CREATE INDEX reports_kind_time ON reports (kind, report_ms, cluster_uuid);
    CREATE INDEX reports_cluster_time ON reports (cluster_uuid, report_ms);
    CREATE INDEX reports_received ON reports (received_ms);
    CREATE TABLE report_digests (
        digest TEXT PRIMARY KEY,
        report_id TEXT NOT NULL,
        cluster_uuid TEXT NOT NULL,
        received_ms INTEGER NOT NULL
    );
    CREATE INDEX report_digests_received ON report_digests (received_ms);
    CREATE INDEX report_digests_cluster ON report_digests (cluster_uuid);
    CREATE TABLE clusters (
        cluster_uuid TEXT PRIMARY KEY,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        cluster_name TEXT,
        report_id TEXT,
        report_ms INTEGER,
        received_ms INTEGER,
        version TEXT,
        payload TEXT,
        opt_in_status INTEGER,
        opt_in_ms INTEGER
    );
    CREATE INDEX clusters_report_ms ON clusters (report_ms);
    CREATE INDEX clusters_last_seen ON clusters (last_seen_ms);
    """,
    _SQLITE_DASHBOARD_INDEXES,
)

POSTGRES: tuple[str, ...] = (
    """
    CREATE TABLE reports (
        id TEXT NOT NULL,
        received_ms BIGINT NOT NULL,
        report_ms BIGINT NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        cluster_uuid TEXT NOT NULL,
        cluster_name TEXT,
        version TEXT,
        stack_version TEXT,
        kid TEXT NOT NULL,
        opt_in_status BOOLEAN,
        payload TEXT NOT NULL,
        PRIMARY KEY (id, received_ms)
    ) PARTITION BY RANGE (received_ms);
    CREATE INDEX reports_kind_time ON reports (kind, report_ms, cluster_uuid);
    CREATE INDEX reports_cluster_time ON reports (cluster_uuid, report_ms);
    CREATE TABLE report_digests (
        digest TEXT PRIMARY KEY,
        report_id TEXT NOT NULL,
        cluster_uuid TEXT NOT NULL,
        received_ms BIGINT NOT NULL
    );
    CREATE INDEX report_digests_received ON report_digests (received_ms);
    CREATE INDEX report_digests_cluster ON report_digests (cluster_uuid);
    CREATE TABLE clusters (
        cluster_uuid TEXT PRIMARY KEY,
        first_seen_ms BIGINT NOT NULL,
        last_seen_ms BIGINT NOT NULL,
        cluster_name TEXT,
        report_id TEXT,
        report_ms BIGINT,
        received_ms BIGINT,
        version TEXT,
        payload JSONB,
        opt_in_status BOOLEAN,
        opt_in_ms BIGINT
    );
    CREATE INDEX clusters_report_ms ON clusters (report_ms);
    CREATE INDEX clusters_last_seen ON clusters (last_seen_ms);
    """,
    _POSTGRES_DASHBOARD_INDEXES,
)
