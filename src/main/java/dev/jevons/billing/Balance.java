package dev.jevons.billing;

/**
 * An account's committed balance: unexpired granted credit, topped-up credit (negative while in
 * overdraft), the holds of pending reservations and the credit limit. {@link #totalNanos()} is the
 * posted view (DeepSeek's {@code total_balance}); holds are not subtracted there but in {@link
 * #availableNanos()}.
 */
public record Balance(
    String accountId, long grantedNanos, long toppedUpNanos, long reservedNanos, long creditLimitNanos) {

  public long totalNanos() {
    return Math.addExact(grantedNanos, toppedUpNanos);
  }

  public long availableNanos() {
    return Math.subtractExact(totalNanos(), reservedNanos);
  }
}
