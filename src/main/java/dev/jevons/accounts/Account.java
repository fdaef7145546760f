package dev.jevons.accounts;

import java.time.Instant;
import java.util.Objects;

/**
 * A tenant: owns API keys and (in billing) a balance. Timestamps are kept to the millisecond.
 *
 * @param band its strict priority band in the fair queue: 0 is served first, {@value
 *     #DEFAULT_BAND} by default, {@value #MAX_BAND} last
 * @param weight its weight for fair sharing within the band, 1 to {@value #MAX_WEIGHT}
 */
public record Account(String id, String name, AccountStatus status, Instant createdAt, int band, int weight) {
  public static final int DEFAULT_BAND = 1;
  public static final int MAX_BAND = 2;
  public static final int MAX_WEIGHT = 1000;

  public Account {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(createdAt, "createdAt");
    if (band < 0 || band > MAX_BAND) {
      throw new IllegalArgumentException("band must be 0 to " + MAX_BAND + "; got " + band);
    }
    if (weight < 1 || weight > MAX_WEIGHT) {
      throw new IllegalArgumentException("weight must be 1 to " + MAX_WEIGHT + "; got " + weight);
    }
  }

  /** An account in the default tier. */
  public Account(String id, String name, AccountStatus status, Instant createdAt) {
    this(id, name, status, createdAt, DEFAULT_BAND, 1);
  }

  public boolean isActive() {
    return status == AccountStatus.ACTIVE;
  }

  public Account withStatus(AccountStatus newStatus) {
    return new Account(id, name, newStatus, createdAt, band, weight);
  }

  public Account withTier(int newBand, int newWeight) {
    return new Account(id, name, status, createdAt, newBand, newWeight);
  }
}
