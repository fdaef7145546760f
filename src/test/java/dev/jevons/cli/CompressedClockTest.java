package dev.jevons.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CompressedClockTest {
  final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  final Instant start = Instant.parse("2025-02-08T00:00:00Z");
  final CompressedClock clock = new CompressedClock(start, 720, nanos::get);

  @Test
  void stands_still_until_it_begins() {
    nanos.addAndGet(5_000_000_000L);
    assertThat(clock.instant()).isEqualTo(start);
    assertThatThrownBy(() -> clock.nanoTimeAt(start)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void a_day_passes_in_two_minutes_at_speed_720() {
    clock.begin();
    nanos.addAndGet(Duration.ofSeconds(120).toNanos());
    assertThat(clock.instant()).isEqualTo(start.plus(Duration.ofDays(1)));
    nanos.addAndGet(Duration.ofSeconds(5).toNanos());
    assertThat(clock.instant()).isEqualTo(Instant.parse("2025-02-09T01:00:00Z"));
  }

  @Test
  void converts_between_demo_and_real_time() {
    assertThat(clock.realTime(Duration.ofHours(1))).isEqualTo(Duration.ofSeconds(5));
    clock.begin();
    long origin = nanos.get();
    assertThat(clock.nanoTimeAt(start.plus(Duration.ofHours(2)))).isEqualTo(origin + Duration.ofSeconds(10).toNanos());
  }

  @Test
  void beginning_twice_keeps_the_first_origin() {
    clock.begin();
    nanos.addAndGet(Duration.ofSeconds(10).toNanos());
    clock.begin();
    assertThat(clock.instant()).isEqualTo(start.plus(Duration.ofHours(2)));
  }

  @Test
  void refuses_a_speed_that_is_not_positive() {
    assertThatThrownBy(() -> new CompressedClock(start, 0, nanos::get)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new CompressedClock(start, Double.POSITIVE_INFINITY, nanos::get)).isInstanceOf(IllegalArgumentException.class);
  }
}
