package dev.jevons.scheduler;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/*
 * Implementation note.
 *
 * Algorithm: GCRA (the Generic Cell Rate Algorithm of ATM networks, as in Brandur Leach's
 * "throttled" and redis-cell), which is an exact sliding-window token bucket with one number of
 * state per limit: the theoretical arrival time (TAT). A limit of L per window W (one minute)
 * gives each unit a cost of W/L nanos; admitting n units moves TAT to max(TAT, now) + n*W/L, and
 * is allowed while that stays within now + W. So a fresh limit admits a burst of L at once, then
 * L per minute spread evenly: a token bucket of capacity L refilled at L/W, which admits at most
 * L + D*L/W in any interval of length D (so up to 2L-1 in one minute that starts with a full
 * bucket, like OpenAI's own limits, not a fixed-window count of L). What is left is
 * (W - (TAT - now)) * L / W units; the limit is back to full ("reset") at TAT; a refused request
 * fits again after TAT + cost - now - W. No timers, O(1), exact integer arithmetic: the cost is
 * rounded up to the next nano (under-admitting by at most one nano per request) and Limits caps
 * L at 1e8 so L*W fits a long.
 *
 * Token limits are charged with the request's estimate at admission and corrected by the
 * difference when the request settles: an overrun moves TAT later (the tenant is in debt and waits
 * longer), an underrun moves it earlier (a refund), which only matters if the refunded capacity
 * has not drained by itself already.
 *
 * Concurrency model: one Meter (two TATs and an in-flight count) per account and per key, each in
 * a Caffeine cache. An admission runs inside the account's compute() and, nested, the key's
 * compute(): it checks all six limits, then commits all of them or none, so a request refused by
 * its key never consumes its account's allowance. Locks are always taken account first, then key,
 * so nesting cannot deadlock. Meter fields are also guarded by the meter's monitor so snapshot()
 * can read them without a write to the cache.
 *
 * Memory: a meter whose TATs are in the past and which has no request in flight is identical to a
 * fresh one, so it expires exactly then (a variable expiry recomputed on every update; a meter
 * with requests in flight never expires). Evicting idle meters therefore loses nothing, and the
 * cache holds only tenants active within the last minute. A hard maximum size backs this up; if it
 * is ever reached, evicting a busy meter forgets its counts, which over-admits briefly. That is
 * failing open, chosen on purpose: losing a rate limit for a moment is harmless next to refusing
 * every tenant because the limiter is full (the ledger, which guards money, fails closed).
 *
 * The arithmetic and the check (which limit refuses, what the headers say) live in RateLimitRules,
 * shared with store.RedisRateLimiter, which keeps the same state (two TATs per account and key,
 * and leases instead of a counter, in keys sharing a hash tag per account) and runs the same
 * check-then-commit in one Lua script, with the TATs' keys expiring at TAT like the meters here.
 */

/** Rate limits held in this process's memory: exact, O(1) per request, bounded memory. */
public final class LocalRateLimiter implements RateLimiter {
  private final LongSupplier nanoTime;
  private final long concurrencyRetryAfterNanos;
  private final Cache<String, Meter> accounts;
  private final Cache<String, Meter> keys;

  /**
   * @param nanoTime monotonic nanos (System::nanoTime in production, a fake in tests)
   * @param maxMeters bound on meters kept per cache (accounts, keys), each a few dozen bytes
   * @param concurrencyRetryAfter the {@code Retry-After} given when a concurrency limit refuses,
   *     since a slot frees when some request ends, not at a known time
   */
  public LocalRateLimiter(LongSupplier nanoTime, long maxMeters, Duration concurrencyRetryAfter) {
    if (maxMeters < 1) {
      throw new IllegalArgumentException("maxMeters must be >= 1: " + maxMeters);
    }
    if (concurrencyRetryAfter.isNegative()) {
      throw new IllegalArgumentException("concurrencyRetryAfter must be >= 0: " + concurrencyRetryAfter);
    }
    this.nanoTime = nanoTime;
    this.concurrencyRetryAfterNanos = concurrencyRetryAfter.toNanos();
    this.accounts = newCache(nanoTime, maxMeters);
    this.keys = newCache(nanoTime, maxMeters);
  }

  private static Cache<String, Meter> newCache(LongSupplier nanoTime, long maxMeters) {
    return Caffeine.newBuilder()
        .ticker(nanoTime::getAsLong)
        // Maintenance (expiry) runs on the calling threads: no background thread, deterministic in tests.
        .executor(Runnable::run)
        .maximumSize(maxMeters)
        .expireAfter(new IdleExpiry())
        .build();
  }

