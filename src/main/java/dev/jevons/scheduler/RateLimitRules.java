package dev.jevons.scheduler;

import dev.jevons.scheduler.RateLimiter.Kind;
import dev.jevons.scheduler.RateLimiter.Rejected;
import dev.jevons.scheduler.RateLimiter.Scope;
import dev.jevons.scheduler.RateLimiter.Snapshot;
import dev.jevons.scheduler.RateLimiter.Window;
import org.jspecify.annotations.Nullable;

/**
 * The arithmetic and the decisions every {@link RateLimiter} shares, so that the limiter in this
 * process and the one in Redis admit, refuse and report identically: GCRA over one minute (see
 * {@link LocalRateLimiter}'s implementation note), applied to the {@link State} of an account and
 * a key at one instant.
 */
public final class RateLimitRules {
  public static final long WINDOW_NANOS = 60_000_000_000L;

  private RateLimitRules() {}

  /**
   * One account's or key's limits at one instant: how far each theoretical arrival time (TAT) is
   * ahead of now (0 when the limit is full), and the requests in flight.
   */
  public record State(long requestsUsedNanos, long tokensUsedNanos, int inFlight) {
    public static final State FRESH = new State(0, 0, 0);

    public State {
      if (requestsUsedNanos < 0 || tokensUsedNanos < 0 || inFlight < 0) {
        throw new IllegalArgumentException("negative limit state: " + requestsUsedNanos + ", " + tokensUsedNanos + ", " + inFlight);
      }
    }
  }

  /** Nanos of the window that {@code units} take up: rounded up, so a limit never over-admits. */
  public static long cost(long units, long limit) {
    // units <= MAX_PER_MINUTE and WINDOW_NANOS = 6e10: the product stays below 6.1e18.
    return Math.ceilDiv(units * WINDOW_NANOS, limit);
  }

  /** Nanos a settlement gives back for {@code units} not used: rounded down, for the same reason. */
  public static long refund(long units, long limit) {
    return units * WINDOW_NANOS / limit;
  }

  /** How far a TAT is ahead of now; 0 once it has passed. */
  public static long used(long tatNanos, long now) {
    return Math.max(0, tatNanos - now);
  }

  /** Units that could be admitted now. */
  public static long remaining(long usedNanos, long limit) {
    long free = WINDOW_NANOS - usedNanos;
    return free <= 0 ? 0 : free * limit / WINDOW_NANOS;
  }

  /** Nanos until {@code units} fit, 0 if they fit now. */
  public static long waitFor(long usedNanos, long units, long limit) {
    return Math.max(0, usedNanos + cost(units, limit) - WINDOW_NANOS);
  }

  /** The state after admitting one request of {@code tokens} against {@code limits}. */
  public static State admit(State s, Limits limits, long tokens) {
    Long rpm = limits.requestsPerMinute();
    Long tpm = limits.tokensPerMinute();
    return new State(
        rpm == null ? s.requestsUsedNanos() : s.requestsUsedNanos() + cost(1, rpm),
        tpm == null ? s.tokensUsedNanos() : s.tokensUsedNanos() + cost(tokens, tpm),
        s.inFlight() + 1);
  }

  /**
   * The refusal of a request of {@code tokens}, or null when every limit has room. A null state
   * stands for a scope without limits. When several limits are exceeded, the one that frees last
   * is named (on a tie, the first in the order account before key, requests, tokens,
   * concurrency), with the snapshot of both states as they are.
   */
  public static @Nullable Rejected refusal(
      @Nullable State account, Limits accountLimits, @Nullable State key, Limits keyLimits, long tokens, long concurrencyRetryAfterNanos) {
    Rejected worst = null;
    if (account != null) {
      worst = check(worst, Scope.ACCOUNT, account, accountLimits, tokens, concurrencyRetryAfterNanos);
    }
    if (key != null) {
      worst = check(worst, Scope.KEY, key, keyLimits, tokens, concurrencyRetryAfterNanos);
    }
    if (worst == null) {
      return null;
    }
    Snapshot s = snapshot(account, accountLimits, key, keyLimits);
    return new Rejected(worst.scope(), worst.kind(), worst.limit(), worst.remaining(), worst.requested(), worst.retryAfterNanos(), s);
  }

  private static @Nullable Rejected check(
      @Nullable Rejected worst, Scope scope, State m, Limits limits, long tokens, long concurrencyRetryAfterNanos) {
    Long rpm = limits.requestsPerMinute();
    if (rpm != null) {
      long wait = waitFor(m.requestsUsedNanos(), 1, rpm);
      if (wait > 0) {
        worst = worse(worst, scope, Kind.REQUESTS_PER_MINUTE, rpm, remaining(m.requestsUsedNanos(), rpm), 1, wait);
      }
    }
    Long tpm = limits.tokensPerMinute();
    if (tpm != null) {
      if (tokens > tpm) {
        // Never fits; the earliest it could be tried is when the limit is full again.
        worst = worse(worst, scope, Kind.TOKENS_PER_MINUTE, tpm, remaining(m.tokensUsedNanos(), tpm), tokens, m.tokensUsedNanos());
      } else {
        long wait = waitFor(m.tokensUsedNanos(), tokens, tpm);
        if (wait > 0) {
          worst = worse(worst, scope, Kind.TOKENS_PER_MINUTE, tpm, remaining(m.tokensUsedNanos(), tpm), tokens, wait);
        }
      }
    }
    Integer max = limits.concurrentRequests();
    if (max != null && m.inFlight() >= max) {
      worst = worse(worst, scope, Kind.CONCURRENT_REQUESTS, max, Math.max(0, max - m.inFlight()), 1, concurrencyRetryAfterNanos);
    }
    return worst;
  }

  private static Rejected worse(
      @Nullable Rejected worst, Scope scope, Kind kind, long limit, long remaining, long requested, long retryAfterNanos) {
    if (worst == null || retryAfterNanos > worst.retryAfterNanos()) {
      return new Rejected(scope, kind, limit, remaining, requested, retryAfterNanos, Snapshot.NONE);
    }
    return worst;
  }

  /** The tighter of the account's and the key's windows; a null state is a scope not limited. */
  public static Snapshot snapshot(@Nullable State account, Limits accountLimits, @Nullable State key, Limits keyLimits) {
    Window requests = tighter(
        window(account == null ? null : account.requestsUsedNanos(), accountLimits.requestsPerMinute()),
        window(key == null ? null : key.requestsUsedNanos(), keyLimits.requestsPerMinute()));
    Window tokens = tighter(
        window(account == null ? null : account.tokensUsedNanos(), accountLimits.tokensPerMinute()),
        window(key == null ? null : key.tokensUsedNanos(), keyLimits.tokensPerMinute()));
    return requests == null && tokens == null ? Snapshot.NONE : new Snapshot(requests, tokens);
  }

  private static @Nullable Window window(@Nullable Long usedNanos, @Nullable Long limit) {
    if (limit == null || usedNanos == null) {
      return null;
    }
    return new Window(limit, remaining(usedNanos, limit), usedNanos);
  }

  private static @Nullable Window tighter(@Nullable Window a, @Nullable Window b) {
    if (a == null) {
      return b;
    }
    if (b == null) {
      return a;
    }
    if (a.remaining() != b.remaining()) {
      return a.remaining() < b.remaining() ? a : b;
    }
    return a.resetNanos() >= b.resetNanos() ? a : b;
  }
}
