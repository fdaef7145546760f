package dev.jevons.sim;

import org.jspecify.annotations.Nullable;

/** A request the sim refuses; {@link OpenAiHandler#errorBody} is the one place that renders it. */
final class SimHttpException extends RuntimeException {
  final int status;
  final String type;
  final String code;
  final @Nullable String param;

  SimHttpException(int status, String type, String code, @Nullable String param, String message) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = param;
  }

  static SimHttpException badRequest(@Nullable String param, String message) {
    return new SimHttpException(400, "invalid_request_error", "invalid_request_error", param, message);
  }
}
