package dev.jevons.governor;

import java.util.Locale;
import java.util.Optional;

/** What the governor can close: adding money (top-ups) and adding customers (sign-ups). */
public enum Gate {
  TOP_UPS("recharge_suspended"),
  SIGNUPS("signups_suspended");

  private final String errorCode;

  Gate(String errorCode) {
    this.errorCode = errorCode;
  }

  /** The name in the API, configuration and audit log: {@code top_ups}, {@code signups}. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The error code a refused request gets while this gate is closed. */
  public String errorCode() {
    return errorCode;
  }

  public static Optional<Gate> byId(String id) {
    for (Gate g : values()) {
      if (g.id().equals(id)) {
        return Optional.of(g);
      }
    }
    return Optional.empty();
  }
}
