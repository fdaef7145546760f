package dev.jevons.billing;

import java.math.BigInteger;
import java.time.Instant;
import java.util.Objects;

/**
 * The price a request pays, fixed when it arrives: the price version in force at {@code at} and
 * the discount of the windows open at that instant. The request carries its quote to settlement,
 * so a price change or a window closing mid-request does not alter what it pays.
 *
 * <h2>The rounding rule</h2>
 *
 * With prices P in nanos per 1M tokens and the discount d in basis points, the cost of a request
 * in nanos is
 *
 * <pre>
 *   cost = ceil( (hit * P_hit + miss * P_miss + out * P_out) * (10000 - d) / (10^6 * 10000) )
 * </pre>
 *
 * computed exactly (in longs, or BigInteger where a long would overflow) with a single rounding
 * per request, upward. A request is thus
 * never under-charged and over-charged by less than one nano (10^-9 USD). Examples: 1 token at
 * $0.028/1M costs exactly 28 nanos; 1 output token at $2.19/1M with 75% off costs ceil(547.5) = 548
 * nanos. Rounding each token kind separately, or per chunk, would give different totals; do not.
 */
public record Quote(String model, String priceVersionId, Prices prices, int discountBp, Instant at) {

  private static final long LONG_DENOMINATOR = Math.multiplyExact((long) Prices.TOKENS_PER_PRICE_UNIT, (long) DiscountWindow.MAX_DISCOUNT_BP);
  private static final BigInteger DENOMINATOR = BigInteger.valueOf(LONG_DENOMINATOR);

  public Quote {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(priceVersionId, "priceVersionId");
    Objects.requireNonNull(prices, "prices");
    Objects.requireNonNull(at, "at");
    if (discountBp < 0 || discountBp > DiscountWindow.MAX_DISCOUNT_BP) {
      throw new IllegalArgumentException("discountBp must be from 0 to 10000; got " + discountBp);
    }
  }

  /**
   * The cost of a request with these token counts, by the rounding rule above.
   *
   * @throws IllegalArgumentException if a count is negative
   * @throws ArithmeticException if the cost does not fit in a long of nanos (over 9.2 billion USD)
   */
  public Money cost(long inputCacheHitTokens, long inputCacheMissTokens, long outputTokens) {
    requireNonNegative(inputCacheHitTokens, "inputCacheHitTokens");
    requireNonNegative(inputCacheMissTokens, "inputCacheMissTokens");
    requireNonNegative(outputTokens, "outputTokens");
    long keep = DiscountWindow.MAX_DISCOUNT_BP - discountBp;
    try {
      // Every real request fits in a long all the way; the same formula in BigInteger otherwise.
      long numerator = Math.multiplyExact(
          Math.addExact(Math.addExact(Math.multiplyExact(inputCacheHitTokens, prices.inputCacheHit().nanos()),
              Math.multiplyExact(inputCacheMissTokens, prices.inputCacheMiss().nanos())),
              Math.multiplyExact(outputTokens, prices.output().nanos())),
          keep);
      return Money.ofNanos(Math.ceilDiv(numerator, LONG_DENOMINATOR));
    } catch (ArithmeticException overflow) {
      return Money.ofNanos(exactCost(inputCacheHitTokens, inputCacheMissTokens, outputTokens, keep));
    }
  }

  private long exactCost(long inputCacheHitTokens, long inputCacheMissTokens, long outputTokens, long keep) {
    BigInteger undiscounted =
        product(inputCacheHitTokens, prices.inputCacheHit())
            .add(product(inputCacheMissTokens, prices.inputCacheMiss()))
            .add(product(outputTokens, prices.output()));
    BigInteger numerator = undiscounted.multiply(BigInteger.valueOf(keep));
    BigInteger[] qr = numerator.divideAndRemainder(DENOMINATOR);
    BigInteger ceiling = qr[1].signum() > 0 ? qr[0].add(BigInteger.ONE) : qr[0];
    return ceiling.longValueExact();
  }

  private static BigInteger product(long tokens, Money pricePerMillion) {
    return BigInteger.valueOf(tokens).multiply(BigInteger.valueOf(pricePerMillion.nanos()));
  }

  private static void requireNonNegative(long tokens, String name) {
    if (tokens < 0) {
      throw new IllegalArgumentException(name + " must not be negative; got " + tokens);
    }
  }
}
