package dev.jevons.billing;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/** A credit as first applied; a replay of its id answers the same. */
public record CreditResult(
    String entryId, String accountId, CreditKind kind, long amountNanos, @Nullable Instant expiresAt) {}
