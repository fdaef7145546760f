package dev.jevons.accounts;

public final class NoSuchKeyException extends RuntimeException {

  private final String keyId;

  public NoSuchKeyException(String keyId) {
    super("no such API key: " + keyId);
    this.keyId = keyId;
  }

  public String keyId() {
    return keyId;
  }
}
