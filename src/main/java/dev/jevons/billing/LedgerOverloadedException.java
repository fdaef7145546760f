package dev.jevons.billing;

/** The ledger's command queue is full; the caller should shed the request (fail closed on money). */
public final class LedgerOverloadedException extends RuntimeException {
  public LedgerOverloadedException(String message) {
    super(message);
  }
}
