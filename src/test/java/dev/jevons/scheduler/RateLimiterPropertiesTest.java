package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.scheduler.RateLimiter.Admitted;
import dev.jevons.scheduler.RateLimiter.Decision;
import dev.jevons.scheduler.RateLimiter.Rejected;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The limiter against a reference token bucket in exact integer arithmetic: same decisions, same
 * remaining counts, retry-after exact, on random arrivals, estimates and settlements. The check
 * is public so the Redis limiter runs it too.
 */
public class RateLimiterPropertiesTest {
  static final long W = RateLimitRules.WINDOW_NANOS;

  public record Step(long gapNanos, long estimateTokens, long actualTokens) {}

  /** Capacity L*W "scaled tokens"; one token costs W; time refills L per nano. */
  static final class ReferenceBucket {
    final long limit;
    long level;

    ReferenceBucket(long limit) {
      this.limit = limit;
      this.level = limit * W;
    }

    void elapse(long nanos) {
      level = Math.min(limit * W, level + nanos * limit);
    }

    boolean fits(long tokens) {
      return level >= tokens * W;
    }

    long remaining() {
      return Math.max(0, level) / W;
    }

    long waitNanos(long tokens) {
      return Math.ceilDiv(tokens * W - level, limit);
    }
  }

  @Provide
  Arbitrary<Long> limits() {
    return tokenLimits();
  }

  @Provide
  Arbitrary<List<Step>> steps() {
    return stepLists(200);
  }

  public static Arbitrary<Long> tokenLimits() {
    // Divisors of the window, so one token's cost is a whole number of nanos and the comparison
    // with the reference is exact.
    return Arbitraries.of(1L, 2L, 3L, 5L, 6L, 10L, 60L, 100L, 1_000L, 6_000L, 100_000L);
  }

  public static Arbitrary<List<Step>> stepLists(int maxSize) {
    Arbitrary<Long> gaps = Arbitraries.oneOf(
        Arbitraries.just(0L), Arbitraries.longs().between(1, 1_000_000), Arbitraries.longs().between(1, 90 * 1_000_000_000L));
    Arbitrary<Long> estimates = Arbitraries.longs().between(0, 2_000);
    Arbitrary<Long> actuals = Arbitraries.longs().between(0, 3_000);
    return Combinators.combine(gaps, estimates, actuals).as(Step::new).list().ofMaxSize(maxSize);
  }

  @Property(tries = 300)
  void admits_exactly_what_a_token_bucket_admits(@ForAll("limits") long tpm, @ForAll("steps") List<Step> steps) {
    AtomicLong now = new AtomicLong(123_456_789L);
    LocalRateLimiter limiter = new LocalRateLimiter(now::get, 1_000, Duration.ofSeconds(1));
    assertAdmitsLikeATokenBucket(limiter, now, new LimitKeys("a", "k"), tpm, steps);
  }

  /** Drives {@code limiter}, whose clock is {@code now}, through {@code steps} beside the reference. */
  public static void assertAdmitsLikeATokenBucket(RateLimiter limiter, AtomicLong now, LimitKeys who, long tpm, List<Step> steps) {
    Limits limits = new Limits(null, tpm, null);
    ReferenceBucket ref = new ReferenceBucket(tpm);

    for (Step step : steps) {
      now.addAndGet(step.gapNanos());
      ref.elapse(step.gapNanos());
      Decision d = limiter.tryAcquire(who, limits, Limits.UNLIMITED, step.estimateTokens());
      boolean expectAdmit = step.estimateTokens() <= tpm && ref.fits(step.estimateTokens());
      assertThat(d instanceof Admitted).as("%s with %d left of %d", step, ref.remaining(), tpm).isEqualTo(expectAdmit);
      if (d instanceof Admitted a) {
        ref.level -= step.estimateTokens() * W;
        a.permit().settleTokens(step.actualTokens());
        long delta = step.actualTokens() - step.estimateTokens();
        ref.level = delta > 0 ? Math.min(ref.level, tpm * W) - delta * W : Math.min(tpm * W, ref.level - delta * W);
        a.permit().release();
      } else if (d instanceof Rejected r && !r.neverFits()) {
        assertThat(r.retryAfterNanos()).isEqualTo(ref.waitNanos(step.estimateTokens()));
        assertThat(r.remaining()).isEqualTo(ref.remaining());
      }
      assertThat(limiter.snapshot(who, limits, Limits.UNLIMITED).tokens().remaining()).isEqualTo(ref.remaining());
    }
  }
}
