package dev.jevons.accounts;

import java.util.Objects;

/** A freshly issued key together with its secret, which is shown to the caller once and then lost. */
public record IssuedKey(ApiKey key, String secret) {

  public IssuedKey {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(secret, "secret");
  }

  /** Never prints the secret, so an accidental log line does not leak it. */
  @Override
  public String toString() {
    return "IssuedKey[key=" + key + ", secret=" + key.prefix() + "****]";
  }
}
