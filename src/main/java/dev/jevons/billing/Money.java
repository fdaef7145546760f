package dev.jevons.billing;

import java.util.regex.Pattern;

/**
 * An exact amount of US dollars, held as a {@code long} count of nanos (10^-9 USD). No floating
 * point touches money: amounts are parsed from and printed as decimal strings, and arithmetic is
 * exact ({@link Math#addExact}); an overflow is an {@link ArithmeticException}, never a wrap.
 *
 * <p>A long of nanos reaches about +/-9.2 billion USD, far beyond any balance or price here.
 *
 * <p>The decimal form keeps the full precision of the ledger and drops only zeros beyond the
 * second decimal: "12.50", "0.000000028", "0.00", "-1.25". {@link #parse} accepts any decimal
 * with at most nine fractional digits, so {@code parse(m.toDecimalString())} is {@code m}.
 */
public record Money(long nanos) implements Comparable<Money> {

  public static final String CURRENCY = "USD";
  public static final int SCALE = 9;
  public static final long NANOS_PER_UNIT = 1_000_000_000L;
  public static final Money ZERO = new Money(0);

  /** Digits only, an optional leading minus, at most nine decimals; no exponent, no spaces. */
  private static final Pattern DECIMAL = Pattern.compile("-?[0-9]{1,19}(\\.[0-9]{1," + SCALE + "})?");

  public static Money ofNanos(long nanos) {
    return new Money(nanos);
  }

  /**
   * Parses a decimal string such as "12.50" or "0.000000028".
   *
   * @throws IllegalArgumentException naming the value when it is not such a string, has more than
   *     nine decimals, or does not fit
   */
  public static Money parse(String decimal) {
    if (decimal == null || !DECIMAL.matcher(decimal).matches()) {
      throw new IllegalArgumentException(
          "not a decimal amount with at most " + SCALE + " decimals: '" + decimal + "'");
    }
    boolean negative = decimal.startsWith("-");
    String digits = negative ? decimal.substring(1) : decimal;
    int dot = digits.indexOf('.');
    String whole = dot < 0 ? digits : digits.substring(0, dot);
    String fraction = dot < 0 ? "" : digits.substring(dot + 1);
    try {
      long wholeNanos = Math.multiplyExact(Long.parseLong(whole), NANOS_PER_UNIT);
      long fractionNanos = fraction.isEmpty() ? 0 : Long.parseLong(fraction + "0".repeat(SCALE - fraction.length()));
      // Built on the negative side for negative amounts, so the most negative long parses too.
      return new Money(
          negative
              ? Math.subtractExact(Math.negateExact(wholeNanos), fractionNanos)
              : Math.addExact(wholeNanos, fractionNanos));
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("amount out of range: '" + decimal + "'", e);
    }
  }

  public String currency() {
    return CURRENCY;
  }

  public Money plus(Money other) {
    return new Money(Math.addExact(nanos, other.nanos));
  }

  public Money minus(Money other) {
    return new Money(Math.subtractExact(nanos, other.nanos));
  }

  public boolean isNegative() {
    return nanos < 0;
  }

  public String toDecimalString() {
    // The unsigned string of the negated value is right even for Long.MIN_VALUE.
    String digits = nanos < 0 ? Long.toUnsignedString(-nanos) : Long.toString(nanos);
    if (digits.length() <= SCALE) {
      digits = "0".repeat(SCALE + 1 - digits.length()) + digits;
    }
    int point = digits.length() - SCALE;
    String fraction = digits.substring(point);
    int keep = fraction.length();
    while (keep > 2 && fraction.charAt(keep - 1) == '0') {
      keep--;
    }
    return (nanos < 0 ? "-" : "") + digits.substring(0, point) + "." + fraction.substring(0, keep);
  }

  @Override
  public String toString() {
    return toDecimalString();
  }

  @Override
  public int compareTo(Money other) {
    return Long.compare(nanos, other.nanos);
  }
}
