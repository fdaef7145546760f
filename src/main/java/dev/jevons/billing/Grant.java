package dev.jevons.billing;

/** Granted credit in memory; only the ledger writer thread touches it. */
final class Grant {
  final String id;
  final String accountId;
  final long amountNanos;
  final long expiresAtMillis;
  final long createdAtMillis;
  long remainingNanos;

  Grant(String id, String accountId, long amountNanos, long remainingNanos, long expiresAtMillis, long createdAtMillis) {
    this.id = id;
    this.accountId = accountId;
    this.amountNanos = amountNanos;
    this.remainingNanos = remainingNanos;
    this.expiresAtMillis = expiresAtMillis;
    this.createdAtMillis = createdAtMillis;
  }

  static Grant of(LedgerStore.GrantRow row) {
    return new Grant(row.id(), row.accountId(), row.amountNanos(), row.remainingNanos(), row.expiresAtMillis(), row.createdAtMillis());
  }

  /** Spendable at {@code millis}: a grant expiring at t is no longer spendable at t. */
  boolean validAt(long millis) {
    return expiresAtMillis > millis;
  }

  LedgerStore.GrantRow row() {
    return new LedgerStore.GrantRow(id, accountId, amountNanos, remainingNanos, expiresAtMillis, createdAtMillis);
  }
}
