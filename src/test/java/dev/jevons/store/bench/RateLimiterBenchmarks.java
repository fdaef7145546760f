package dev.jevons.store.bench;

import dev.jevons.scheduler.LimitKeys;
import dev.jevons.scheduler.Limits;
import dev.jevons.scheduler.LocalRateLimiter;
import dev.jevons.scheduler.RateLimiter;
import dev.jevons.store.Redis;
import dev.jevons.store.RedisRateLimiter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What a request's rate-limit work costs, in memory and through Redis (JEVONS_BENCH_REDIS_URL,
 * default redis://127.0.0.1:6379/0): one op is what the gateway does per request, tryAcquire,
 * settleTokens with a different count, release, on limits that never refuse, round robin over
 * 1,000 accounts with one key each. Not a test: surefire never runs it; see docs/BENCHMARKS.md,
 * "Rate limiter cost".
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
public class RateLimiterBenchmarks {
  static final int ACCOUNTS = 1_000;
  static final Limits GENEROUS = new Limits(Limits.MAX_PER_MINUTE, Limits.MAX_PER_MINUTE, Limits.MAX_CONCURRENT);

  /** local; redis (every limit: three round trips); redis_rates (no concurrency limit: two). */
  @Param({"local", "redis", "redis_rates"})
  public String limiter;

  RateLimiter subject;
  Limits limits;
  Redis redis;
  ScheduledExecutorService renewals;
  final LimitKeys[] who = new LimitKeys[ACCOUNTS];
  final AtomicInteger next = new AtomicInteger();

  @Setup(Level.Trial)
  public void setUp() {
    for (int i = 0; i < ACCOUNTS; i++) {
      who[i] = new LimitKeys("bench-acct-" + i, "bench-key-" + i);
    }
    limits = limiter.equals("redis_rates") ? new Limits(Limits.MAX_PER_MINUTE, Limits.MAX_PER_MINUTE, null) : GENEROUS;
    if (limiter.equals("local")) {
      subject = new LocalRateLimiter(System::nanoTime, 1_000_000, Duration.ofSeconds(1));
      return;
    }
    String url = System.getenv().getOrDefault("JEVONS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0");
    redis = Redis.connect(url, Duration.ofSeconds(1));
    renewals = Executors.newSingleThreadScheduledExecutor();
    subject =
        new RedisRateLimiter(
            redis, RedisRateLimiter.Settings.defaults("jevons-bench:"), null, System::nanoTime, renewals, new SimpleMeterRegistry());
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    if (redis != null) {
      ((RedisRateLimiter) subject).close();
      renewals.shutdownNow();
      redis.close();
    }
  }

  @Benchmark
  public Object acquireSettleRelease() {
    LimitKeys k = who[Math.floorMod(next.getAndIncrement(), ACCOUNTS)];
    RateLimiter.Decision d = subject.tryAcquire(k, limits, limits, 1_000);
    if (d instanceof RateLimiter.Admitted a) {
      a.permit().settleTokens(400);
      a.permit().release();
    }
    return d;
  }
}
