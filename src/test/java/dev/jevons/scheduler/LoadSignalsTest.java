package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LoadSignalsTest {
  static final long SEC = TimeUnit.SECONDS.toNanos(1);

  record FakeServer(int inFlight, int maxConcurrency) implements Server {
    @Override public String name() { return "s"; }
    @Override public Set<String> models() { return Set.of("m"); }
    @Override public boolean hasRoom(long nowNanos) { return inFlight < maxConcurrency; }
    @Override public boolean tryAcquire(long nowNanos) { return false; }
    @Override public void release() {}
    @Override public double load() { return inFlight; }
    @Override public double prefillTokensPerSecond() { return 1; }
    @Override public boolean saturated(long nowNanos) { return false; }
  }

  @Test
  void a_window_is_the_difference_of_two_snapshots() {
    LoadSignals s = new LoadSignals();
    for (int i = 0; i < 10; i++) {
      s.arrived();
    }
    s.shed();
    LoadSignals.Totals before = s.totals();
    for (int i = 0; i < 20; i++) {
      s.arrived();
    }
    for (int i = 0; i < 5; i++) {
      s.shed();
    }
    LoadSignals.Totals window = s.totals().minus(before);
    assertThat(window.arrivals()).isEqualTo(20);
    assertThat(window.shed()).isEqualTo(5);
    assertThat(window.shedRate()).isEqualTo(0.25);
  }

  @Test
  void the_p95_wait_errs_high_by_less_than_a_fifth() {
    LoadSignals s = new LoadSignals();
    for (int i = 1; i <= 100; i++) {
      s.waited(TimeUnit.MILLISECONDS.toNanos(i * 100L));
    }
    double p95 = s.totals().waitMillisAt(0.95);
    assertThat(p95).isBetween(9_500.0, 9_500 * 1.19);
    assertThat(s.totals().waits()).isEqualTo(100);
    assertThat(LoadSignals.Totals.ZERO.waitMillisAt(0.95)).isZero();
  }

  @Test
  void utilization_weighs_each_moment_by_the_busy_share_of_slots() {
    LoadSignals s = new LoadSignals();
    s.sampleOccupancy(List.of(new FakeServer(4, 4), new FakeServer(0, 4)), 0);
    // 10 s at 4 of 8 slots busy, then 10 s at 8 of 8 (a replica over its limit counts as full).
    s.sampleOccupancy(List.of(new FakeServer(4, 4), new FakeServer(0, 4)), 10 * SEC);
    s.sampleOccupancy(List.of(new FakeServer(4, 4), new FakeServer(9, 4)), 20 * SEC);
    assertThat(s.totals().utilization()).isCloseTo(0.75, within(1e-9));
  }
}
