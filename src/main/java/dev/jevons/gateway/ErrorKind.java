package dev.jevons.gateway;

/**
 * The stable error codes of the API (DESIGN.md, "External contracts"). The HTTP status of each is
 * decided in one place, the api's error mapper; here each kind has its OpenAI {@code type}.
 */
public enum ErrorKind {
  INVALID_REQUEST("invalid_request_error", "invalid_request_error"),
  INVALID_API_KEY("invalid_api_key", "authentication_error"),
  INSUFFICIENT_BALANCE("insufficient_balance", "insufficient_quota"),
  MODEL_NOT_ALLOWED("model_not_allowed", "permission_error"),
  MODEL_NOT_FOUND("model_not_found", "invalid_request_error"),
  NOT_FOUND("not_found", "invalid_request_error"),
  METHOD_NOT_ALLOWED("method_not_allowed", "invalid_request_error"),
  CONFLICT("conflict", "invalid_request_error"),
  REQUEST_TOO_LARGE("request_too_large", "invalid_request_error"),
  INVALID_PARAMETERS("invalid_parameters", "invalid_request_error"),
  RATE_LIMIT_EXCEEDED("rate_limit_exceeded", "rate_limit_error"),
  SERVER_OVERLOADED("server_overloaded", "server_error"),
  RECHARGE_SUSPENDED("recharge_suspended", "server_error"),
  SIGNUPS_SUSPENDED("signups_suspended", "server_error"),
  UPSTREAM_ERROR("upstream_error", "server_error"),
  UPSTREAM_TIMEOUT("upstream_timeout", "server_error"),
  INTERNAL_ERROR("internal_error", "server_error");

  private final String code;
  private final String type;

  ErrorKind(String code, String type) {
    this.code = code;
    this.type = type;
  }

  public String code() {
    return code;
  }

  public String type() {
    return type;
  }
}
