package dev.jevons.billing;

import org.jspecify.annotations.Nullable;

/**
 * One request as billed: written in the same ledger transaction as its post (or void), so the sum
 * of {@code costNanos} over the records equals the posted debits exactly.
 *
 * @param id the request id, which is also its reservation id on the ledger
 * @param outcome {@code ok}, {@code client_gone}, {@code upstream_failed}, ... (the access log's)
 */
public record UsageRecord(
    String id,
    String accountId,
    String keyId,
    String model,
    @Nullable String priceVersionId,
    long promptCacheHitTokens,
    long promptCacheMissTokens,
    long completionTokens,
    long costNanos,
    String outcome,
    long createdAtMillis,
    long durationMillis,
    long timeToFirstTokenMillis) {

  UsageRecord withCost(long nanos) {
    return new UsageRecord(
        id, accountId, keyId, model, priceVersionId, promptCacheHitTokens, promptCacheMissTokens, completionTokens, nanos,
        outcome, createdAtMillis, durationMillis, timeToFirstTokenMillis);
  }
}
