package dev.jevons.api;

import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.Headers;
import io.helidon.http.RequestException;
import io.helidon.http.Status;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Rejects a request whose Content-Length is not one non-negative decimal integer as a bad request.
 * Helidon 4 parses the header only when it routes, and answers a failure there with a 500, which
 * would tell the client the fault is ours. Called from {@link ReadDeadlines}, the one receive
 * listener: Helidon 4.5's composite of several receive listeners forwards no events at all.
 */
final class ContentLengthCheck {
  private static final Pattern DIGITS = Pattern.compile("[0-9]{1,18}");

  private ContentLengthCheck() {}

  static void check(Headers headers) {
    if (!headers.contains(HeaderNames.CONTENT_LENGTH)) {
      return;
    }
    List<String> values = headers.get(HeaderNames.CONTENT_LENGTH).allValues();
    for (String v : values) {
      if (!DIGITS.matcher(v.trim()).matches()) {
        throw badRequest("Content-Length is not a non-negative integer");
      }
    }
    // Differing lengths are how requests get smuggled past proxies (RFC 9112, section 6.3).
    if (values.size() > 1) {
      throw badRequest("Content-Length is given more than once");
    }
  }

  private static RequestException badRequest(String message) {
    return RequestException.builder()
        .type(DirectHandler.EventType.BAD_REQUEST)
        .status(Status.BAD_REQUEST_400)
        .message(message)
        .setKeepAlive(false)
        .build();
  }
}
