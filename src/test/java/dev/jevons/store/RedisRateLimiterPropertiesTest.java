package dev.jevons.store;

import dev.jevons.scheduler.LimitKeys;
import dev.jevons.scheduler.RateLimiterPropertiesTest;
import dev.jevons.scheduler.RateLimiterPropertiesTest.Step;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The Redis limiter against the same reference token bucket as the local one: its Lua arithmetic
 * (TATs as seconds and nanos, doubles) must agree with exact long arithmetic to the nano.
 */
class RedisRateLimiterPropertiesTest {

  @Provide
  Arbitrary<Long> limits() {
    return RateLimiterPropertiesTest.tokenLimits();
  }

  @Provide
  Arbitrary<List<Step>> steps() {
    return RateLimiterPropertiesTest.stepLists(60);
  }

  @Property(tries = 100)
  void admits_exactly_what_a_token_bucket_admits(@ForAll("limits") long tpm, @ForAll("steps") List<Step> steps) {
    String prefix = TestRedis.uniquePrefix();
    ScheduledExecutorService renewals = Executors.newSingleThreadScheduledExecutor();
    // Near the present in nanos since 1970, where a double could not hold the TAT exactly.
    AtomicLong now = new AtomicLong(1_764_000_000_123_456_789L);
    try (RedisRateLimiter limiter =
        new RedisRateLimiter(
            TestRedis.redis(),
            RedisRateLimiter.Settings.defaults(prefix),
            now::get,
            System::nanoTime,
            renewals,
            new SimpleMeterRegistry())) {
      RateLimiterPropertiesTest.assertAdmitsLikeATokenBucket(limiter, now, new LimitKeys("a", "k"), tpm, steps);
    } finally {
      renewals.shutdownNow();
      TestRedis.deleteAll(prefix);
    }
  }
}
