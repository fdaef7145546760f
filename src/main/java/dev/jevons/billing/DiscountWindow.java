package dev.jevons.billing;

import java.time.Instant;
import java.time.LocalTime;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A daily discount, in UTC: from {@code start} (inclusive) to {@code end} (exclusive) of every
 * day, {@code discountBp} basis points off (5000 = 50% off, 10000 = free). When {@code end} is
 * before {@code start} the window crosses midnight: 16:30-00:30 covers 16:30:00.000 to 23:59:59.999
 * and 00:00:00.000 to 00:29:59.999. The window exists only from {@code effectiveFrom} (inclusive)
 * until {@code effectiveUntil} (exclusive), each open when null. Times are whole seconds.
 *
 * <p>Only the request's arrival instant is checked: a request that arrives at 00:29:59 pays the
 * discounted price for all of its tokens, one arriving at 00:30:00 none of them.
 */
public record DiscountWindow(
    LocalTime start, LocalTime end, int discountBp, @Nullable Instant effectiveFrom, @Nullable Instant effectiveUntil) {

  public static final int MAX_DISCOUNT_BP = 10_000;
  private static final long MILLIS_PER_DAY = 86_400_000L;

  public DiscountWindow {
    Objects.requireNonNull(start, "start");
    Objects.requireNonNull(end, "end");
    if (start.getNano() != 0) {
      throw new InvalidPriceException("start", "window start must be whole seconds; got " + start + ".");
    }
    if (end.getNano() != 0) {
      throw new InvalidPriceException("end", "window end must be whole seconds; got " + end + ".");
    }
    if (start.equals(end)) {
      throw new InvalidPriceException("end", "window start and end are both " + start + "; a window must not be empty.");
    }
    if (discountBp < 1 || discountBp > MAX_DISCOUNT_BP) {
      throw new InvalidPriceException(
          "discount_bp", "discount_bp must be from 1 to " + MAX_DISCOUNT_BP + " (basis points off); got " + discountBp + ".");
    }
    if (effectiveFrom != null && effectiveUntil != null && !effectiveUntil.isAfter(effectiveFrom)) {
      throw new InvalidPriceException(
          "effective_until", "window effective_until " + effectiveUntil + " must be after effective_from " + effectiveFrom + ".");
    }
  }

  public boolean activeAt(Instant at) {
    if (effectiveFrom != null && at.isBefore(effectiveFrom)) {
      return false;
    }
    if (effectiveUntil != null && !at.isBefore(effectiveUntil)) {
      return false;
    }
    long millisOfDay = Math.floorMod(at.toEpochMilli(), MILLIS_PER_DAY);
    long from = start.toSecondOfDay() * 1000L;
    long to = end.toSecondOfDay() * 1000L;
    return from < to ? millisOfDay >= from && millisOfDay < to : millisOfDay >= from || millisOfDay < to;
  }

  /** "16:30", or "16:30:15" when the seconds are not zero. */
  public static String format(LocalTime time) {
    String hhmm = String.format(Locale.ROOT, "%02d:%02d", time.getHour(), time.getMinute());
    return time.getSecond() == 0 ? hhmm : hhmm + String.format(Locale.ROOT, ":%02d", time.getSecond());
  }
}
