package dev.jevons.governor;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/** The governor's store in memory, for state-machine tests; SqlGovernorStore has its own contract tests. */
final class InMemoryGovernorStore implements GovernorStore {
  final List<GovernorEvent> events = new ArrayList<>();
  final Map<Gate, GateOverride> overrides = new EnumMap<>(Gate.class);
  final TreeMap<Instant, DemandHour> hours = new TreeMap<>();

  @Override
  public synchronized void append(GovernorEvent event) {
    events.add(event);
  }

  @Override
  public synchronized List<GovernorEvent> events(@Nullable Gate gate, int limit) {
    return events.stream()
        .filter(e -> gate == null || e.gate() == gate)
        .sorted(Comparator.comparing(GovernorEvent::at).thenComparing(GovernorEvent::id).reversed())
        .limit(limit)
        .toList();
  }

  @Override
  public synchronized Optional<GovernorEvent> lastTransition(Gate gate) {
    return events(gate, Integer.MAX_VALUE).stream().filter(e -> e.kind() == GovernorEvent.Kind.TRANSITION).findFirst();
  }

  @Override
  public synchronized void saveOverride(GateOverride override) {
    overrides.put(override.gate(), override);
  }

  @Override
  public synchronized List<GateOverride> overrides() {
    return new ArrayList<>(overrides.values());
  }

  @Override
  public synchronized void addDemand(DemandHour d) {
    hours.merge(d.hour(), d, (a, b) -> new DemandHour(a.hour(), a.requests() + b.requests(), a.shed() + b.shed(),
        a.busySlotSeconds() + b.busySlotSeconds(), a.slotSeconds() + b.slotSeconds()));
  }

  @Override
  public synchronized List<DemandHour> demand(Instant from, Instant to) {
    return new ArrayList<>(hours.subMap(from, true, to, false).values());
  }

  synchronized List<GovernorEvent> transitions(Gate gate) {
    return events.stream().filter(e -> e.gate() == gate && e.kind() == GovernorEvent.Kind.TRANSITION).toList();
  }
}