  @Override
  public Decision tryAcquire(LimitKeys who, Limits accountLimits, Limits keyLimits, long estimatedTokens) {
    if (estimatedTokens < 0) {
      throw new IllegalArgumentException("estimatedTokens must be >= 0: " + estimatedTokens);
    }
    if (accountLimits.unlimited() && keyLimits.unlimited()) {
      return new Admitted(NoopPermit.INSTANCE, Snapshot.NONE);
    }
    long now = nanoTime.getAsLong();
    Admission admission = new Admission(who, now, accountLimits, keyLimits, estimatedTokens);
    return withMeter(accounts, who.accountId(), !accountLimits.unlimited(), now, account ->
        withMeter(keys, who.keyId(), !keyLimits.unlimited(), now, key -> admission.decide(account, key)));
  }

  @Override
  public Snapshot snapshot(LimitKeys who, Limits accountLimits, Limits keyLimits) {
    long now = nanoTime.getAsLong();
    return RateLimitRules.snapshot(
        accountLimits.unlimited() ? null : stateOrFresh(accounts.getIfPresent(who.accountId()), now), accountLimits,
        keyLimits.unlimited() ? null : stateOrFresh(keys.getIfPresent(who.keyId()), now), keyLimits);
  }

  private static RateLimitRules.State stateOrFresh(@Nullable Meter m, long now) {
    return m == null ? RateLimitRules.State.FRESH : m.state(now);
  }

  /** Meters held now (accounts + keys), after expiring idle ones; for metrics and tests. */
  public long meters() {
    return drained(accounts) + drained(keys);
  }

  private static long drained(Cache<String, Meter> cache) {
    // One cleanUp drains a bounded batch of Caffeine's write buffer (amortised maintenance), so
    // after a burst it can take a few rounds until every expiry update is applied.
    long size = -1;
    for (int round = 0; round < 1_000 && size != cache.estimatedSize(); round++) {
      size = cache.estimatedSize();
      cache.cleanUp();
    }
    return cache.estimatedSize();
  }

  /**
   * Runs {@code body} with the id's meter inside the cache's atomic compute (creating the meter if
   * absent), or with null, touching nothing, when the id has no limits.
   */
  private static <T> T withMeter(
      Cache<String, Meter> cache, String id, boolean tracked, long now, Function<@Nullable Meter, T> body) {
    if (!tracked) {
      return body.apply(null);
    }
    Object[] result = new Object[1];
    cache.asMap().compute(id, (k, m) -> {
      Meter meter = m != null ? m : new Meter(now);
      result[0] = body.apply(meter);
      return meter;
    });
    @SuppressWarnings("unchecked")
    T t = (T) result[0];
    return t;
  }

  private static Snapshot snapshotOf(long now, @Nullable Meter account, Limits accountLimits, @Nullable Meter key, Limits keyLimits) {
    return RateLimitRules.snapshot(stateOf(account, now), accountLimits, stateOf(key, now), keyLimits);
  }

  private static RateLimitRules.@Nullable State stateOf(@Nullable Meter m, long now) {
    return m == null ? null : m.state(now);
  }

  /** The state of one account or key. Guarded by its own monitor and by the cache's compute. */
  static final class Meter {
    long requestsTatNanos;
    long tokensTatNanos;
    int inFlight;

    Meter(long now) {
      this.requestsTatNanos = now;
      this.tokensTatNanos = now;
    }

    synchronized RateLimitRules.State state(long now) {
      return new RateLimitRules.State(
          RateLimitRules.used(requestsTatNanos, now), RateLimitRules.used(tokensTatNanos, now), inFlight);
    }

    synchronized long idleNanos(long now) {
      if (inFlight > 0) {
        return Long.MAX_VALUE;
      }
      return Math.max(RateLimitRules.used(requestsTatNanos, now), RateLimitRules.used(tokensTatNanos, now));
    }
  }

  private static final class IdleExpiry implements Expiry<String, Meter> {
    @Override
    public long expireAfterCreate(String key, Meter m, long currentTime) {
      return m.idleNanos(currentTime);
    }

    @Override
    public long expireAfterUpdate(String key, Meter m, long currentTime, long currentDuration) {
      return m.idleNanos(currentTime);
    }

    @Override
    public long expireAfterRead(String key, Meter m, long currentTime, long currentDuration) {
      return currentDuration;
    }
  }

  /** One tryAcquire: checks every limit of both meters, then commits all or none. */
  private final class Admission {
    private final LimitKeys who;
    private final long now;
    private final Limits accountLimits;
    private final Limits keyLimits;
    private final long tokens;

    Admission(LimitKeys who, long now, Limits accountLimits, Limits keyLimits, long tokens) {
      this.who = who;
      this.now = now;
      this.accountLimits = accountLimits;
      this.keyLimits = keyLimits;
      this.tokens = tokens;
    }

