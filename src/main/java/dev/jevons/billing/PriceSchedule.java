package dev.jevons.billing;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A model's prices over time: its price versions, oldest first, and its daily discount windows.
 * The version in force at t is the latest whose {@code effectiveFrom <= t}; before the first
 * version the model is unpriced. The discount at t is the largest of the windows active at t
 * (overlapping windows do not add up), or none.
 */
public record PriceSchedule(String model, List<PriceVersion> versions, List<DiscountWindow> windows) {

  public PriceSchedule {
    Objects.requireNonNull(model, "model");
    List<PriceVersion> sorted = new ArrayList<>(versions);
    sorted.sort(Comparator.comparing(PriceVersion::effectiveFrom));
    for (int i = 1; i < sorted.size(); i++) {
      if (sorted.get(i).effectiveFrom().equals(sorted.get(i - 1).effectiveFrom())) {
        throw new IllegalArgumentException(
            "model " + model + " has two price versions effective from " + sorted.get(i).effectiveFrom());
      }
    }
    versions = List.copyOf(sorted);
    windows = List.copyOf(windows);
  }

  public Optional<PriceVersion> versionAt(Instant at) {
    // Versions are few (a handful per model per year); a backwards scan is clearer than a search.
    for (int i = versions.size() - 1; i >= 0; i--) {
      if (!versions.get(i).effectiveFrom().isAfter(at)) {
        return Optional.of(versions.get(i));
      }
    }
    return Optional.empty();
  }

  /** The discount in basis points at {@code at}: the largest active window's, or 0. */
  public int discountBpAt(Instant at) {
    int best = 0;
    for (DiscountWindow w : windows) {
      if (w.activeAt(at)) {
        best = Math.max(best, w.discountBp());
      }
    }
    return best;
  }

  public Optional<Quote> quoteAt(Instant at) {
    return versionAt(at).map(v -> new Quote(model, v.id(), v.prices(), discountBpAt(at), at));
  }

  public Optional<PriceVersion> versionEffectiveFrom(Instant effectiveFrom) {
    return versions.stream().filter(v -> v.effectiveFrom().equals(effectiveFrom)).findFirst();
  }
}
