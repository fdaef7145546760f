-- The demand governor (dev.jevons.governor; conventions as in V1: instants are epoch millis).
--
-- governor_events is the audit log: every gate transition and every operator override, with the
-- capacity signals in force (runway_days NULL = unbounded). Rows are never updated or deleted.
CREATE TABLE governor_events (
  id                    TEXT ${binary_collation} PRIMARY KEY,
  at                    BIGINT NOT NULL,
  gate                  TEXT NOT NULL,
  kind                  TEXT NOT NULL,
  gate_open             BOOLEAN NOT NULL,
  mode                  TEXT NOT NULL,
  reason                TEXT NOT NULL,
  actor                 TEXT NOT NULL,
  signals_at            BIGINT,
  utilization           DOUBLE PRECISION,
  queue_wait_p95_ms     DOUBLE PRECISION,
  shed_rate             DOUBLE PRECISION,
  runway_days           DOUBLE PRECISION,
  requests              BIGINT
);
CREATE INDEX governor_events_by_time ON governor_events (at);
CREATE INDEX governor_events_by_gate ON governor_events (gate, kind, at);

-- The operator's current override per gate (mode auto, open or closed), shared by every node.
CREATE TABLE governor_overrides (
  gate     TEXT PRIMARY KEY,
  mode     TEXT NOT NULL,
  reason   TEXT NOT NULL,
  message  TEXT,
  set_at   BIGINT NOT NULL,
  set_by   TEXT NOT NULL
);

-- Demand per UTC hour (hour = epoch millis of its start), summed over nodes by upsert-add: the
-- history behind the capacity runway and the off-peak proposals.
CREATE TABLE demand_hours (
  hour               BIGINT PRIMARY KEY,
  requests           BIGINT NOT NULL,
  shed               BIGINT NOT NULL,
  busy_slot_seconds  DOUBLE PRECISION NOT NULL,
  slot_seconds       DOUBLE PRECISION NOT NULL
);
