package dev.jevons.governor;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.TreeMap;

/**
 * The capacity runway: days until the demand trend reaches the fleet's capacity, from a straight
 * line through each day's peak hourly demand index (least squares). Deliberately simple until the
 * planner forecasts properly: no seasonality, no weekly cycle. Fewer than {@link #MIN_DAYS} days
 * of history, or a flat or falling trend, give an unbounded runway; a trend already at or above
 * capacity today gives 0.
 */
public final class Runway {
  static final int MIN_DAYS = 3;

  private Runway() {}

  public static double days(List<DemandHour> history, Instant now) {
    TreeMap<Long, Double> peakByDay = new TreeMap<>();
    for (DemandHour h : history) {
      if (h.slotSeconds() <= 0) {
        continue;
      }
      long day = h.hour().truncatedTo(ChronoUnit.DAYS).getEpochSecond() / 86_400;
      peakByDay.merge(day, h.demandIndex(), Math::max);
    }
    int n = peakByDay.size();
    if (n < MIN_DAYS) {
      return Double.POSITIVE_INFINITY;
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    long first = peakByDay.firstKey();
    for (var e : peakByDay.entrySet()) {
      double x = e.getKey() - first;
      double y = e.getValue();
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    double denominator = n * sxx - sx * sx;
    if (denominator == 0) {
      return Double.POSITIVE_INFINITY;
    }
    double slope = (n * sxy - sx * sy) / denominator;
    double intercept = (sy - slope * sx) / n;
    double today = now.getEpochSecond() / 86_400.0 - first;
    double level = intercept + slope * today;
    if (level >= 1) {
      return 0;
    }
    if (slope <= 1e-9) {
      return Double.POSITIVE_INFINITY;
    }
    return (1 - level) / slope;
  }
}
