package dev.jevons.billing;

import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What an operator asks to change in a model's schedule: new prices from {@code effectiveFrom}
 * (now when null; a later instant schedules the change), and/or a new list of windows replacing the
 * old one. At least one of {@code prices} and {@code windows} is given.
 */
public record PriceChange(
    @Nullable Prices prices, @Nullable Instant effectiveFrom, @Nullable List<DiscountWindow> windows) {}
