package dev.jevons.governor;

import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;

/**
 * Proposes an off-peak discount window from the hourly demand history: the quietest contiguous
 * hours of the day, and the discount that would move a target share of all demand into them.
 *
 * <p><b>The elasticity assumption</b> (documented in README and docs/decisions.md): a discount of
 * {@code d} (a fraction: 0.5 is 50% off) moves {@code elasticity * d} of the demand that falls
 * outside the window into it, spread evenly over the window's hours; demand inside the window
 * stays where it is, and no demand is created or lost. So moving a share {@code s} of all demand
 * needs {@code d = s / (elasticity * (1 - w))}, where {@code w} is the window's current share. The
 * default elasticity 0.4 means 50% off moves a fifth of the out-of-window demand, in line with
 * DeepSeek's experience that half-price nights shifted a visible but minority share of traffic.
 * It is an assumption, not a measurement: the evidence shows the inputs so an operator can judge.
 *
 * <p>Discounts are rounded up to whole 5% steps and capped at {@code maxDiscountBp}; when the cap
 * binds, the proposal says how much of the target it reaches. Windows consist only of hours that
 * have history, so a young history proposes among what it has seen.
 */
public final class DemandShaper {
  static final int STEP_BP = 500;

  /** Tunables; see the class comment for the model they feed. */
  public record Settings(int windowHours, double targetShift, double elasticity, int maxDiscountBp) {
    public Settings {
      if (windowHours < 1 || windowHours > 23) {
        throw new IllegalArgumentException("window hours must be 1 to 23; got " + windowHours);
      }
      if (!(targetShift > 0 && targetShift < 1)) {
        throw new IllegalArgumentException("target shift must be between 0 and 1; got " + targetShift);
      }
      if (!(elasticity > 0 && elasticity <= 1)) {
        throw new IllegalArgumentException("elasticity must be in (0, 1]; got " + elasticity);
      }
      if (maxDiscountBp < STEP_BP || maxDiscountBp > 10_000) {
        throw new IllegalArgumentException("max discount must be " + STEP_BP + " to 10000 bp; got " + maxDiscountBp);
      }
    }

    public static Settings defaults() {
      return new Settings(8, 0.10, 0.4, 7_500);
    }
  }

  /** One hour of the day, averaged over the days of history that have it. */
  public record HourProfile(int hourOfDay, int days, double requests, double share, double utilization, double demandIndex) {}

  /**
   * A proposal with its evidence.
   *
   * @param startHour first hour of the window (UTC, inclusive); the window ends at
   *     {@code (startHour + hours) % 24}
   * @param windowShare share of all demand that already falls in the window
   * @param expectedShift share of all demand the discount is expected to move into the window
   * @param neededDiscountBp the discount the target would need, before rounding and the cap
   * @param revenueEffect expected change of revenue as a share of today's (negative: a cost),
   *     assuming revenue proportional to requests at one price
   */
  public record Proposal(
      int startHour,
      int hours,
      int discountBp,
      int neededDiscountBp,
      double windowShare,
      double expectedShift,
      double targetShift,
      double elasticity,
      int peakHour,
      double peakDemandIndex,
      double projectedPeakDemandIndex,
      double revenueEffect,
      int historyHours,
      List<HourProfile> profile) {

    public int endHour() {
      return (startHour + hours) % 24;
    }
  }

  private final Settings settings;

  public DemandShaper(Settings settings) {
    this.settings = settings;
  }

  public Settings settings() {
    return settings;
  }

  /** Empty when the history has fewer hours of the day than the window needs. */
  public Optional<Proposal> propose(List<DemandHour> history) {
    double[] requests = new double[24];
    double[] utilization = new double[24];
    double[] demandIndex = new double[24];
    int[] days = new int[24];
    for (DemandHour h : history) {
      int hod = h.hour().atZone(ZoneOffset.UTC).getHour();
      days[hod]++;
      requests[hod] += h.requests();
      utilization[hod] += h.utilization();
      demandIndex[hod] += h.demandIndex();
    }
    double total = 0;
    for (int i = 0; i < 24; i++) {
      if (days[i] > 0) {
        requests[i] /= days[i];
        utilization[i] /= days[i];
        demandIndex[i] /= days[i];
        total += requests[i];
      }
    }
    int window = settings.windowHours();
    int best = -1;
    double bestShare = Double.POSITIVE_INFINITY;
    for (int start = 0; start < 24; start++) {
      double share = 0;
      boolean complete = true;
      for (int k = 0; k < window; k++) {
        int h = (start + k) % 24;
        if (days[h] == 0) {
          complete = false;
          break;
        }
        share += total > 0 ? requests[h] / total : 0;
      }
      // Ties go to the earliest start, so the answer is deterministic.
      if (complete && share < bestShare - 1e-12) {
        best = start;
        bestShare = share;
      }
    }
    if (best < 0 || total <= 0) {
      return Optional.empty();
    }
    double outside = 1 - bestShare;
    double needed = settings.targetShift() / (settings.elasticity() * Math.max(outside, 1e-9));
    int neededBp = (int) Math.min(10_000, Math.ceil(needed * 10_000));
    int discountBp = Math.min(settings.maxDiscountBp(), Math.max(STEP_BP, ((neededBp + STEP_BP - 1) / STEP_BP) * STEP_BP));
    double d = discountBp / 10_000.0;
    double moved = settings.elasticity() * d; // of each out-of-window hour's demand
    double expectedShift = moved * outside;

    List<HourProfile> profile = new java.util.ArrayList<>();
    int peakHour = -1;
    double peak = -1;
    double projectedPeak = 0;
    for (int h = 0; h < 24; h++) {
      if (days[h] == 0) {
        continue;
      }
      profile.add(new HourProfile(h, days[h], requests[h], requests[h] / total, utilization[h], demandIndex[h]));
      if (demandIndex[h] > peak) {
        peak = demandIndex[h];
        peakHour = h;
      }
      boolean inWindow = Math.floorMod(h - best, 24) < window;
      double factor = inWindow
          ? (requests[h] + expectedShift * total / window) / Math.max(requests[h], 1e-9)
          : 1 - moved;
      projectedPeak = Math.max(projectedPeak, demandIndex[h] * (inWindow && requests[h] <= 0 ? 1 : factor));
    }
    // Every request in the window pays d less: those already there and those that moved.
    double revenueEffect = -d * (bestShare + expectedShift);
    return Optional.of(new Proposal(
        best, window, discountBp, neededBp, bestShare, expectedShift, settings.targetShift(), settings.elasticity(),
        peakHour, peak, projectedPeak, revenueEffect, history.size(), profile));
  }

  /** The hours of history a proposal looks at: the last {@code days} whole days before {@code now}. */
  public static Instant historyStart(Instant now, int days) {
    return now.truncatedTo(java.time.temporal.ChronoUnit.HOURS).minus(java.time.Duration.ofDays(days));
  }
}
