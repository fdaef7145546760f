-- Conventions for every migration (they run unchanged on SQLite and PostgreSQL):
--  * portable types only: TEXT, INTEGER, BIGINT; no SERIAL/AUTOINCREMENT, no BOOLEAN, no JSON.
--  * timestamps are BIGINT milliseconds since the Unix epoch, UTC, suffixed _at.
--  * money is BIGINT in the documented sub-unit, never a floating type.
--  * text identifiers carry ${binary_collation} so they sort by code point on both databases.
--  * never edit a migration once released: its checksum is verified at every start.

CREATE TABLE accounts (
  id         TEXT ${binary_collation} PRIMARY KEY,
  name       TEXT    NOT NULL,
  status     TEXT    NOT NULL CHECK (status IN ('active', 'suspended')),
  created_at BIGINT  NOT NULL
);

-- secret_hash is the SHA-256 hex of the whole secret; the secret itself is never stored.
-- models is the allow-list, one model name per line, sorted; '' means all models.
CREATE TABLE api_keys (
  id          TEXT ${binary_collation} PRIMARY KEY,
  account_id  TEXT ${binary_collation} NOT NULL REFERENCES accounts (id),
  name        TEXT    NOT NULL,
  prefix      TEXT    NOT NULL,
  secret_hash TEXT    NOT NULL,
  models      TEXT    NOT NULL,
  expires_at  BIGINT,
  revoked_at  BIGINT,
  created_at  BIGINT  NOT NULL
);

CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX api_keys_account_id ON api_keys (account_id);
