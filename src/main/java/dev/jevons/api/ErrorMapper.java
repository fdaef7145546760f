package dev.jevons.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.accounts.NoSuchAccountException;
import dev.jevons.accounts.NoSuchKeyException;
import dev.jevons.billing.LedgerOverloadedException;
import dev.jevons.billing.LedgerUnavailableException;
import dev.jevons.gateway.ErrorKind;
import dev.jevons.governor.Gate;
import dev.jevons.governor.GateClosedException;
import dev.jevons.gateway.GatewayException;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The one place that turns a failure into the OpenAI-shaped error body
 * {@code {"error":{"message","type","param","code"}}} with its HTTP status. Handlers throw; they
 * never build error bodies.
 */
final class ErrorMapper {
  private final ObjectMapper json;

  ErrorMapper(ObjectMapper json) {
    this.json = json;
  }

  static int status(ErrorKind kind) {
    return switch (kind) {
      case INVALID_REQUEST -> 400;
      case INVALID_API_KEY -> 401;
      case INSUFFICIENT_BALANCE -> 402;
      case MODEL_NOT_ALLOWED -> 403;
      case MODEL_NOT_FOUND, NOT_FOUND -> 404;
      case METHOD_NOT_ALLOWED -> 405;
      case CONFLICT -> 409;
      case REQUEST_TOO_LARGE -> 413;
      case INVALID_PARAMETERS -> 422;
      case RATE_LIMIT_EXCEEDED -> 429;
      case SERVER_OVERLOADED, RECHARGE_SUSPENDED, SIGNUPS_SUSPENDED -> 503;
      case UPSTREAM_ERROR -> 502;
      case UPSTREAM_TIMEOUT -> 504;
      case INTERNAL_ERROR -> 500;
    };
  }

  /** Maps any failure of a handler to a typed error; unknown ones become a 500 without details. */
  static GatewayException classify(Throwable t) {
    if (t instanceof GatewayException g) {
      return g;
    }
    if (t instanceof GateClosedException closed) {
      ErrorKind kind = closed.gate() == Gate.TOP_UPS ? ErrorKind.RECHARGE_SUSPENDED : ErrorKind.SIGNUPS_SUSPENDED;
      return new GatewayException(kind, String.valueOf(closed.getMessage()), null, closed.retryAfter());
    }
    if (t instanceof NoSuchAccountException || t instanceof NoSuchKeyException) {
      return new GatewayException(ErrorKind.NOT_FOUND, t.getMessage() == null ? "not found" : t.getMessage());
    }
    if (t instanceof LedgerOverloadedException || t instanceof LedgerUnavailableException) {
      // Fail closed on money: no ledger, no request; the client may retry shortly.
      return new GatewayException(
          ErrorKind.SERVER_OVERLOADED, "Billing is temporarily unavailable; no request is served without it.", null, java.time.Duration.ofSeconds(5));
    }
    if (t instanceof IllegalArgumentException) {
      return new GatewayException(ErrorKind.INVALID_REQUEST, t.getMessage() == null ? "invalid request" : t.getMessage());
    }
    return new GatewayException(ErrorKind.INTERNAL_ERROR, "Jevons failed to process the request; it has been logged.");
  }

  byte[] body(ErrorKind kind, String message, @Nullable String param) {
    ObjectNode root = json.createObjectNode();
    ObjectNode err = root.putObject("error");
    err.put("message", message);
    err.put("type", kind.type());
    if (param == null) {
      err.putNull("param");
    } else {
      err.put("param", param);
    }
    err.put("code", kind.code());
    try {
      return json.writeValueAsBytes(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Writes the error response; returns the HTTP status sent. */
  int send(ServerResponse res, GatewayException e) {
    int status = status(e.kind());
    res.status(status);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    Duration retry = e.retryAfter();
    if (retry != null) {
      res.header(HeaderNames.RETRY_AFTER, Long.toString(Math.max(1, (retry.toMillis() + 999) / 1000)));
    }
    String message = e.getMessage() == null ? e.kind().code() : e.getMessage();
    res.send(body(e.kind(), message, e.param()));
    return status;
  }
}
