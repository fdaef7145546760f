package dev.jevons.billing;

/**
 * The answer to a credit-limit change. REFUSED: lowering the limit to {@code creditLimitNanos}
 * would leave pending reservations that could not all be paid; nothing changed.
 */
public record CreditLimitResult(Status status, String accountId, long creditLimitNanos) {
  public enum Status {
    APPLIED,
    REFUSED
  }
}
