package dev.jevons.governor;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * One line of the governor's audit log: a gate opened or closed ({@link Kind#TRANSITION}), or an
 * operator changed its mode ({@link Kind#OVERRIDE}). Transitions carry the signals in force when
 * they happened, so every decision can be checked afterwards.
 */
public record GovernorEvent(
    String id,
    Instant at,
    Gate gate,
    Kind kind,
    boolean open,
    Mode mode,
    String reason,
    String actor,
    @Nullable Signals signals) {

  public enum Kind {
    TRANSITION,
    OVERRIDE
  }
}
