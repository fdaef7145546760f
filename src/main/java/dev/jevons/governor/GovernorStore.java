package dev.jevons.governor;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** What the governor keeps: its audit log, the operators' overrides and the hourly demand history. */
public interface GovernorStore {

  void append(GovernorEvent event);

  /** Newest first; {@code gate} null for all gates. */
  List<GovernorEvent> events(@Nullable Gate gate, int limit);

  /** The newest open/close of the gate, to restore its state after a restart. */
  Optional<GovernorEvent> lastTransition(Gate gate);

  /** Replaces the gate's override; an AUTO override is kept too (it records who returned control). */
  void saveOverride(GateOverride override);

  List<GateOverride> overrides();

  /** Adds the counts of {@code delta} to its hour's row (creating it), so nodes and restarts add up. */
  void addDemand(DemandHour delta);

  /** Hours with {@code from <= hour < to}, oldest first. */
  List<DemandHour> demand(Instant from, Instant to);

  record GateOverride(Gate gate, Mode mode, String reason, @Nullable String message, Instant at, String actor) {}
}
