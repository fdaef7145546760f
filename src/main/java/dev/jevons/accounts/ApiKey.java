package dev.jevons.accounts;

import java.time.Instant;
import java.util.Collections;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * An API key as the platform remembers it: everything except the secret, which is never stored.
 *
 * @param prefix the start of the secret, safe to display ("sk-AbC12xYz"), to tell keys apart
 * @param models the models this key may call; empty means all models
 */
public record ApiKey(
    String id,
    String accountId,
    String name,
    String prefix,
    Set<String> models,
    @Nullable Instant expiresAt,
    @Nullable Instant revokedAt,
    Instant createdAt) {

  public ApiKey {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(accountId, "accountId");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(createdAt, "createdAt");
    // Sorted so that listings and JSON renderings are deterministic.
    models = Collections.unmodifiableSortedSet(new TreeSet<>(models));
  }

  public boolean allowsModel(String model) {
    return models.isEmpty() || models.contains(model);
  }

  /** A key is usable until it is revoked or reaches its expiry instant (exclusive). */
  public boolean isUsableAt(Instant now) {
    return revokedAt == null && (expiresAt == null || now.isBefore(expiresAt));
  }

  public boolean isRevoked() {
    return revokedAt != null;
  }

  public ApiKey revokedAt(Instant when) {
    return new ApiKey(id, accountId, name, prefix, models, expiresAt, when, createdAt);
  }
}
