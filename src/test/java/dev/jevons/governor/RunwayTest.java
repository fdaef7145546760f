package dev.jevons.governor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RunwayTest {
  static final Instant DAY0 = Instant.parse("2025-02-01T00:00:00Z");

  /** One day of hours whose peak hour has the given utilization and shed share. */
  static List<DemandHour> day(int index, double peakUtilization, double peakShed) {
    List<DemandHour> out = new ArrayList<>();
    for (int h = 0; h < 24; h++) {
      Instant hour = DAY0.plus(Duration.ofDays(index)).plus(Duration.ofHours(h));
      boolean peak = h == 14;
      double util = peak ? peakUtilization : peakUtilization / 3;
      long shed = peak ? Math.round(1000 * peakShed) : 0;
      out.add(new DemandHour(hour, 1000, shed, util * 3600 * 10, 3600 * 10));
    }
    return out;
  }

  @Test
  void projects_the_days_until_the_peak_trend_reaches_capacity() {
    List<DemandHour> history = new ArrayList<>();
    // Peak demand index 0.5, 0.6, 0.7, 0.8: +0.1 a day, so 1.0 is two days after day 3.
    for (int d = 0; d < 4; d++) {
      history.addAll(day(d, 0.5 + 0.1 * d, 0));
    }
    double days = Runway.days(history, DAY0.plus(Duration.ofDays(3)));
    assertThat(days).isCloseTo(2.0, within(1e-6));
  }

  @Test
  void is_unbounded_without_enough_history_or_without_growth() {
    List<DemandHour> two = new ArrayList<>(day(0, 0.5, 0));
    two.addAll(day(1, 0.9, 0));
    assertThat(Runway.days(two, DAY0.plus(Duration.ofDays(1)))).isInfinite();
    List<DemandHour> flat = new ArrayList<>();
    for (int d = 0; d < 5; d++) {
      flat.addAll(day(d, 0.7, 0));
    }
    assertThat(Runway.days(flat, DAY0.plus(Duration.ofDays(5)))).isInfinite();
  }

  @Test
  void is_zero_when_demand_already_exceeds_capacity() {
    List<DemandHour> history = new ArrayList<>();
    for (int d = 0; d < 3; d++) {
      // A full fleet that shed 40% at the peak: demand index 1 / 0.6 = 1.67.
      history.addAll(day(d, 1.0, 0.4));
    }
    assertThat(Runway.days(history, DAY0.plus(Duration.ofDays(3)))).isZero();
  }

  @Test
  void the_demand_index_scales_utilization_by_what_was_shed() {
    assertThat(new DemandHour(DAY0, 100, 50, 3600, 3600).demandIndex()).isCloseTo(2.0, within(1e-9));
    assertThat(new DemandHour(DAY0, 100, 0, 1800, 3600).demandIndex()).isCloseTo(0.5, within(1e-9));
    assertThat(new DemandHour(DAY0, 100, 100, 3600, 3600).demandIndex()).isEqualTo(DemandHour.MAX_DEMAND_INDEX);
    assertThat(new DemandHour(DAY0, 0, 0, 0, 0).demandIndex()).isZero();
  }
}
