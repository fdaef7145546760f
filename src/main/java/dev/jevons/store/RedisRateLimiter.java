package dev.jevons.store;

import dev.jevons.scheduler.LimitKeys;
import dev.jevons.scheduler.Limits;
import dev.jevons.scheduler.RateLimitRules;
import dev.jevons.scheduler.RateLimitRules.State;
import dev.jevons.scheduler.RateLimiter;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Implementation note.
 *
 * The same limits as scheduler.LocalRateLimiter (GCRA over one minute: see its note), decided by
 * the same RateLimitRules, with the state in Redis so that every gateway node draws on one budget.
 *
 * State, per account and per key, under one hash tag per account ({account}) so that a script's
 * keys share a cluster slot:
 *   <prefix>{<account>}:m:a          hash: the requests and tokens TATs of the account
 *   <prefix>{<account>}:m:k:<key>    hash: the same for one of its keys
 *   <prefix>{<account>}:f:a          sorted set: the account's requests in flight, scored by lease
 *   <prefix>{<account>}:f:k:<key>    sorted set: the key's
 * A TAT is stored as seconds and nanos of that second: Lua numbers are doubles, exact only below
 * 2^53, which nanos since 1970 are not; the scripts only ever compute differences from now, which
 * are small. Costs and refunds are computed here in exact long arithmetic and passed in, and the
 * script's check (used + cost > window, tokens > limit, in flight >= limit) is the one of
 * RateLimitRules, so a refusal's fields are computed here from the state the script returns.
 *
 * One round trip per decision: the acquire script reads both meters and both in-flight sets,
 * checks every limit, and commits all of them or none, atomically (Redis runs one script at a
 * time). Settlement and release are one more round trip each, and only when there is something to
 * do (a token limit and a difference; a concurrency limit). Time is the Redis server's (TIME), so
 * the nodes' clocks do not matter; tests may pass a fake clock instead, sent with every call.
 *
 * Concurrency slots are leases, not a counter: a node that dies with requests in flight would
 * otherwise hold their slots forever. Each admitted request with a concurrency limit adds its
 * permit id to the in-flight sets scored by now + lease; this node renews the leases of its live
 * permits every lease/3, and every acquire purges leases past their expiry before counting. A
 * crashed node's slots therefore free within one lease. Renewal only extends leases that are
 * still there (ZADD XX), so a renewal racing a release cannot resurrect the slot.
 *
 * Memory: a meter's TTL is set to when both its TATs have passed (it is then identical to a
 * missing one), and an in-flight set's to one lease after its last write; idle tenants cost
 * nothing. A TAT more than 1e15 ns (11.6 days) ahead is capped there: only a settlement debt that
 * large could reach it.
 *
 * Failure policy: fail open. Rate limits protect capacity, not money (the ledger, which does,
 * fails closed), and the fair queue and admission control still bound the load, so a request
 * that cannot be checked because Redis is down or slow is admitted unchecked, counted in
 * jevons.rate_limiter.unchecked, with one warning when Redis stops answering and one line when
 * it answers again. Every command is bounded by the Redis timeout, and after a failure Redis is
 * left alone for a back-off interval, during which requests pass at once instead of each paying
 * the timeout. A settlement or release that fails is dropped (the lease frees the slot); an
 * acquisition that timed out may still have counted in Redis, and its lease, never renewed,
 * frees it within one lease too.
 */

