package dev.jevons.billing;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * The answer to a reserve. When {@link Status#INSUFFICIENT}, {@code availableNanos} is the most
 * that could have been reserved with that time to live (never negative), for the 402 message, and
 * nothing was written: a retry with the same id is evaluated afresh. When RESERVED it is 0, so that
 * a replay answers exactly what the first call did.
 */
public record ReserveResult(
    Status status, String reservationId, long heldNanos, long availableNanos, @Nullable Instant expiresAt) {

  public enum Status {
    RESERVED,
    INSUFFICIENT
  }

  public boolean reserved() {
    return status == Status.RESERVED;
  }
}
