package dev.jevons.accounts;

import java.util.Objects;

/** Who is calling: the account and the key it presented. */
public record Principal(Account account, ApiKey key) {

  public Principal {
    Objects.requireNonNull(account, "account");
    Objects.requireNonNull(key, "key");
    if (!key.accountId().equals(account.id())) {
      throw new IllegalArgumentException(
          "key " + key.id() + " belongs to " + key.accountId() + ", not " + account.id());
    }
  }
}
