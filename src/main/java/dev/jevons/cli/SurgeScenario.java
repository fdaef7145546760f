package dev.jevons.cli;

import dev.jevons.billing.DiscountWindow;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * The script and the demand model of {@code jevons demo --scenario surge}, in demo time. Pure:
 * no I/O, no clock; {@link DemoLoad} turns these rates into real requests.
 *
 * <p><b>Script</b> (after DeepSeek, February 2025; DESIGN.md "Why it exists"): the calendar starts
 * 2025-02-08 00:00 UTC with steady, diurnal demand. At 06:00 the end of the promotional price is
 * announced for 16:00 (the real date and hour), and a rush starts: existing customers use the cheap
 * API far more and buy credit, newcomers sign up and top up; demand rises smoothly to its peak at
 * 12:00 and stays there until the promotion ends. At 16:00 the rush subsides exponentially. At
 * 20:00 the operator asks for an off-peak proposal and applies it; the calendar runs on through
 * the next night to 08:00 so that the discounted night can be compared with the night before.
 *
 * <p><b>Demand</b> is a rate in multiples of the fleet's measured capacity (1.0 = as many requests
 * per second as the fleet completes at full batch), per cohort:
 *
 * <ul>
 *   <li><b>regulars</b>, existing accounts with production workloads: {@link #REGULARS_PEAK} x the
 *       diurnal shape, no rush. These are "existing customers" in the summary.
 *   <li><b>rushers</b>, existing accounts that pile in during the promotion: {@link
 *       #RUSHERS_BASE_PEAK} x the diurnal shape, plus {@link #RUSH_PEAK} x the rush. They also buy
 *       credit during the rush ({@link #RUSHER_TOP_UPS_PER_HOUR}).
 *   <li><b>newcomers</b> sign up during the rush ({@link #SIGNUPS_PER_HOUR} x the rush), start
 *       with no balance, and each sends {@link #NEWCOMER_PEAK} once topped up. Their demand only
 *       exists if the sign-up and top-up gates let them in: this is what the governor controls.
 * </ul>
 *
 * <p>The diurnal shape is {@code 0.6 + 0.4 cos(2 pi (hour - 14) / 24)}: 1.0 at 14:00 UTC, 0.2 at
 * 02:00. With the governor's gates closed early in the rush, the peak is regulars 0.35 + rushers
 * 0.25 + 4.2 + a few newcomers, about 5x capacity.
 *
 * <p><b>Response to an off-peak discount</b> (regulars and rushers; newcomers are not modelled as
 * responding), the governor's own assumption ({@code DemandShaper}, docs/decisions.md): a
 * discount of d (0..1) in a daily window moves a share {@code m = elasticity x d} of the demand
 * outside the window into it, spread evenly over the window's hours; nothing is created or lost.
 * Outside the window the baseline is multiplied by {@code 1 - m}; inside, {@code m x B_out / W} is
 * added, where B_out is a day's baseline outside the window and W the window's length. The
 * elasticity is the one the proposal states unless {@code --elasticity} says otherwise, so the
 * night the demo shows is the night the proposal predicted.
 */
final class SurgeScenario {
  static final Instant START = Instant.parse("2025-02-08T00:00:00Z");
  static final Instant ANNOUNCE = Instant.parse("2025-02-08T06:00:00Z");
  static final Instant RUSH_FULL = Instant.parse("2025-02-08T12:00:00Z");
  /** DeepSeek's promotional chat price ended at this instant (DESIGN.md, reference facts). */
  static final Instant PROMO_END = Instant.parse("2025-02-08T16:00:00Z");
  static final Duration SUBSIDE = Duration.ofMinutes(20);
  static final Instant PROPOSE = Instant.parse("2025-02-08T20:00:00Z");
  static final Instant END = Instant.parse("2025-02-09T08:00:00Z");

  static final double REGULARS_PEAK = 0.35;
  static final double RUSHERS_BASE_PEAK = 0.25;
  static final double RUSH_PEAK = 4.2;
  static final double NEWCOMER_PEAK = 0.02;
  static final double SIGNUPS_PER_HOUR = 20;
  static final double RUSHER_TOP_UPS_PER_HOUR = 12;

  private static final int MINUTES_PER_DAY = 24 * 60;

  /**
   * What customers respond to: the discount windows of the model's price schedule, and the
   * elasticity of their response (share of out-of-window demand a 100% discount moves).
   */
  record Response(List<DiscountWindow> windows, double elasticity) {
    static final Response NONE = new Response(List.of(), 0);

    Response {
      windows = List.copyOf(windows);
      if (!(elasticity >= 0 && elasticity <= 1)) {
        throw new IllegalArgumentException("elasticity must be from 0 to 1: " + elasticity);
      }
    }

    /** The share of the out-of-window demand a discount of {@code discountBp} moves into its window. */
    double movedShare(int discountBp) {
      return Math.min(1, elasticity * discountBp / 10_000.0);
    }
  }

  private SurgeScenario() {}

  /** 1.0 at 14:00 UTC, 0.2 at 02:00, smooth in between. */
  static double diurnal(Instant t) {
    double hour = Math.floorMod(t.getEpochSecond(), 86_400L) / 3600.0;
    return 0.6 + 0.4 * Math.cos(2 * Math.PI * (hour - 14) / 24);
  }

  /** 0 before the announcement, rising smoothly to 1 at full rush, 1 until the promotion ends, then decaying. */
  static double rush(Instant t) {
    if (t.isBefore(ANNOUNCE)) {
      return 0;
    }
    if (t.isBefore(RUSH_FULL)) {
      double x = (double) Duration.between(ANNOUNCE, t).toMillis() / Duration.between(ANNOUNCE, RUSH_FULL).toMillis();
      return x * x * (3 - 2 * x);
    }
    if (t.isBefore(PROMO_END)) {
      return 1;
    }
    return Math.exp(-(double) Duration.between(PROMO_END, t).toMillis() / SUBSIDE.toMillis());
  }

  /** The regulars' demand, multiples of capacity, all regulars together. */
  static double regulars(Instant t, Response response) {
    return REGULARS_PEAK * shaped(t, response);
  }

  /** The rushers' demand, multiples of capacity, all rushers together. */
  static double rushers(Instant t, Response response) {
    return RUSHERS_BASE_PEAK * shaped(t, response) + RUSH_PEAK * rush(t);
  }

  /** One topped-up newcomer's demand, multiples of capacity: mostly rush, a little steady use after it. */
  static double newcomer(Instant t) {
    return NEWCOMER_PEAK * (0.15 * diurnal(t) + 0.85 * rush(t));
  }

  /** Would-be customers arriving at the sign-up page, per demo hour. */
  static double signupsPerHour(Instant t) {
    return t.isBefore(PROMO_END) ? SIGNUPS_PER_HOUR * rush(t) : 0;
  }

  /** Top-ups the rushers attempt, all together, per demo hour: the rush to buy credit before the promotion ends. */
  static double rusherTopUpsPerHour(Instant t) {
    return t.isBefore(PROMO_END) ? RUSHER_TOP_UPS_PER_HOUR * rush(t) : 0;
  }

  /**
   * The diurnal baseline at {@code t} after customers' response to the discount windows in effect:
   * the largest one in effect at {@code t} (as {@link dev.jevons.billing.PriceSchedule} prices it)
   * moves demand from outside its hours into them. The plain {@link #diurnal} when none is in effect.
   */
  static double shaped(Instant t, Response response) {
    DiscountWindow best = null;
    for (DiscountWindow w : response.windows()) {
      if (inEffect(w, t) && (best == null || w.discountBp() > best.discountBp())) {
        best = w;
      }
    }
    double base = diurnal(t);
    if (best == null) {
      return base;
    }
    double moved = response.movedShare(best.discountBp());
    if (best.activeAt(t)) {
      double[] split = baselineSplit(best.start(), best.end());
      return base + moved * split[1] / split[2];
    }
    return base * (1 - moved);
  }

  /** Whether the window exists at t (its effective period), whatever the hour. */
  private static boolean inEffect(DiscountWindow w, Instant t) {
    return (w.effectiveFrom() == null || !t.isBefore(w.effectiveFrom())) && (w.effectiveUntil() == null || t.isBefore(w.effectiveUntil()));
  }

  /**
   * {B_in, B_out, W}: a day's diurnal baseline inside and outside the daily window [start, end),
   * in baseline x minutes, and the window's length in minutes.
   */
  static double[] baselineSplit(LocalTime start, LocalTime end) {
    Instant day = START.truncatedTo(ChronoUnit.DAYS);
    double in = 0;
    double out = 0;
    int minutes = 0;
    DiscountWindow w = new DiscountWindow(start, end, 1, null, null);
    for (int m = 0; m < MINUTES_PER_DAY; m++) {
      Instant t = day.plusSeconds(60L * m + 30);
      double d = diurnal(t);
      if (w.activeAt(t)) {
        in += d;
        minutes++;
      } else {
        out += d;
      }
    }
    return new double[] {in, out, minutes};
  }
}
