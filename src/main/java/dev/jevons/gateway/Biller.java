package dev.jevons.gateway;

import dev.jevons.billing.Ledger;
import dev.jevons.billing.Money;
import dev.jevons.billing.PriceBook;
import dev.jevons.billing.Quote;
import dev.jevons.billing.ReserveResult;
import dev.jevons.config.JevonsConfig;
import dev.jevons.upstream.Watchdog;
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
  private final Watchdog watchdog;

  /** {@code watchdog} bounds each request's waits for the ledger's answers. */
  public Biller(@Nullable PriceBook prices, @Nullable Ledger ledger, JevonsConfig.Billing config, Clock clock, Watchdog watchdog) {
    this.prices = prices;
    this.ledger = ledger;
    this.config = config;
    this.clock = clock;
    this.watchdog = watchdog;
  }

  boolean enabled() {
    return config.enabled() && prices != null && ledger != null;
  }

  /**
   * Quotes and holds. A non-streaming request holds its whole output budget ({@code
   * outputBudgetTokens}): its answer cannot be cut short and still be delivered. A stream holds
   * only its first {@code billing.stream_initial_hold_tokens} output tokens and grows the hold as
   * it goes ({@link Charge#cover}).
   */
  Charge open(CompletionRequest req, long outputBudgetTokens, String accountId, String keyId, RequestRecord rec) {
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
    long heldOutputTokens = req.stream() ? Math.min(outputBudgetTokens, config.streamInitialHoldTokens()) : outputBudgetTokens;
    Money hold = quote.cost(0, promptBound, heldOutputTokens);
    if (hold.nanos() == 0) {
      // A free model (price 0, or a 100% discount window): nothing to hold, nothing to charge.
      return Charge.NONE;
    }
    ReserveResult r;
    CompletableFuture<ReserveResult> pending;
    try {
      pending = ledger.reserveNew(requestId, accountId, hold.nanos(), Duration.ofMillis(config.reservationTtlMillis()));
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
      boolean partial = heldOutputTokens < outputBudgetTokens;
      String needs = partial
          ? "this stream needs " + hold + " " + Money.CURRENCY + " to start (at most " + promptBound + " prompt tokens at "
              + quote.prices().inputCacheMiss() + " and its first " + heldOutputTokens + " output tokens at "
          : "this request may cost up to " + hold + " " + Money.CURRENCY + " (at most " + promptBound + " prompt tokens at "
              + quote.prices().inputCacheMiss() + " and " + heldOutputTokens + " output tokens at ";
      String advice = partial
          ? ". Top up to continue."
          : req.stream() || outputBudgetTokens <= config.streamInitialHoldTokens()
              ? ". Top up, or lower max_tokens."
              : ". Top up, lower max_tokens, or stream the answer (a stream holds only its first "
                  + config.streamInitialHoldTokens() + " output tokens and extends its hold as it goes).";
      throw new GatewayException(
          ErrorKind.INSUFFICIENT_BALANCE,
          "Insufficient balance: " + needs + quote.prices().output() + " per 1M tokens"
              + (quote.discountBp() > 0 ? ", " + quote.discountBp() / 100.0 + "% off" : "")
              + "); the available balance is " + Money.ofNanos(r.availableNanos()) + " " + Money.CURRENCY + advice,
          null,
          null);
    }
    Charge.Hold size =
        new Charge.Hold(
            r.heldNanos(), promptBound, heldOutputTokens, outputBudgetTokens, config.streamExtensionTokens(),
            Duration.ofMillis(config.reservationTtlMillis()));
    return new Charge(ledger, watchdog, quote, requestId, accountId, keyId, rec.startNanos(), size);
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
