package dev.jevons.governor;

import java.util.Locale;
import java.util.Optional;

/** Who decides a gate: the automatic policy, or an operator who forced it open or closed. */
public enum Mode {
  AUTO,
  OPEN,
  CLOSED;

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Optional<Mode> byId(String id) {
    for (Mode m : values()) {
      if (m.id().equals(id)) {
        return Optional.of(m);
      }
    }
    return Optional.empty();
  }
}
