package dev.jevons.governor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DemandShaperTest {
  static final Instant DAY0 = Instant.parse("2025-02-20T00:00:00Z");

  /** Days of history with requests per hour of day from {@code perHour}, utilization proportional to them. */
  static List<DemandHour> history(int days, double[] perHour) {
    double max = 0;
    for (double v : perHour) {
      max = Math.max(max, v);
    }
    List<DemandHour> out = new ArrayList<>();
    for (int d = 0; d < days; d++) {
      for (int h = 0; h < 24; h++) {
        Instant hour = DAY0.plus(Duration.ofDays(d)).plus(Duration.ofHours(h));
        out.add(new DemandHour(hour, Math.round(perHour[h]), 0, perHour[h] / max * 36_000, 36_000));
      }
    }
    return out;
  }

  /** A day like DeepSeek's: busy 08:00-16:00 UTC (Beijing daytime), quiet 16:00-24:00. */
  static double[] beijingDay() {
    double[] p = new double[24];
    for (int h = 0; h < 24; h++) {
      p[h] = (h >= 0 && h < 16) ? 1000 : 250;
    }
    p[3] = 1200; // the peak
    return p;
  }

  @Test
  void proposes_the_quietest_contiguous_hours_even_across_midnight() {
    double[] p = new double[24];
    java.util.Arrays.fill(p, 1000);
    for (int h : new int[] {20, 21, 22, 23, 0, 1}) {
      p[h] = 100;
    }
    DemandShaper.Proposal proposal = new DemandShaper(new DemandShaper.Settings(6, 0.1, 0.4, 7500)).propose(history(3, p)).orElseThrow();
    assertThat(proposal.startHour()).isEqualTo(20);
    assertThat(proposal.endHour()).isEqualTo(2);
    assertThat(proposal.windowShare()).isCloseTo(600.0 / (600 + 18_000), within(1e-9));
  }

  @Test
  void the_discount_moves_the_target_share_under_the_elasticity_assumption() {
    DemandShaper.Proposal p = new DemandShaper(new DemandShaper.Settings(8, 0.10, 0.4, 7500)).propose(history(7, beijingDay())).orElseThrow();
    assertThat(p.startHour()).isEqualTo(16);
    // Window share: 8 x 250 of 15 x 1000 + 1200 + 8 x 250 = 2000 / 18200.
    double w = 2000.0 / 18_200;
    assertThat(p.windowShare()).isCloseTo(w, within(1e-9));
    // Needed: 0.10 / (0.4 x (1 - w)) = 28.1%, rounded up to 30%.
    assertThat(p.neededDiscountBp()).isEqualTo((int) Math.ceil(0.10 / (0.4 * (1 - w)) * 10_000));
    assertThat(p.discountBp()).isEqualTo(3000);
    assertThat(p.expectedShift()).isCloseTo(0.4 * 0.30 * (1 - w), within(1e-9)).isGreaterThanOrEqualTo(0.10);
    assertThat(p.peakHour()).isEqualTo(3);
    assertThat(p.projectedPeakDemandIndex()).isCloseTo(p.peakDemandIndex() * (1 - 0.4 * 0.30), within(1e-9));
    assertThat(p.revenueEffect()).isCloseTo(-0.30 * (w + p.expectedShift()), within(1e-9));
    assertThat(p.profile()).hasSize(24);
  }

  @Test
  void the_cap_binds_when_the_target_is_out_of_reach_and_says_so() {
    DemandShaper.Proposal p = new DemandShaper(new DemandShaper.Settings(8, 0.5, 0.4, 7500)).propose(history(2, beijingDay())).orElseThrow();
    assertThat(p.discountBp()).isEqualTo(7500);
    assertThat(p.neededDiscountBp()).isGreaterThan(7500);
    assertThat(p.expectedShift()).isLessThan(p.targetShift());
  }

  @Test
  void needs_as_many_hours_of_history_as_the_window_is_long() {
    List<DemandHour> fiveHours = history(1, beijingDay()).subList(0, 5);
    assertThat(new DemandShaper(new DemandShaper.Settings(8, 0.1, 0.4, 7500)).propose(fiveHours)).isEmpty();
    assertThat(new DemandShaper(new DemandShaper.Settings(4, 0.1, 0.4, 7500)).propose(fiveHours)).isPresent();
    assertThat(new DemandShaper(DemandShaper.Settings.defaults()).propose(List.of())).isEmpty();
  }

  @Test
  void a_young_history_proposes_among_the_hours_it_has_seen() {
    // Only 00:00-19:00 of one day: the quiet evening hours are unknown, so the window lies in the day.
    List<DemandHour> partial = history(1, beijingDay()).subList(0, 20);
    DemandShaper.Proposal p = new DemandShaper(new DemandShaper.Settings(4, 0.1, 0.4, 7500)).propose(partial).orElseThrow();
    assertThat(p.startHour()).isEqualTo(16);
    assertThat(p.endHour()).isEqualTo(20);
  }
}
