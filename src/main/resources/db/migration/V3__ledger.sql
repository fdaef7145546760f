-- The prepaid ledger (dev.jevons.billing.Ledger; conventions as in V1).
-- Money is BIGINT nanos: 1e-9 USD. Every operation carries a caller-supplied id; the primary keys
-- below are what makes a replayed id change nothing, also across restarts and nodes.
-- No foreign key to accounts: the ledger is keyed by account id alone, so that it can be loaded,
-- benchmarked and audited on its own; the accounts part creates the ledger row with its first credit.

-- One row per account that has ever been credited. topped_up may be negative down to
-- -credit_limit (an overdraft allowed to the account). version counts the operations applied to
-- the account; every writer updates "WHERE version = <the version it read>", so two gateway nodes
-- can never both apply an operation on top of the same state (optimistic concurrency).
CREATE TABLE ledger_accounts (
  account_id   TEXT ${binary_collation} PRIMARY KEY,
  topped_up    BIGINT NOT NULL,
  credit_limit BIGINT NOT NULL CHECK (credit_limit >= 0),
  version      BIGINT NOT NULL CHECK (version > 0),
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  CHECK (topped_up >= -credit_limit)
);

-- Granted credit, spent earliest expiry first; id is the id of the credit that granted it.
-- remaining goes to 0 when spent or when the grant lapses at expires_at.
CREATE TABLE ledger_grants (
  id         TEXT ${binary_collation} PRIMARY KEY,
  account_id TEXT ${binary_collation} NOT NULL,
  amount     BIGINT NOT NULL CHECK (amount > 0),
  remaining  BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE INDEX ledger_grants_live_by_account ON ledger_grants (account_id) WHERE remaining > 0;
CREATE INDEX ledger_grants_live_by_expiry ON ledger_grants (expires_at) WHERE remaining > 0;

-- Two-phase holds. original_* keep what the reserve call answered (replays return it);
-- hold and expires_at grow with extensions; posted is set once, when state becomes 'posted'.
CREATE TABLE ledger_reservations (
  id                  TEXT ${binary_collation} PRIMARY KEY,
  account_id          TEXT ${binary_collation} NOT NULL,
  state               TEXT   NOT NULL CHECK (state IN ('pending', 'posted', 'voided', 'expired')),
  original_hold       BIGINT NOT NULL CHECK (original_hold > 0),
  hold                BIGINT NOT NULL CHECK (hold >= original_hold),
  posted              BIGINT NOT NULL CHECK (posted >= 0 AND posted <= hold),
  original_expires_at BIGINT NOT NULL,
  expires_at          BIGINT NOT NULL,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL
);

-- Only pending rows are indexed, by expiry, which grows with time so new rows append to the index.
-- Loading an account's pending holds scans this small index (the requests in flight) rather than
-- keeping a second one by account, whose pages a batch over many accounts would all rewrite.
CREATE INDEX ledger_reservations_pending_by_expiry ON ledger_reservations (expires_at) WHERE state = 'pending';

-- The journal: one immutable row per state change, never updated or deleted.
-- id is '<prefix>:<operation id>[:<leg>]' (c credit, k credit limit, r reserve, x extend, p post,
-- v void, e expire, l grant lapse), so each operation's rows have ids of their own.
-- account_version is the account's version after the operation: it orders an account's history.
-- The posted balance of an account is the sum of amount over the kinds top_up, grant, grant_lapse,
-- debit_grant and debit_topped_up; reserve, extend, void and expire rows record holds.
CREATE TABLE ledger_entries (
  id              TEXT ${binary_collation} PRIMARY KEY,
  account_id      TEXT ${binary_collation} NOT NULL,
  account_version BIGINT NOT NULL,
  kind            TEXT   NOT NULL CHECK (kind IN ('top_up', 'grant', 'grant_lapse', 'credit_limit', 'reserve',
                                                  'extend', 'debit_grant', 'debit_topped_up', 'void', 'expire')),
  amount          BIGINT NOT NULL,
  reservation_id  TEXT ${binary_collation},
  grant_id        TEXT ${binary_collation},
  expires_at      BIGINT,
  created_at      BIGINT NOT NULL
);

-- Deliberately no index by account: with many accounts, each row of a batch would land on a
-- different page of it, and those pages are most of what a commit writes (measured: 3x fewer
-- pairs/s over 10,000 accounts). Audits scan the journal; per-account history belongs to usage records.
