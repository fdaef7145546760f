package dev.jevons.accounts;

import java.time.Instant;
import java.util.Objects;

/** A tenant: owns API keys and (in billing) a balance. Timestamps are kept to the millisecond. */
public record Account(String id, String name, AccountStatus status, Instant createdAt) {

  public Account {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(createdAt, "createdAt");
  }

  public boolean isActive() {
    return status == AccountStatus.ACTIVE;
  }

  public Account withStatus(AccountStatus newStatus) {
    return new Account(id, name, newStatus, createdAt);
  }
}
