package dev.jevons.cli;

/** A step of the demo did not happen as it must; the demo stops with exit code 1 and this message. */
final class DemoFailure extends RuntimeException {
  DemoFailure(String message) {
    super(message);
  }

  DemoFailure(String message, Throwable cause) {
    super(message, cause);
  }
}
