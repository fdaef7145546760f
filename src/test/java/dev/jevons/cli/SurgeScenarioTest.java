package dev.jevons.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.jevons.billing.DiscountWindow;
import dev.jevons.governor.DemandHour;
import dev.jevons.governor.DemandShaper;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SurgeScenarioTest {
  static final Instant DAY = SurgeScenario.START;

  static Instant at(String hhmm) {
    return DAY.plus(Duration.between(LocalTime.MIDNIGHT, LocalTime.parse(hhmm)));
  }

  @Test
  void the_diurnal_shape_peaks_in_the_afternoon_and_is_quietest_at_two() {
    assertThat(SurgeScenario.diurnal(at("14:00"))).isCloseTo(1.0, within(1e-9));
    assertThat(SurgeScenario.diurnal(at("02:00"))).isCloseTo(0.2, within(1e-9));
    assertThat(SurgeScenario.diurnal(at("02:00").plus(Duration.ofDays(1)))).isCloseTo(0.2, within(1e-9));
    for (int m = 0; m < 24 * 60; m++) {
      assertThat(SurgeScenario.diurnal(DAY.plusSeconds(60L * m))).isBetween(0.2 - 1e-9, 1.0 + 1e-9);
    }
  }

  @Test
  void the_rush_starts_with_the_announcement_holds_until_the_promotion_ends_then_subsides() {
    assertThat(SurgeScenario.rush(at("05:59"))).isZero();
    assertThat(SurgeScenario.rush(SurgeScenario.ANNOUNCE)).isZero();
    double previous = 0;
    for (Instant t = SurgeScenario.ANNOUNCE; t.isBefore(SurgeScenario.RUSH_FULL); t = t.plus(Duration.ofMinutes(10))) {
      double r = SurgeScenario.rush(t);
      assertThat(r).isGreaterThanOrEqualTo(previous);
      previous = r;
    }
    assertThat(SurgeScenario.rush(SurgeScenario.RUSH_FULL)).isEqualTo(1);
    assertThat(SurgeScenario.rush(SurgeScenario.PROMO_END.minusSeconds(1))).isEqualTo(1);
    assertThat(SurgeScenario.rush(SurgeScenario.PROMO_END.plus(SurgeScenario.SUBSIDE))).isCloseTo(Math.exp(-1), within(1e-9));
    assertThat(SurgeScenario.rush(SurgeScenario.PROPOSE)).isLessThan(0.001);
  }

  @Test
  void the_peak_is_about_five_times_capacity_without_newcomers_and_the_night_is_far_below_it() {
    double peak = SurgeScenario.regulars(at("14:00"), SurgeScenario.Response.NONE) + SurgeScenario.rushers(at("14:00"), SurgeScenario.Response.NONE);
    assertThat(peak).isBetween(4.5, 5.0);
    double night = SurgeScenario.regulars(at("02:00"), SurgeScenario.Response.NONE) + SurgeScenario.rushers(at("02:00"), SurgeScenario.Response.NONE);
    assertThat(night).isLessThan(0.2);
    assertThat(SurgeScenario.signupsPerHour(at("05:00"))).isZero();
    assertThat(SurgeScenario.signupsPerHour(at("13:00"))).isEqualTo(SurgeScenario.SIGNUPS_PER_HOUR);
    assertThat(SurgeScenario.signupsPerHour(SurgeScenario.PROMO_END)).isZero();
  }

  @Test
  void a_discount_moves_demand_into_its_window_without_creating_or_losing_any() {
    DiscountWindow night = new DiscountWindow(LocalTime.of(0, 0), LocalTime.of(6, 0), 3000, DAY, null);
    SurgeScenario.Response response = new SurgeScenario.Response(List.of(night), 0.4);
    double before = 0;
    double after = 0;
    double inBefore = 0;
    double inAfter = 0;
    for (int m = 0; m < 24 * 60; m++) {
      Instant t = DAY.plusSeconds(60L * m + 30);
      before += SurgeScenario.diurnal(t);
      after += SurgeScenario.shaped(t, response);
      if (night.activeAt(t)) {
        inBefore += SurgeScenario.diurnal(t);
        inAfter += SurgeScenario.shaped(t, response);
      }
    }
    assertThat(after).isCloseTo(before, within(1e-6 * before));
    // 30% off at elasticity 0.4 moves 12% of the demand outside the window.
    assertThat(inAfter - inBefore).isCloseTo(0.12 * (before - inBefore), within(1e-6 * before));
    // Spread evenly: every minute of the window gains the same.
    assertThat(SurgeScenario.shaped(at("00:30"), response) - SurgeScenario.diurnal(at("00:30")))
        .isCloseTo(SurgeScenario.shaped(at("05:30"), response) - SurgeScenario.diurnal(at("05:30")), within(1e-9));
    assertThat(SurgeScenario.shaped(at("12:00"), response)).isCloseTo(0.88 * SurgeScenario.diurnal(at("12:00")), within(1e-9));
  }

  @Test
  void a_window_not_yet_in_effect_changes_nothing() {
    DiscountWindow later = new DiscountWindow(LocalTime.of(0, 0), LocalTime.of(6, 0), 5000, DAY.plus(Duration.ofDays(1)), null);
    SurgeScenario.Response response = new SurgeScenario.Response(List.of(later), 0.4);
    assertThat(SurgeScenario.shaped(at("03:00"), response)).isEqualTo(SurgeScenario.diurnal(at("03:00")));
    assertThat(SurgeScenario.shaped(at("03:00").plus(Duration.ofDays(1)), response)).isGreaterThan(SurgeScenario.diurnal(at("03:00")));
  }

  @Test
  void customers_move_the_share_of_demand_the_governors_proposal_expects() {
    // A day of history whose requests per hour follow the scenario's baseline, as the governor records it.
    List<DemandHour> history = new ArrayList<>();
    for (int h = 0; h < 24; h++) {
      double requests = 0;
      for (int m = 0; m < 60; m++) {
        requests += SurgeScenario.diurnal(DAY.plusSeconds(3600L * h + 60L * m + 30));
      }
      history.add(new DemandHour(DAY.plus(Duration.ofHours(h)), Math.round(requests * 100), 0, 1800, 3600));
    }
    DemandShaper.Proposal p = new DemandShaper(new DemandShaper.Settings(6, 0.10, 0.4, 7_500)).propose(history).orElseThrow();
    DiscountWindow window = new DiscountWindow(LocalTime.of(p.startHour(), 0), LocalTime.of(p.endHour(), 0), p.discountBp(), null, null);
    SurgeScenario.Response response = new SurgeScenario.Response(List.of(window), p.elasticity());
    double total = 0;
    double moved = 0;
    for (int m = 0; m < 24 * 60; m++) {
      Instant t = DAY.plusSeconds(60L * m + 30);
      total += SurgeScenario.diurnal(t);
      if (window.activeAt(t)) {
        moved += SurgeScenario.shaped(t, response) - SurgeScenario.diurnal(t);
      }
    }
    assertThat(p.startHour()).isEqualTo(23);
    assertThat(moved / total).isCloseTo(p.expectedShift(), within(0.002));
  }
}
