package dev.jevons.billing;

import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Storage port for price schedules, implemented by the {@code store} package. Instants are kept to
 * the millisecond. Implementations are safe for concurrent use, also by several gateway nodes on
 * one database; failures surface as unchecked exceptions.
 */
public interface PriceStore {

  /** Every model that has a price version or a window, in model order. */
  List<PriceSchedule> loadAll();

  Optional<PriceSchedule> load(String model);

  /**
   * In one transaction: adds {@code version} to the model's schedule when it is not null, and
   * replaces the model's windows with {@code windows} when that is not null. A version with the
   * same {@code effectiveFrom} is replaced if it has not yet taken effect; one in force is never
   * removed (usage records cite it), and saving over it fails.
   */
  void save(String model, @Nullable PriceVersion version, @Nullable List<DiscountWindow> windows);

  /**
   * Stores {@code defaults} only if its model has no price version yet, atomically even against
   * another node seeding at the same time; returns whether it did.
   */
  boolean seedIfUnpriced(PriceSchedule defaults);
}
