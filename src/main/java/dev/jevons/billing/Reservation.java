package dev.jevons.billing;

import java.time.Instant;

/**
 * A hold in memory; only the ledger writer thread touches it. Once its state leaves PENDING it
 * never changes again, so settled reservations may be remembered (and shared) freely.
 */
final class Reservation {
  final String id;
  final String accountId;
  final long originalHoldNanos;
  final long originalExpiresAtMillis;
  final long createdAtMillis;
  long holdNanos;
  long expiresAtMillis;
  long postedNanos;
  long updatedAtMillis;
  ReservationState state;
  /**
   * Made by {@link Ledger#reserveNew}, whose id the caller guarantees was never used: settled in
   * the batch that made it, it needs no row of its own ({@link Changes#toBatch}).
   */
  boolean fresh;

  Reservation(String id, String accountId, long holdNanos, long expiresAtMillis, long createdAtMillis) {
    this.id = id;
    this.accountId = accountId;
    this.originalHoldNanos = holdNanos;
    this.originalExpiresAtMillis = expiresAtMillis;
    this.createdAtMillis = createdAtMillis;
    this.holdNanos = holdNanos;
    this.expiresAtMillis = expiresAtMillis;
    this.updatedAtMillis = createdAtMillis;
    this.state = ReservationState.PENDING;
  }

  static Reservation of(LedgerStore.ReservationRow row) {
    Reservation r = new Reservation(row.id(), row.accountId(), row.originalHoldNanos(), row.originalExpiresAtMillis(), row.createdAtMillis());
    r.holdNanos = row.holdNanos();
    r.expiresAtMillis = row.expiresAtMillis();
    r.postedNanos = row.postedNanos();
    r.updatedAtMillis = row.updatedAtMillis();
    r.state = row.state();
    return r;
  }

  LedgerStore.ReservationRow row() {
    return new LedgerStore.ReservationRow(
        id, accountId, state, originalHoldNanos, holdNanos, postedNanos, originalExpiresAtMillis, expiresAtMillis,
        createdAtMillis, updatedAtMillis);
  }

  /** What the reserve call answered; a replay answers the same whatever happened since. */
  ReserveResult reserveResult() {
    return new ReserveResult(
        ReserveResult.Status.RESERVED, id, originalHoldNanos, 0, Instant.ofEpochMilli(originalExpiresAtMillis));
  }

  SettleResult settleResult() {
    return SettleResult.of(state, id, holdNanos, postedNanos);
  }
}
