package dev.jevons.billing;

/**
 * The answer to a post or a void. A reservation is settled once: POSTED, VOIDED or EXPIRED is
 * final, and any later post or void of it answers that first outcome. EXCEEDS_HOLD refuses a post
 * above the hold (extend first) and changes nothing; NOT_FOUND names an unknown reservation.
 */
public record SettleResult(Status status, String reservationId, long heldNanos, long postedNanos) {

  public enum Status {
    POSTED,
    VOIDED,
    EXPIRED,
    EXCEEDS_HOLD,
    NOT_FOUND
  }

  static SettleResult of(ReservationState state, String reservationId, long heldNanos, long postedNanos) {
    Status status =
        switch (state) {
          case POSTED -> Status.POSTED;
          case VOIDED -> Status.VOIDED;
          case EXPIRED -> Status.EXPIRED;
          case PENDING -> throw new IllegalArgumentException("a pending reservation is not settled: " + reservationId);
        };
    return new SettleResult(status, reservationId, heldNanos, postedNanos);
  }
}