    Decision decide(@Nullable Meter accountMeter, @Nullable Meter keyMeter) {
      Rejected refused = RateLimitRules.refusal(
          stateOf(accountMeter, now), accountLimits, stateOf(keyMeter, now), keyLimits, tokens, concurrencyRetryAfterNanos);
      if (refused != null) {
        return refused;
      }
      if (accountMeter != null) {
        commit(accountMeter, accountLimits);
      }
      if (keyMeter != null) {
        commit(keyMeter, keyLimits);
      }
      MeterPermit permit = new MeterPermit(who, accountMeter, accountLimits.tokensPerMinute(), keyMeter, keyLimits.tokensPerMinute(), tokens);
      return new Admitted(permit, snapshotOf(now, accountMeter, accountLimits, keyMeter, keyLimits));
    }

    private void commit(Meter m, Limits limits) {
      synchronized (m) {
        Long rpm = limits.requestsPerMinute();
        if (rpm != null) {
          m.requestsTatNanos = Math.max(m.requestsTatNanos, now) + RateLimitRules.cost(1, rpm);
        }
        Long tpm = limits.tokensPerMinute();
        if (tpm != null) {
          m.tokensTatNanos = Math.max(m.tokensTatNanos, now) + RateLimitRules.cost(tokens, tpm);
        }
        m.inFlight++;
      }
    }
  }

  /** Holds the meters it counted against; settles and releases through the caches' compute. */
  private final class MeterPermit implements Permit {
    private final @Nullable Meter account;
    private final @Nullable Long accountTpm;
    private final @Nullable Meter key;
    private final @Nullable Long keyTpm;
    private final long estimatedTokens;
    private final AtomicBoolean settled = new AtomicBoolean();
    private final AtomicBoolean released = new AtomicBoolean();
    private final LimitKeys who;

    MeterPermit(LimitKeys who, @Nullable Meter account, @Nullable Long accountTpm, @Nullable Meter key, @Nullable Long keyTpm, long estimatedTokens) {
      this.account = account;
      this.accountTpm = accountTpm;
      this.key = key;
      this.keyTpm = keyTpm;
      this.who = who;
      this.estimatedTokens = estimatedTokens;
    }

    @Override
    public void settleTokens(long actualTokens) {
      if (actualTokens < 0) {
        throw new IllegalArgumentException("actualTokens must be >= 0: " + actualTokens);
      }
      LimitKeys w = who;
      if (!settled.compareAndSet(false, true)) {
        return;
      }
      long delta = Math.clamp(actualTokens - estimatedTokens, -Limits.MAX_PER_MINUTE, Limits.MAX_PER_MINUTE);
      if (delta == 0) {
        return;
      }
      long now = nanoTime.getAsLong();
      if (account != null && accountTpm != null) {
        settle(accounts, w.accountId(), accountTpm, delta, now);
      }
      if (key != null && keyTpm != null) {
        settle(keys, w.keyId(), keyTpm, delta, now);
      }
    }

    private void settle(Cache<String, Meter> cache, String id, long tpm, long delta, long now) {
      cache.asMap().compute(id, (k, m) -> {
        if (m == null) {
          // The meter expired because it was idle and full: a refund changes nothing; debt is new state.
          if (delta < 0) {
            return null;
          }
          m = new Meter(now);
        }
        synchronized (m) {
          if (delta > 0) {
            m.tokensTatNanos = Math.max(m.tokensTatNanos, now) + RateLimitRules.cost(delta, tpm);
          } else {
            m.tokensTatNanos -= RateLimitRules.refund(-delta, tpm);
          }
        }
        return m;
      });
    }

    @Override
    public void release() {
      LimitKeys w = who;
      if (!released.compareAndSet(false, true)) {
        return;
      }
      if (account != null) {
        release(accounts, w.accountId(), account);
      }
      if (key != null) {
        release(keys, w.keyId(), key);
      }
    }

    private void release(Cache<String, Meter> cache, String id, Meter mine) {
      // Through compute so the meter's expiry is recomputed: it may be idle now.
      cache.asMap().computeIfPresent(id, (k, m) -> {
        if (m == mine) {
          synchronized (m) {
            m.inFlight = Math.max(0, m.inFlight - 1);
          }
        }
        return m;
      });
      // If the meter was evicted under size pressure while in flight (see the note), a new one
      // may hold other requests' counts: decrementing it would over-admit, so only the orphan,
      // which nothing reads any more, was left alone above.
    }
  }

  private enum NoopPermit implements Permit {
    INSTANCE;

    @Override
    public void settleTokens(long actualTokens) {}

    @Override
    public void release() {}
  }
}
