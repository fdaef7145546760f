-- SQLite only (Database adds classpath:db/sqlite to SQLite's migrations; PostgreSQL never sees
-- this version, so no common migration may use V8). The tables every billed request writes become
-- WITHOUT ROWID tables: a row lives in its primary key's B-tree alone, instead of in a rowid table
-- plus a separate index on the key, so each insert or keyed update touches one B-tree, and a
-- commit writes fewer pages. Measured (docs/BENCHMARKS.md, session 4): ~8% more billed requests
-- per second. Columns, checks and indexes are as in V3 and V4; the rows are copied over.

CREATE TABLE ledger_accounts_v8 (
  account_id   TEXT PRIMARY KEY,
  topped_up    BIGINT NOT NULL,
  credit_limit BIGINT NOT NULL CHECK (credit_limit >= 0),
  version      BIGINT NOT NULL CHECK (version > 0),
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  CHECK (topped_up >= -credit_limit)
) WITHOUT ROWID;
INSERT INTO ledger_accounts_v8 (account_id, topped_up, credit_limit, version, created_at, updated_at)
  SELECT account_id, topped_up, credit_limit, version, created_at, updated_at FROM ledger_accounts;
DROP TABLE ledger_accounts;
ALTER TABLE ledger_accounts_v8 RENAME TO ledger_accounts;

CREATE TABLE ledger_reservations_v8 (
  id                  TEXT PRIMARY KEY,
  account_id          TEXT   NOT NULL,
  state               TEXT   NOT NULL CHECK (state IN ('pending', 'posted', 'voided', 'expired')),
  original_hold       BIGINT NOT NULL CHECK (original_hold > 0),
  hold                BIGINT NOT NULL CHECK (hold >= original_hold),
  posted              BIGINT NOT NULL CHECK (posted >= 0 AND posted <= hold),
  original_expires_at BIGINT NOT NULL,
  expires_at          BIGINT NOT NULL,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO ledger_reservations_v8 (id, account_id, state, original_hold, hold, posted, original_expires_at, expires_at, created_at, updated_at)
  SELECT id, account_id, state, original_hold, hold, posted, original_expires_at, expires_at, created_at, updated_at FROM ledger_reservations;
DROP TABLE ledger_reservations;
ALTER TABLE ledger_reservations_v8 RENAME TO ledger_reservations;
CREATE INDEX ledger_reservations_pending_by_expiry ON ledger_reservations (expires_at) WHERE state = 'pending';

CREATE TABLE ledger_entries_v8 (
  id              TEXT PRIMARY KEY,
  account_id      TEXT   NOT NULL,
  account_version BIGINT NOT NULL,
  kind            TEXT   NOT NULL CHECK (kind IN ('top_up', 'grant', 'grant_lapse', 'credit_limit', 'reserve',
                                                  'extend', 'debit_grant', 'debit_topped_up', 'void', 'expire')),
  amount          BIGINT NOT NULL,
  reservation_id  TEXT,
  grant_id        TEXT,
  expires_at      BIGINT,
  created_at      BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO ledger_entries_v8 (id, account_id, account_version, kind, amount, reservation_id, grant_id, expires_at, created_at)
  SELECT id, account_id, account_version, kind, amount, reservation_id, grant_id, expires_at, created_at FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_v8 RENAME TO ledger_entries;

CREATE TABLE usage_records_v8 (
  id                       TEXT PRIMARY KEY,
  account_id               TEXT NOT NULL,
  key_id                   TEXT NOT NULL,
  model                    TEXT NOT NULL,
  price_version            TEXT,
  prompt_cache_hit_tokens  BIGINT NOT NULL CHECK (prompt_cache_hit_tokens >= 0),
  prompt_cache_miss_tokens BIGINT NOT NULL CHECK (prompt_cache_miss_tokens >= 0),
  completion_tokens        BIGINT NOT NULL CHECK (completion_tokens >= 0),
  cost                     BIGINT NOT NULL CHECK (cost >= 0),
  outcome                  TEXT NOT NULL,
  created_at               BIGINT NOT NULL,
  duration_ms              BIGINT NOT NULL,
  ttft_ms                  BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO usage_records_v8 (id, account_id, key_id, model, price_version, prompt_cache_hit_tokens, prompt_cache_miss_tokens,
    completion_tokens, cost, outcome, created_at, duration_ms, ttft_ms)
  SELECT id, account_id, key_id, model, price_version, prompt_cache_hit_tokens, prompt_cache_miss_tokens,
    completion_tokens, cost, outcome, created_at, duration_ms, ttft_ms FROM usage_records;
DROP TABLE usage_records;
ALTER TABLE usage_records_v8 RENAME TO usage_records;
CREATE INDEX usage_records_account_time ON usage_records (account_id, created_at);
