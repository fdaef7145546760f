-- Price schedules (billing.PriceSchedule). Conventions as in V1.
-- Prices are nanos of USD (10^-9) per one million tokens, so "0.028" per 1M is 28000000.

-- One row per price version; the version in force at t is the model's latest with
-- effective_at <= t. Usage records cite id, so a row is never updated in place: a scheduled
-- version that has not taken effect is replaced by deleting it and inserting one with a new id.
CREATE TABLE price_versions (
  id                          TEXT ${binary_collation} PRIMARY KEY,
  model                       TEXT ${binary_collation} NOT NULL,
  effective_at                BIGINT NOT NULL,
  input_cache_hit_per_m_nanos  BIGINT NOT NULL CHECK (input_cache_hit_per_m_nanos >= 0),
  input_cache_miss_per_m_nanos BIGINT NOT NULL CHECK (input_cache_miss_per_m_nanos >= 0),
  output_per_m_nanos           BIGINT NOT NULL CHECK (output_per_m_nanos >= 0),
  created_at                  BIGINT NOT NULL
);

-- Two versions of a model taking effect at the same instant would be ambiguous; the constraint
-- also makes concurrent seeding of the defaults by several nodes insert each version once.
CREATE UNIQUE INDEX price_versions_model_effective_at ON price_versions (model, effective_at);

-- A model's daily discount windows in UTC, replaced as a whole list; ordinal keeps the order the
-- operator gave. start_second/end_second are seconds of the day; end < start crosses midnight.
CREATE TABLE discount_windows (
  model        TEXT ${binary_collation} NOT NULL,
  ordinal      INTEGER NOT NULL,
  start_second INTEGER NOT NULL CHECK (start_second >= 0 AND start_second < 86400),
  end_second   INTEGER NOT NULL CHECK (end_second >= 0 AND end_second < 86400 AND end_second <> start_second),
  discount_bp  INTEGER NOT NULL CHECK (discount_bp >= 1 AND discount_bp <= 10000),
  effective_at BIGINT,
  expires_at   BIGINT,
  PRIMARY KEY (model, ordinal)
);
