package dev.jevons.gateway;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/** A request Jevons refuses or cannot complete, with the message the client will read. */
public final class GatewayException extends RuntimeException {
  private final ErrorKind kind;
  private final @Nullable String param;
  private final @Nullable Duration retryAfter;

  public GatewayException(ErrorKind kind, String message) {
    this(kind, message, null, null);
  }

  public GatewayException(ErrorKind kind, String message, @Nullable String param, @Nullable Duration retryAfter) {
    super(message, null, false, false);
    this.kind = kind;
    this.param = param;
    this.retryAfter = retryAfter;
  }

  public static GatewayException invalid(String param, String message) {
    return new GatewayException(ErrorKind.INVALID_REQUEST, message, param, null);
  }

  public ErrorKind kind() {
    return kind;
  }

  public @Nullable String param() {
    return param;
  }

  public @Nullable Duration retryAfter() {
    return retryAfter;
  }
}
