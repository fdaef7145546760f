package dev.jevons.gateway;

import dev.jevons.billing.Ledger;
import dev.jevons.billing.Money;
import dev.jevons.billing.PriceBook;
import dev.jevons.billing.Quote;
import dev.jevons.billing.ReserveResult;
import dev.jevons.config.JevonsConfig;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Opens the {@link Charge} of a request: quotes the price in force at arrival and holds the
 * request's maximum cost on the ledger before any upstream work. Fails closed: without a price or
 * without a ledger answer, no request is served.
 */
public final class Biller {
  private static final long RESERVE_TIMEOUT_SECONDS = 10;

  private final @Nullable PriceBook prices;
  private final @Nullable Ledger ledger;
  private final JevonsConfig.Billing config;
  private final Clock clock;

  public Biller(@Nullable PriceBook prices, @Nullable Ledger ledger, JevonsConfig.Billing config, Clock clock) {
    this.prices = prices;
    this.ledger = ledger;
    this.config = config;
    this.clock = clock;
  }

  boolean enabled() {
    return config.enabled() && prices != null && ledger != null;
  }

  Charge open(CompletionRequest req, long maxOutputTokens, String accountId, String keyId, RequestRecord rec) {
    String requestId = rec.requestId();
    if (!enabled()) {
      return Charge.NONE;
    }
    Instant now = clock.instant();
    Quote quote =
        prices.findQuote(req.model(), now)
            .orElseThrow(() -> new GatewayException(
                ErrorKind.MODEL_NOT_ALLOWED,
                "The model '" + req.model() + "' has no price, so it cannot be billed; an operator must set one (PUT /admin/v1/prices/"
                    + req.model() + ").",
                "model",
                null));
    long promptBound = req.promptTokensUpperBound();
    Money hold = quote.cost(0, promptBound, maxOutputTokens);
    if (hold.nanos() == 0) {
      // A free model (price 0, or a 100% discount window): nothing to hold, nothing to charge.
      return Charge.NONE;
    }
    ReserveResult r;
    CompletableFuture<ReserveResult> pending;
    try {
      pending = ledger.reserve(requestId, accountId, hold.nanos(), Duration.ofMillis(config.reservationTtlMillis()));
    } catch (RuntimeException e) {
      throw unavailable(String.valueOf(e.getMessage()));
    }
    try {
      r = pending.get(RESERVE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      voidWhenDone(pending, requestId);
      throw unavailable("interrupted");
    } catch (ExecutionException e) {
      throw unavailable(String.valueOf(e.getCause() == null ? e : e.getCause().getMessage()));
    } catch (TimeoutException e) {
      voidWhenDone(pending, requestId);
      throw unavailable("no answer within " + RESERVE_TIMEOUT_SECONDS + " s");
    }
    if (!r.reserved()) {
      throw new GatewayException(
          ErrorKind.INSUFFICIENT_BALANCE,
          "Insufficient balance: this request may cost up to " + hold + " " + Money.CURRENCY + " (at most " + promptBound
              + " prompt tokens at " + quote.prices().inputCacheMiss() + " and " + maxOutputTokens + " output tokens at "
              + quote.prices().output() + " per 1M tokens"
              + (quote.discountBp() > 0 ? ", " + quote.discountBp() / 100.0 + "% off" : "")
              + "); the available balance is " + Money.ofNanos(r.availableNanos()) + " " + Money.CURRENCY
              + ". Top up, or lower max_tokens.",
          null,
          null);
    }
    return new Charge(ledger, quote, requestId, r.heldNanos(), accountId, keyId, rec.startNanos());
  }

  /** A hold that commits after its request gave up waiting is released as soon as it exists. */
  private void voidWhenDone(CompletableFuture<ReserveResult> pending, String requestId) {
    Ledger l = ledger;
    pending.thenAccept(r -> {
      if (r.reserved() && l != null) {
        l.voidReservation(requestId);
      }
    });
  }

  private static GatewayException unavailable(String why) {
    // Fail closed on money: no ledger, no request.
    return new GatewayException(
        ErrorKind.SERVER_OVERLOADED, "Billing is temporarily unavailable (" + why + "); no request is served without it.", null,
        Duration.ofSeconds(5));
  }
}
