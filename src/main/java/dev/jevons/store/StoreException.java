package dev.jevons.store;

/** A database could not be opened, migrated or used. The message never contains a password. */
public final class StoreException extends RuntimeException {

  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }

  public StoreException(String message) {
    super(message);
  }
}
