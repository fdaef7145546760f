package dev.jevons.governor;

import java.time.Duration;

/** A request the closed gate refuses; carries the operator's message and when to try again. */
public final class GateClosedException extends RuntimeException {
  private final Gate gate;
  private final Duration retryAfter;

  public GateClosedException(Gate gate, String message, Duration retryAfter) {
    super(message, null, false, false);
    this.gate = gate;
    this.retryAfter = retryAfter;
  }

  public Gate gate() {
    return gate;
  }

  public Duration retryAfter() {
    return retryAfter;
  }
}
