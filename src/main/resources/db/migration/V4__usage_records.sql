-- One row per billed request (dev.jevons.billing.UsageRecord; conventions as in V1). Written in the
-- same transaction as the ledger post or void it explains, so SUM(cost) equals the posted debits.
-- Token counts and cost are BIGINT; cost is nanos (1e-9 USD).
CREATE TABLE usage_records (
  id                       TEXT ${binary_collation} PRIMARY KEY,
  account_id               TEXT ${binary_collation} NOT NULL,
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
);

-- Customers and operators read an account's records by time range.
CREATE INDEX usage_records_account_time ON usage_records (account_id, created_at);
