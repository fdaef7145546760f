package dev.jevons.billing;

/** A price change that cannot be applied; {@link #field} names the offending part of the request. */
public final class InvalidPriceException extends IllegalArgumentException {

  private final String field;

  public InvalidPriceException(String field, String message) {
    super(message);
    this.field = field;
  }

  public String field() {
    return field;
  }
}
