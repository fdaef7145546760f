package dev.jevons.gateway;

import dev.jevons.billing.Ledger;
import dev.jevons.billing.Money;
import dev.jevons.billing.Quote;
import dev.jevons.billing.SettleResult;
import dev.jevons.billing.UsageRecord;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The money side of one request: a hold placed on the ledger before any upstream work, settled
 * exactly once when the request ends. Settling waits for the ledger's durable commit, so a
 * completed response's charge is on disk before its last byte is written. A charge that was never
 * settled (the request failed before any token) is voided; one whose process died expires on the
 * ledger. {@link #NONE} stands for billing switched off.
 */
final class Charge {
  private static final Logger log = LoggerFactory.getLogger(Charge.class);
  private static final long SETTLE_TIMEOUT_SECONDS = 30;

  static final Charge NONE = new Charge(null, null, "", 0, "", "", 0);

  private final @Nullable Ledger ledger;
  private final @Nullable Quote quote;
  private final String reservationId;
  private final long heldNanos;
  private final String accountId;
  private final String keyId;
  private final long startNanos;
  private boolean settled;
  private long costNanos;

  Charge(
      @Nullable Ledger ledger, @Nullable Quote quote, String reservationId, long heldNanos, String accountId, String keyId, long startNanos) {
    this.ledger = ledger;
    this.quote = quote;
    this.reservationId = reservationId;
    this.heldNanos = heldNanos;
    this.accountId = accountId;
    this.keyId = keyId;
    this.startNanos = startNanos;
  }

  @Nullable Quote quote() {
    return quote;
  }

  long costNanos() {
    return costNanos;
  }

  boolean settled() {
    return settled;
  }

  /**
   * Posts the cost of {@code usage} (cached prompt tokens at the hit price) and releases the rest
   * of the hold; a request that delivered nothing is voided instead. Idempotent. Returns false when
   * the ledger did not confirm the settlement (the hold then expires unbilled: never charged twice).
   */
  boolean settle(Usage usage, RequestRecord rec) {
    Ledger l = ledger;
    Quote q = quote;
    if (l == null || q == null || settled) {
      return true;
    }
    settled = true;
    if (usage.completionTokens() == 0 && usage.counted()) {
      return await(() -> l.voidReservation(reservationId, record(usage, rec, rec.outcome()))) != null;
    }
    long cost;
    try {
      cost = q.cost(usage.cachedPromptTokens(), usage.missPromptTokens(), usage.completionTokens()).nanos();
    } catch (ArithmeticException e) {
      // Absurd upstream token counts: the hold is the most we may take anyway.
      cost = heldNanos;
    }
    if (cost > heldNanos) {
      // The upstream produced more than the hold allowed for (it ignored max_tokens, or reported
      // more prompt tokens than the prompt's byte length); the hold is the most we may take.
      log.warn("request {} cost {} exceeds its hold {}; charging the hold", reservationId, Money.ofNanos(cost), Money.ofNanos(heldNanos));
      cost = heldNanos;
    }
    long posted = cost;
    SettleResult r = await(() -> l.post(reservationId, posted, record(usage, rec, rec.outcome())));
    if (r == null) {
      return false;
    }
    if (r.status() != SettleResult.Status.POSTED) {
      log.error("request {} could not be posted: {} (hold {})", reservationId, r.status(), Money.ofNanos(heldNanos));
      return false;
    }
    costNanos = r.postedNanos();
    return true;
  }

  /** Voids the hold if nothing settled it: the request failed before any token was delivered. */
  void releaseIfUnsettled(RequestRecord rec) {
    Ledger l = ledger;
    if (l != null && quote != null && !settled) {
      settled = true;
      String outcome = rec.outcome().equals("ok") ? "failed" : rec.outcome();
      await(() -> l.voidReservation(reservationId, record(Usage.NONE, rec, outcome)));
    }
  }

  /** The usage record that commits with the settlement; its cost is filled in by the ledger. */
  private UsageRecord record(Usage usage, RequestRecord rec, String outcome) {
    Quote q = quote;
    long now = System.nanoTime();
    return new UsageRecord(
        reservationId,
        accountId,
        keyId,
        q == null ? "" : q.model(),
        q == null ? null : q.priceVersionId(),
        usage.cachedPromptTokens(),
        usage.missPromptTokens(),
        usage.completionTokens(),
        0,
        outcome,
        q == null ? 0 : q.at().toEpochMilli(),
        TimeUnit.NANOSECONDS.toMillis(now - startNanos),
        TimeUnit.NANOSECONDS.toMillis(rec.firstTokenNanos()));
  }

  /** Runs a ledger call and waits for it; null on any failure, which is logged, never thrown. */
  private static <T> @Nullable T await(java.util.function.Supplier<java.util.concurrent.CompletableFuture<T>> call) {
    try {
      return call.get().get(SETTLE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (RuntimeException e) {
      // Refused synchronously (queue full, ledger closed): the hold stays and expires.
      log.error("settling a ledger hold was refused; it will expire", e);
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (java.util.concurrent.ExecutionException | TimeoutException e) {
      // The hold stays and expires on the ledger: never charged twice, never lost silently.
      log.error("settling a ledger hold failed; it will expire", e);
      return null;
    }
  }
}
