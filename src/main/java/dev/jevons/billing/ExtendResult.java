package dev.jevons.billing;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * The answer to an extend. EXTENDED: the hold is now {@code heldNanos} until {@code expiresAt}.
 * INSUFFICIENT: nothing changed, {@code availableNanos} is the most the hold could have grown by
 * (the stream should end and post what it delivered). NOT_PENDING: the reservation is already
 * settled ({@code state}); NOT_FOUND: unknown reservation.
 */
public record ExtendResult(
    Status status,
    String reservationId,
    long heldNanos,
    long availableNanos,
    @Nullable Instant expiresAt,
    @Nullable ReservationState state) {

  public enum Status {
    EXTENDED,
    INSUFFICIENT,
    NOT_PENDING,
    NOT_FOUND
  }
}
