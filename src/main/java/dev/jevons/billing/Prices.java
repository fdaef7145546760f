package dev.jevons.billing;

import java.util.Objects;

/**
 * What a model costs, each amount per one million tokens: input tokens served from the context
 * cache, input tokens not in the cache, and output tokens. None is negative.
 */
public record Prices(Money inputCacheHit, Money inputCacheMiss, Money output) {

  public static final long TOKENS_PER_PRICE_UNIT = 1_000_000L;

  public Prices {
    requireNonNegative(inputCacheHit, "input_cache_hit");
    requireNonNegative(inputCacheMiss, "input_cache_miss");
    requireNonNegative(output, "output");
  }

  /** Prices given as decimal strings of USD per 1M tokens, e.g. {@code of("0.028", "0.28", "0.42")}. */
  public static Prices of(String inputCacheHit, String inputCacheMiss, String output) {
    return new Prices(Money.parse(inputCacheHit), Money.parse(inputCacheMiss), Money.parse(output));
  }

  private static void requireNonNegative(Money price, String field) {
    Objects.requireNonNull(price, field);
    if (price.isNegative()) {
      throw new InvalidPriceException(field, "'" + field + "' must not be negative; got " + price + ".");
    }
  }
}
