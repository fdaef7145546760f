package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.scheduler.RateLimiter.Permit;
import dev.jevons.scheduler.RateLimiter.Snapshot;
import java.time.Duration;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** The contract in memory, and what only the local limiter does: bounded meters, idle eviction. */
class LocalRateLimiterTest extends RateLimiterContract {

  @Override
  protected RateLimiter newLimiter(LongSupplier nanoTime, Duration concurrencyRetryAfter) {
    return new LocalRateLimiter(nanoTime, 100_000, concurrencyRetryAfter);
  }

  LocalRateLimiter local() {
    return (LocalRateLimiter) limiter;
  }

  @Test
  void durations_are_written_like_openai_writes_them() {
    assertThat(Snapshot.formatDuration(0)).isEqualTo("0s");
    assertThat(Snapshot.formatDuration(1)).isEqualTo("1ms");
    assertThat(Snapshot.formatDuration(17_000_000)).isEqualTo("17ms");
    assertThat(Snapshot.formatDuration(SECOND)).isEqualTo("1s");
    assertThat(Snapshot.formatDuration(1_500_000_000L)).isEqualTo("1.5s");
    assertThat(Snapshot.formatDuration(360 * SECOND)).isEqualTo("6m0s");
    assertThat(Snapshot.formatDuration(3_723_250_000_000L)).isEqualTo("1h2m3.25s");
  }

  @Test
  void idle_tenants_are_forgotten_once_their_limits_are_full_again() {
    for (int i = 0; i < 10_000; i++) {
      admitted(limiter.tryAcquire(new LimitKeys("acct-" + i, "key-" + i), rpm(10), tpm(10_000), 100)).release();
    }
    Permit held = admitted(acquire(rpm(10), concurrent(1), 100));
    assertThat(local().meters()).isEqualTo(20_002);
    advance(60 * SECOND);
    assertThat(local().meters()).as("only the tenant with a request in flight").isEqualTo(2);
    advance(10 * 60 * SECOND);
    assertThat(local().meters()).as("in flight for ten minutes: still counted").isEqualTo(2);
    held.release();
    // Caffeine's timer wheel expires entries in buckets of about a second.
    advance(2 * SECOND);
    assertThat(local().meters()).isZero();
    admitted(acquire(rpm(10), concurrent(1), 100));
  }

  @Test
  void memory_is_bounded_by_the_maximum_even_under_a_flood_of_new_tenants() {
    LocalRateLimiter small = new LocalRateLimiter(now::get, 100, Duration.ofSeconds(1));
    for (int i = 0; i < 5_000; i++) {
      small.tryAcquire(new LimitKeys("acct-" + i, "key-" + i), rpm(10), rpm(10), 0);
    }
    assertThat(small.meters()).isLessThanOrEqualTo(200);
  }

  @Test
  void rejects_out_of_range_limits() {
    assertThatThrownBy(() -> new Limits(0L, null, null)).hasMessageContaining("requests per minute must be in [1, 100000000]");
    assertThatThrownBy(() -> new Limits(null, Limits.MAX_PER_MINUTE + 1, null)).hasMessageContaining("tokens per minute");
    assertThatThrownBy(() -> new Limits(null, null, 0)).hasMessageContaining("concurrent requests");
  }
}
