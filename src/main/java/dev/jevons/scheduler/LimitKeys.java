package dev.jevons.scheduler;

/** Whose limits a request counts against: its account and the API key it came with. */
public record LimitKeys(String accountId, String keyId) {
  public LimitKeys {
    if (accountId.isEmpty() || keyId.isEmpty()) {
      throw new IllegalArgumentException("account and key ids must not be empty");
    }
  }
}
