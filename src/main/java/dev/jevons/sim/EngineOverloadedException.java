package dev.jevons.sim;

/** The engine's waiting queue is full; the HTTP layer answers 503 {@code server_overloaded}. */
public final class EngineOverloadedException extends RuntimeException {
  public EngineOverloadedException(String message) {
    super(message, null, false, false);
  }
}
