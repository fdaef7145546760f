package dev.jevons.governor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.MutableClock;
import dev.jevons.scheduler.LoadSignals;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CapacityMonitorTest {
  final MutableClock clock = new MutableClock(Instant.parse("2025-02-08T09:59:50Z"));
  final InMemoryGovernorStore store = new InMemoryGovernorStore();
  final LoadSignals load = new LoadSignals();

  @Test
  void signals_cover_the_last_samples_only() {
    CapacityMonitor monitor = new CapacityMonitor(load, store, clock, 2);
    arrive(100, 50);
    assertThat(monitor.sample().shedRate()).isEqualTo(0.5);
    clock.advance(Duration.ofSeconds(5));
    arrive(100, 0);
    assertThat(monitor.sample().shedRate()).isEqualTo(0.25);
    clock.advance(Duration.ofSeconds(5));
    arrive(100, 0);
    Signals s = monitor.sample();
    assertThat(s.requests()).isEqualTo(200);
    assertThat(s.shedRate()).isZero();
  }

  @Test
  void records_what_happened_in_each_hour_of_the_business_clock() {
    CapacityMonitor monitor = new CapacityMonitor(load, store, clock, 12);
    arrive(30, 3);
    monitor.sample();
    clock.advance(Duration.ofSeconds(20)); // 10:00:10
    arrive(40, 0);
    monitor.sample();
    assertThat(store.hours).hasSize(2);
    assertThat(store.hours.get(Instant.parse("2025-02-08T09:00:00Z")).requests()).isEqualTo(30);
    assertThat(store.hours.get(Instant.parse("2025-02-08T09:00:00Z")).shed()).isEqualTo(3);
    assertThat(store.hours.get(Instant.parse("2025-02-08T10:00:00Z")).requests()).isEqualTo(40);
  }

  @Test
  void queue_waits_and_runway_come_through() {
    CapacityMonitor monitor = new CapacityMonitor(load, store, clock, 12);
    for (int i = 0; i < 20; i++) {
      load.waited(TimeUnit.SECONDS.toNanos(40));
    }
    Signals s = monitor.sample();
    assertThat(s.queueWaitP95Millis()).isBetween(40_000.0, 48_000.0);
    assertThat(s.runwayDays()).isInfinite();
  }

  private void arrive(int n, int shed) {
    for (int i = 0; i < n; i++) {
      load.arrived();
    }
    for (int i = 0; i < shed; i++) {
      load.shed();
    }
  }
}
