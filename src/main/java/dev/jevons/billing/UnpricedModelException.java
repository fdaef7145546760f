package dev.jevons.billing;

import java.time.Instant;

/** The model has no price version in force at the instant asked about. */
public final class UnpricedModelException extends RuntimeException {

  private final String model;

  public UnpricedModelException(String model, Instant at) {
    super("model '" + model + "' has no price in force at " + at);
    this.model = model;
  }

  public String model() {
    return model;
  }
}