/** Rate limits shared by every gateway node through Redis; see the implementation note. */
public final class RedisRateLimiter implements RateLimiter, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RedisRateLimiter.class);

  private static final Redis.Script ACQUIRE = Redis.Script.resource("rate_limit_acquire");
  private static final Redis.Script SETTLE = Redis.Script.resource("rate_limit_settle");
  private static final Redis.Script RELEASE = Redis.Script.resource("rate_limit_release");
  private static final Redis.Script RENEW = Redis.Script.resource("rate_limit_renew");
  private static final Redis.Script SNAPSHOT = Redis.Script.resource("rate_limit_snapshot");

  /** The scripts cap how far a TAT may run ahead of now (see the note); costs sent are capped alike. */
  static final long MAX_AHEAD_NANOS = 1_000_000_000_000_000L;

  /**
   * @param keyPrefix prefix of every key, so several deployments can share one Redis
   * @param lease how long a concurrency slot outlives a node that stopped renewing it
   * @param concurrencyRetryAfter the {@code Retry-After} of a concurrency refusal (a hint)
   * @param backoff how long Redis is left alone after it failed to answer
   */
  public record Settings(String keyPrefix, Duration lease, Duration concurrencyRetryAfter, Duration backoff) {
    public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);
    public static final Duration DEFAULT_BACKOFF = Duration.ofSeconds(1);

    public Settings {
      if (lease.toMillis() < 3) {
        throw new IllegalArgumentException("lease must be at least 3 ms: " + lease);
      }
      if (concurrencyRetryAfter.isNegative() || backoff.isNegative()) {
        throw new IllegalArgumentException("durations must be >= 0");
      }
    }

    public static Settings defaults(String keyPrefix) {
      return new Settings(keyPrefix, DEFAULT_LEASE, Duration.ofSeconds(1), DEFAULT_BACKOFF);
    }
  }

  private final Redis redis;
  private final Settings settings;
  private final @Nullable LongSupplier fakeNowNanos;
  private final LongSupplier ticker;
  private final long concurrencyRetryAfterNanos;
  private final String nodeId;
  /**
   * How long a meter outlives its last TAT, in millis: 1 on the server's clock (rounding); on a
   * fake clock, which stands still while Redis's own clock expires keys, ten minutes.
   */
  private final String meterSlackMillis;
  private final AtomicLong permits = new AtomicLong();
  private final Map<String, RedisPermit> live = new ConcurrentHashMap<>();
  private final ScheduledFuture<?> renewal;
  private final Counter unchecked;
  private final MeterRegistry registry;
  private final AtomicBoolean failing = new AtomicBoolean();
  private volatile long quietUntilNanos;

  /**
   * @param fakeNowNanos null in production: time is the Redis server's; a fake clock for tests
   * @param ticker monotonic nanos for the back-off (System::nanoTime)
   * @param renewals runs the lease renewal every lease/3; it blocks on Redis, so not a timer
   *     thread others depend on
   */
  public RedisRateLimiter(
      Redis redis,
      Settings settings,
      @Nullable LongSupplier fakeNowNanos,
      LongSupplier ticker,
      ScheduledExecutorService renewals,
      MeterRegistry registry) {
    this.redis = redis;
    this.settings = settings;
    this.fakeNowNanos = fakeNowNanos;
    this.meterSlackMillis = fakeNowNanos == null ? "1" : "600000";
    this.ticker = ticker;
    this.concurrencyRetryAfterNanos = settings.concurrencyRetryAfter().toNanos();
    this.registry = registry;
    byte[] random = new byte[8];
    new SecureRandom().nextBytes(random);
    this.nodeId = HexFormat.of().formatHex(random);
    this.unchecked =
        Counter.builder("jevons.rate_limiter.unchecked")
            .description("Requests admitted without a rate-limit check because Redis did not answer")
            .register(registry);
    long every = Math.max(1, settings.lease().toMillis() / 3);
    this.renewal = renewals.scheduleWithFixedDelay(this::renewLeasesQuietly, every, every, TimeUnit.MILLISECONDS);
  }

  @Override
  public Decision tryAcquire(LimitKeys who, Limits accountLimits, Limits keyLimits, long estimatedTokens) {
    if (estimatedTokens < 0) {
      throw new IllegalArgumentException("estimatedTokens must be >= 0: " + estimatedTokens);
    }
    if (accountLimits.unlimited() && keyLimits.unlimited()) {
      return new Admitted(NoopPermit.INSTANCE, Snapshot.NONE);
    }
    if (quiet()) {
      return admitUnchecked();
    }
    Keys keys = new Keys(settings.keyPrefix(), who);
    String permitId = nodeId + ":" + permits.incrementAndGet();
    List<String> args = new ArrayList<>(16);
    addNow(args);
    args.add(permitId);
    args.add(Long.toString(settings.lease().toMillis()));
    args.add(Long.toString(estimatedTokens));
    addScope(args, accountLimits, estimatedTokens);
    addScope(args, keyLimits, estimatedTokens);
    args.add(meterSlackMillis);
    List<Long> r;
    try {
      r = redis.eval(ACQUIRE, ScriptOutputType.MULTI, keys.acquire(), args.toArray(String[]::new));
      answered();
    } catch (RuntimeException e) {
      failed("acquire", e);
      return admitUnchecked();
    }
    State account = accountLimits.unlimited() ? null : new State(r.get(1), r.get(2), Math.toIntExact(r.get(3)));
    State key = keyLimits.unlimited() ? null : new State(r.get(4), r.get(5), Math.toIntExact(r.get(6)));
    if (r.get(0) == 1L) {
      Snapshot after = RateLimitRules.snapshot(
          account == null ? null : RateLimitRules.admit(account, accountLimits, estimatedTokens), accountLimits,
          key == null ? null : RateLimitRules.admit(key, keyLimits, estimatedTokens), keyLimits);
      RedisPermit permit = new RedisPermit(permitId, who, keys, accountLimits, keyLimits, estimatedTokens);
      if (permit.holdsSlots()) {
        live.put(permitId, permit);
      }
      return new Admitted(permit, after);
    }
    Rejected refused =
        RateLimitRules.refusal(account, accountLimits, key, keyLimits, estimatedTokens, concurrencyRetryAfterNanos);
    if (refused == null) {
      throw new IllegalStateException("the acquire script refused a request that RateLimitRules admits: " + r);
    }
    return refused;
  }

  @Override
  public Snapshot snapshot(LimitKeys who, Limits accountLimits, Limits keyLimits) {
    if ((accountLimits.unlimited() && keyLimits.unlimited()) || quiet()) {
      return Snapshot.NONE;
    }
    Keys keys = new Keys(settings.keyPrefix(), who);
    List<String> args = new ArrayList<>(2);
    addNow(args);
    List<Long> r;
    try {
      r = redis.eval(SNAPSHOT, ScriptOutputType.MULTI, new String[] {keys.accountMeter, keys.keyMeter}, args.toArray(String[]::new));
      answered();
    } catch (RuntimeException e) {
      failed("snapshot", e);
      return Snapshot.NONE;
    }
    return RateLimitRules.snapshot(
        accountLimits.unlimited() ? null : new State(r.get(0), r.get(1), 0), accountLimits,
        keyLimits.unlimited() ? null : new State(r.get(2), r.get(3), 0), keyLimits);
  }

  /**
   * Extends the lease of every request of this node still in flight; runs every lease/3 on the
   * renewal executor. One script call per account (its keys share a hash tag), all sent before
   * any answer is awaited.
   */
  void renewLeases() {
    Map<String, List<RedisPermit>> byAccount = new HashMap<>();
    for (RedisPermit p : live.values()) {
      byAccount.computeIfAbsent(p.who.accountId(), a -> new ArrayList<>()).add(p);
    }
    record Renewal(String[] keys, String[] args, RedisFuture<Long> answer) {}
    List<Renewal> sent = new ArrayList<>(byAccount.size());
    for (List<RedisPermit> group : byAccount.values()) {
      List<String> keys = new ArrayList<>();
      List<String> args = new ArrayList<>();
      addNow(args);
      args.add(Long.toString(settings.lease().toMillis()));
      for (RedisPermit p : group) {
        for (String set : p.inFlightSets()) {
          keys.add(set);
          args.add(p.id);
        }
      }
      String[] k = keys.toArray(String[]::new);
      String[] a = args.toArray(String[]::new);
      sent.add(new Renewal(k, a, redis.evalAsync(RENEW, ScriptOutputType.INTEGER, k, a)));
    }
    for (Renewal r : sent) {
      try {
        redis.await(r.answer());
      } catch (RedisNoScriptException e) {
        // Redis restarted or flushed its scripts: this one call loads it again.
        redis.eval(RENEW, ScriptOutputType.INTEGER, r.keys(), r.args());
      }
    }
  }

  private void renewLeasesQuietly() {
    try {
      renewLeases();
    } catch (RuntimeException e) {
      failed("renew", e);
    }
  }

  /** Requests of this node holding concurrency slots; for tests and metrics. */
  int liveLeases() {
    return live.size();
  }

  @Override
  public void close() {
    renewal.cancel(false);
  }

  private void addNow(List<String> args) {
    LongSupplier fake = fakeNowNanos;
    if (fake == null) {
      args.add("");
      args.add("");
    } else {
      long now = fake.getAsLong();
      args.add(Long.toString(Math.floorDiv(now, 1_000_000_000L)));
      args.add(Long.toString(Math.floorMod(now, 1_000_000_000L)));
    }
  }

  private static void addScope(List<String> args, Limits limits, long tokens) {
    args.add(limits.unlimited() ? "0" : "1");
    Long rpm = limits.requestsPerMinute();
    args.add(rpm == null ? "" : Long.toString(RateLimitRules.cost(1, rpm)));
    Long tpm = limits.tokensPerMinute();
    args.add(tpm == null ? "" : Long.toString(tpm));
    // A request over the whole limit is refused by the script before its cost matters.
    args.add(tpm == null ? "" : Long.toString(tokens > tpm ? MAX_AHEAD_NANOS : RateLimitRules.cost(tokens, tpm)));
    Integer max = limits.concurrentRequests();
    args.add(max == null ? "" : Integer.toString(max));
  }

  private boolean quiet() {
    return failing.get() && ticker.getAsLong() - quietUntilNanos < 0;
  }

  private Decision admitUnchecked() {
    unchecked.increment();
    return new Admitted(NoopPermit.INSTANCE, Snapshot.NONE);
  }

  private void answered() {
    if (failing.get() && failing.compareAndSet(true, false)) {
      log.info("Redis at {} answers again: rate limits are enforced", redis.display());
    }
  }

  /**
   * Any failure to get an answer (Lettuce's RedisException mostly, but also a client shut down
   * under a request) counts: the caller fails open.
   */
  private void failed(String operation, RuntimeException e) {
    Counter.builder("jevons.rate_limiter.redis_errors")
        .description("Redis commands of the rate limiter that failed or timed out")
        .tag("operation", operation)
        .register(registry)
        .increment();
    quietUntilNanos = ticker.getAsLong() + settings.backoff().toNanos();
    if (failing.compareAndSet(false, true)) {
      // Logged once per outage, at the boundary; requests pass unchecked until Redis answers.
      log.warn("Redis at {} failed ({}: {}): rate limits are NOT enforced until it answers; retrying every {} ms",
          redis.display(), operation, e.getMessage(), settings.backoff().toMillis());
    } else {
      log.debug("Redis {} failed: {}", operation, e.getMessage());
    }
  }

  /** The four keys of one account and key; see the implementation note. */
  private static final class Keys {
    final String accountMeter;
    final String accountInFlight;
    final String keyMeter;
    final String keyInFlight;

    Keys(String prefix, LimitKeys who) {
      String tag = prefix + "{" + who.accountId() + "}:";
      this.accountMeter = tag + "m:a";
      this.accountInFlight = tag + "f:a";
      this.keyMeter = tag + "m:k:" + who.keyId();
      this.keyInFlight = tag + "f:k:" + who.keyId();
    }

    String[] acquire() {
      return new String[] {accountMeter, accountInFlight, keyMeter, keyInFlight};
    }
  }

  /** One admitted request's hold on the shared limits. */
  private final class RedisPermit implements Permit {
    final String id;
    final LimitKeys who;
    private final Keys keys;
    private final @Nullable Long accountTpm;
    private final @Nullable Long keyTpm;
    private final boolean accountSlot;
    private final boolean keySlot;
    private final long estimatedTokens;
    private final AtomicBoolean settled = new AtomicBoolean();
    private final AtomicBoolean released = new AtomicBoolean();

    RedisPermit(String id, LimitKeys who, Keys keys, Limits accountLimits, Limits keyLimits, long estimatedTokens) {
      this.id = id;
      this.who = who;
      this.keys = keys;
      this.accountTpm = accountLimits.tokensPerMinute();
      this.keyTpm = keyLimits.tokensPerMinute();
      this.accountSlot = accountLimits.concurrentRequests() != null;
      this.keySlot = keyLimits.concurrentRequests() != null;
      this.estimatedTokens = estimatedTokens;
    }

    boolean holdsSlots() {
      return accountSlot || keySlot;
    }

    List<String> inFlightSets() {
      List<String> sets = new ArrayList<>(2);
      if (accountSlot) {
        sets.add(keys.accountInFlight);
      }
      if (keySlot) {
        sets.add(keys.keyInFlight);
      }
      return sets;
    }

    @Override
    public void settleTokens(long actualTokens) {
      if (actualTokens < 0) {
        throw new IllegalArgumentException("actualTokens must be >= 0: " + actualTokens);
      }
      if (!settled.compareAndSet(false, true)) {
        return;
      }
      long delta = Math.clamp(actualTokens - estimatedTokens, -Limits.MAX_PER_MINUTE, Limits.MAX_PER_MINUTE);
      if (delta == 0 || (accountTpm == null && keyTpm == null) || quiet()) {
        return;
      }
      List<String> meters = new ArrayList<>(2);
      List<String> args = new ArrayList<>(5);
      addNow(args);
      args.add(meterSlackMillis);
      if (accountTpm != null) {
        meters.add(keys.accountMeter);
        args.add(Long.toString(adjustment(delta, accountTpm)));
      }
      if (keyTpm != null) {
        meters.add(keys.keyMeter);
        args.add(Long.toString(adjustment(delta, keyTpm)));
      }
      try {
        redis.eval(SETTLE, ScriptOutputType.INTEGER, meters.toArray(String[]::new), args.toArray(String[]::new));
        answered();
      } catch (RuntimeException e) {
        failed("settle", e);
      }
    }

    private static long adjustment(long delta, long tpm) {
      return delta > 0
          ? Math.min(RateLimitRules.cost(delta, tpm), MAX_AHEAD_NANOS)
          : -Math.min(RateLimitRules.refund(-delta, tpm), MAX_AHEAD_NANOS);
    }

    @Override
    public void release() {
      if (!released.compareAndSet(false, true) || !holdsSlots()) {
        return;
      }
      live.remove(id);
      // Tried even while Redis is being left alone: a slot not given back stays taken for a lease.
      try {
        redis.eval(RELEASE, ScriptOutputType.INTEGER, inFlightSets().toArray(String[]::new), id);
        answered();
      } catch (RuntimeException e) {
        failed("release", e);
      }
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
