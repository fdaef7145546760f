package dev.jevons.gateway;

import dev.jevons.billing.ExtendResult;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.Money;
import dev.jevons.billing.Quote;
import dev.jevons.billing.SettleResult;
import dev.jevons.billing.UsageRecord;
import dev.jevons.upstream.Watchdog;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
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
 *
 * <p>Implementation note (growing a stream's hold). A stream holds its prompt bound and its first
 * few output tokens, not its whole output budget; {@link #cover} is asked, before each chunk is
 * written, to make the hold cover every output token delivered so far plus that chunk's. The hold
 * then grows in steps through {@link Ledger#extend}, never past the output budget the upstream was
 * sent as {@code max_tokens}. Invariant: no output token reaches the client unless the hold
 * already covers it, so the post (delivered tokens at the quote, at most the hold) always fits and
 * the balance never falls below the credit limit; the ledger alone enforces that limit. To keep
 * the stream from waiting on a ledger commit at every step, the next extension is sent ahead,
 * asynchronously, once fewer than half a step of held tokens remain; only when the stream catches
 * up with a hold whose extension has not committed does it wait. When an extension is refused for
 * money, one last extension takes whatever whole tokens the available balance still pays for, so a
 * customer can spend down to the last token; after that the stream ends. Concurrency: only the
 * request's own thread calls {@link #cover} and {@link #settle}; an extension in flight is a future
 * whose answer that thread applies when it next looks. A post may be queued behind an extension
 * still in flight: the ledger applies commands in arrival order, so the post sees the grown hold.
 */
final class Charge {
  private static final Logger log = LoggerFactory.getLogger(Charge.class);
  private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration EXTEND_TIMEOUT = Duration.ofSeconds(10);
  /** Extensions refused in a row (by a race with other requests of the account) before giving up. */
  private static final int MAX_EXTEND_ATTEMPTS = 3;

  static final Charge NONE = new Charge(null, null, null, "", "", "", 0, Hold.NONE);

  /**
   * The size of a hold and how it may grow: {@code heldNanos} covers {@code promptBoundTokens}
   * at the cache-miss price and {@code outputTokens} at the output price; it may grow by {@code
   * stepTokens} at a time up to {@code outputBudgetTokens}, each extension moving its expiry to
   * {@code ttl} from then.
   */
  record Hold(long heldNanos, long promptBoundTokens, long outputTokens, long outputBudgetTokens, long stepTokens, Duration ttl) {
    static final Hold NONE = new Hold(0, 0, 0, 0, 1, Duration.ofMillis(1));
  }

  /** Whether the hold covers the output a stream is about to deliver. */
  enum Coverage {
    COVERED,
    /** The account cannot pay for more: end the stream with {@code insufficient_balance}. */
    INSUFFICIENT,
    /** The ledger did not answer, or the hold is no longer pending: end the stream, fail closed. */
    UNAVAILABLE
  }

  private final @Nullable Ledger ledger;
  private final @Nullable Quote quote;
  private final String reservationId;
  private final String accountId;
  private final String keyId;
  private final long startNanos;
  private final long promptBoundTokens;
  private final long outputBudgetTokens;
  private final long stepTokens;
  private final Duration ttl;
  private long heldNanos;
  private long heldOutputTokens;
  private int extensions;
  private int extensionIds;
  private @Nullable CompletableFuture<ExtendResult> extensionInFlight;
  private long extensionInFlightTokens;
  private boolean aheadRefused;
  private boolean settled;
  private long costNanos;
  private final @Nullable Watchdog watchdog;
  /** How long a settlement, and an extension, may wait for the ledger (shorter only in tests). */
  private Duration settleTimeout = SETTLE_TIMEOUT;
  private Duration extendTimeout = EXTEND_TIMEOUT;

  /** {@code watchdog} bounds every wait for the ledger (required with a ledger). */
  Charge(
      @Nullable Ledger ledger,
      @Nullable Watchdog watchdog,
      @Nullable Quote quote,
      String reservationId,
      String accountId,
      String keyId,
      long startNanos,
      Hold hold) {
    if (ledger != null && watchdog == null) {
      throw new IllegalArgumentException("a charge on a ledger needs a watchdog to bound its waits");
    }
    this.ledger = ledger;
    this.watchdog = watchdog;
    this.quote = quote;
    this.reservationId = reservationId;
    this.accountId = accountId;
    this.keyId = keyId;
    this.startNanos = startNanos;
    this.heldNanos = hold.heldNanos();
    this.promptBoundTokens = hold.promptBoundTokens();
    this.heldOutputTokens = hold.outputTokens();
    this.outputBudgetTokens = hold.outputBudgetTokens();
    this.stepTokens = hold.stepTokens();
    this.ttl = hold.ttl();
  }

  @Nullable Quote quote() {
    return quote;
  }

  long costNanos() {
    return costNanos;
  }

  /** Shorter waits for the ledger, for tests of what happens when it does not answer. */
  void ledgerTimeouts(Duration settle, Duration extend) {
    this.settleTimeout = settle;
    this.extendTimeout = extend;
  }

  boolean settled() {
    return settled;
  }

  /** Output tokens the hold covers now (extensions in flight not counted). */
  long heldOutputTokens() {
    return heldOutputTokens;
  }

  /** Extensions of the hold that committed. */
  int extensions() {
    return extensions;
  }

  /**
   * Makes the hold cover {@code outputTokens} output tokens (all delivered so far plus the chunk
   * about to be written), extending it if needed, and sends the next extension ahead when the
   * hold runs low. Never grows the hold past the output budget: an upstream that produces more
   * than the {@code max_tokens} it was sent is relayed as before and charged at most the hold.
   */
  Coverage cover(long outputTokens) {
    return grow(outputTokens, true);
  }

  /**
   * Makes the hold cover {@code outputTokens} already delivered (an upstream that reported more
   * tokens than it sent chunks), sending nothing ahead; if the account cannot pay, the post is
   * capped at the hold.
   */
  void coverDelivered(long outputTokens) {
    grow(outputTokens, false);
  }

  private Coverage grow(long outputTokens, boolean ahead) {
    Ledger l = ledger;
    Quote q = quote;
    if (l == null || q == null || settled) {
      return Coverage.COVERED;
    }
    CompletableFuture<ExtendResult> inFlight = extensionInFlight;
    if (inFlight != null && (inFlight.isDone() || Math.min(outputTokens, outputBudgetTokens) > heldOutputTokens)) {
      extensionInFlight = null;
      ExtendResult r = await(() -> inFlight, extendTimeout);
      if (r != null && r.status() == ExtendResult.Status.EXTENDED) {
        grown(r, extensionInFlightTokens);
      } else if (r != null && r.status() == ExtendResult.Status.INSUFFICIENT) {
        aheadRefused = true;
      }
      // Any other answer is looked at again below, by an extension made now.
    }
    long needed = Math.min(outputTokens, outputBudgetTokens);
    for (int attempt = 0; needed > heldOutputTokens; attempt++) {
      if (attempt == MAX_EXTEND_ATTEMPTS) {
        return Coverage.INSUFFICIENT;
      }
      long tokens = Math.min(Math.max(stepTokens, needed - heldOutputTokens), outputBudgetTokens - heldOutputTokens);
      ExtendResult r = extendNow(l, q, tokens);
      if (r == null || r.status() == ExtendResult.Status.NOT_FOUND || r.status() == ExtendResult.Status.NOT_PENDING) {
        log.warn("the hold of request {} could not be extended: {}", reservationId, r == null ? "no ledger answer" : r.status());
        return Coverage.UNAVAILABLE;
      }
      if (r.status() == ExtendResult.Status.EXTENDED) {
        aheadRefused = false;
        continue;
      }
      // Refused for money: take whatever whole tokens the available balance still pays for.
      long affordable = affordableTokens(q, r.availableNanos(), tokens);
      if (heldOutputTokens + affordable < needed) {
        return Coverage.INSUFFICIENT;
      }
      ExtendResult last = extendNow(l, q, affordable);
      if (last == null || last.status() == ExtendResult.Status.NOT_FOUND || last.status() == ExtendResult.Status.NOT_PENDING) {
        return Coverage.UNAVAILABLE;
      }
      aheadRefused = true;
    }
    if (ahead) {
      extendAhead(l, q, outputTokens);
    }
    return Coverage.COVERED;
  }

  /** Sends the next extension before the stream needs it, once less than half a step is left. */
  private void extendAhead(Ledger l, Quote q, long outputTokens) {
    if (extensionInFlight != null || aheadRefused || heldOutputTokens >= outputBudgetTokens) {
      return;
    }
    if (heldOutputTokens - outputTokens > stepTokens / 2) {
      return;
    }
    long tokens = Math.min(stepTokens, outputBudgetTokens - heldOutputTokens);
    long nanos = extensionNanos(q, tokens);
    if (nanos == 0) {
      heldOutputTokens += tokens;
      return;
    }
    try {
      extensionInFlight = l.extend(nextExtensionId(), reservationId, nanos, ttl);
      extensionInFlightTokens = tokens;
    } catch (RuntimeException e) {
      // The ledger's queue is full: the stream tries again, and waits, when it reaches the hold.
      aheadRefused = true;
    }
  }

  /** Extends the hold by {@code tokens} output tokens and waits; null when the ledger did not answer. */
  private @Nullable ExtendResult extendNow(Ledger l, Quote q, long tokens) {
    long nanos = extensionNanos(q, tokens);
    if (nanos == 0) {
      heldOutputTokens += tokens;
      return new ExtendResult(ExtendResult.Status.EXTENDED, reservationId, heldNanos, 0, null, null);
    }
    ExtendResult r = await(() -> l.extend(nextExtensionId(), reservationId, nanos, ttl), extendTimeout);
    if (r != null && r.status() == ExtendResult.Status.EXTENDED) {
      grown(r, tokens);
    }
    return r;
  }

  private void grown(ExtendResult r, long tokens) {
    heldNanos = r.heldNanos();
    heldOutputTokens += tokens;
    extensions++;
  }

  /** A fresh id per attempt: a refused extension writes nothing, but a timed-out one may still commit. */
  private String nextExtensionId() {
    return reservationId + ":x" + (++extensionIds);
  }

  /** What growing the hold by {@code tokens} output tokens adds, by the one-rounding rule. */
  private long extensionNanos(Quote q, long tokens) {
    return q.cost(0, promptBoundTokens, heldOutputTokens + tokens).nanos() - q.cost(0, promptBoundTokens, heldOutputTokens).nanos();
  }

  /** The most output tokens, up to {@code max}, whose extension costs at most {@code availableNanos}. */
  private long affordableTokens(Quote q, long availableNanos, long max) {
    long lo = 0;
    long hi = max;
    while (lo < hi) {
      long mid = lo + (hi - lo + 1) / 2;
      if (extensionNanos(q, mid) <= availableNanos) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
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
      return await(() -> l.voidReservation(reservationId, record(usage, rec, rec.outcome())), settleTimeout) != null;
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
    SettleResult r = await(() -> l.post(reservationId, posted, record(usage, rec, rec.outcome())), settleTimeout);
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
      await(() -> l.voidReservation(reservationId, record(Usage.NONE, rec, outcome)), settleTimeout);
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

  /**
   * Runs a ledger call and waits for it; null on any failure, which is logged, never thrown. The
   * wait itself is untimed and the shared {@link Watchdog} bounds it, failing the answer after
   * {@code timeout}: a timed wait on a virtual thread (or {@code orTimeout}, on JDK 25)
   * enters a JDK delay scheduler and wakes its thread twice per wait, which cost more than the
   * rest of billing's work on the request thread (docs/BENCHMARKS.md, session 6).
   */
  private <T> @Nullable T await(java.util.function.Supplier<CompletableFuture<T>> call, Duration timeout) {
    try {
      CompletableFuture<T> answer = call.get();
      if (answer.isDone()) {
        return answer.get();
      }
      Runnable giveUp = () -> answer.completeExceptionally(new TimeoutException("no ledger answer within " + timeout.toMillis() + " ms"));
      try (Watchdog.Watch watch = Objects.requireNonNull(watchdog).watch(timeout.toNanos(), giveUp)) {
        return answer.get();
      }
    } catch (RuntimeException e) {
      // Refused synchronously (queue full, ledger closed): the hold stays and expires.
      log.error("settling a ledger hold was refused; it will expire", e);
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (java.util.concurrent.ExecutionException e) {
      // The hold stays and expires on the ledger: never charged twice, never lost silently.
      log.error("settling a ledger hold failed; it will expire", e);
      return null;
    }
  }
}
