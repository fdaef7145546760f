package dev.jevons.billing;

/**
 * An operation's batch could not be committed (the store failed, or kept conflicting). Whether it
 * was applied is unknown only when the commit itself failed; a retry with the same id is safe.
 */
public final class LedgerUnavailableException extends RuntimeException {
  public LedgerUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }

  public LedgerUnavailableException(String message) {
    super(message);
  }
}
