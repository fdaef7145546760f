package dev.jevons.billing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/** A {@link PriceStore} in a map, for domain tests. */
final class InMemoryPriceStore implements PriceStore {
  private final Map<String, PriceSchedule> schedules = new TreeMap<>();
  int loads;
  /** Runs once, after the next {@link #loadAll} has read and before it returns (outside the lock). */
  volatile @Nullable Runnable afterNextLoad;

  @Override
  public List<PriceSchedule> loadAll() {
    List<PriceSchedule> read;
    synchronized (this) {
      loads++;
      read = new ArrayList<>(schedules.values());
    }
    Runnable hook = afterNextLoad;
    if (hook != null) {
      afterNextLoad = null;
      hook.run();
    }
    return read;
  }

  @Override
  public synchronized Optional<PriceSchedule> load(String model) {
    return Optional.ofNullable(schedules.get(model));
  }

  @Override
  public synchronized void save(String model, @Nullable PriceVersion version, @Nullable List<DiscountWindow> windows) {
    PriceSchedule old = schedules.getOrDefault(model, new PriceSchedule(model, List.of(), List.of()));
    List<PriceVersion> versions = new ArrayList<>(old.versions());
    if (version != null) {
      versions.removeIf(v -> v.effectiveFrom().equals(version.effectiveFrom()));
      versions.add(version);
    }
    schedules.put(model, new PriceSchedule(model, versions, windows == null ? old.windows() : windows));
  }

  @Override
  public synchronized boolean seedIfUnpriced(PriceSchedule defaults) {
    PriceSchedule old = schedules.get(defaults.model());
    if (old != null && !old.versions().isEmpty()) {
      return false;
    }
    schedules.put(defaults.model(), defaults);
    return true;
  }
}
