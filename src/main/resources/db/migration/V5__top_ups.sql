-- Top-ups (dev.jevons.billing.TopUps; conventions as in V1).
--
-- A redemption code is stored only as the SHA-256 hex of its normalized text; amount is nanos
-- (1e-9 USD). A code is redeemed by the conditional UPDATE ... WHERE redeemed_at IS NULL, so at
-- most one account ever owns it; its ledger credit has the id 'code:<code_hash>'.
CREATE TABLE redemption_codes (
  code_hash   TEXT ${binary_collation} PRIMARY KEY,
  amount      BIGINT NOT NULL CHECK (amount > 0),
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT,
  redeemed_by TEXT ${binary_collation},
  redeemed_at BIGINT
);

-- Payment webhook events already handled, by the provider's event id (e.g. Stripe's evt_...).
-- The ledger credit of an event has the id 'stripe:<id>' and is idempotent by itself; this table
-- lets a redelivery be acknowledged without touching the ledger, and keeps an audit trail.
CREATE TABLE payment_events (
  id          TEXT ${binary_collation} PRIMARY KEY,
  provider    TEXT NOT NULL,
  type        TEXT NOT NULL,
  account_id  TEXT ${binary_collation},
  amount      BIGINT,
  received_at BIGINT NOT NULL
);
