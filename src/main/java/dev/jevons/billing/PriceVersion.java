package dev.jevons.billing;

import java.time.Instant;
import java.util.Objects;

/**
 * One version of a model's prices, in force from {@code effectiveFrom} until the next version's.
 * Usage records cite {@code id}, so an id never names two different prices.
 */
public record PriceVersion(String id, Instant effectiveFrom, Prices prices) {

  public PriceVersion {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(effectiveFrom, "effectiveFrom");
    Objects.requireNonNull(prices, "prices");
  }
}
