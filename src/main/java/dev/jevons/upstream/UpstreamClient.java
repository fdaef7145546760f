package dev.jevons.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.Executors;
import org.jspecify.annotations.Nullable;

/**
 * HTTP to inference servers over the JDK client, one shared connection pool per host. HTTP/1.1
 * only: it is what every OpenAI-compatible server speaks, and closing a body mid-stream closes
 * that connection, which is how a cancelled client cancels the upstream generation.
 */
public final class UpstreamClient implements AutoCloseable {
  private static final int MAX_ERROR_BODY_BYTES = 64 * 1024;
  private static final int MAX_MODELS_BODY_BYTES = 4 * 1024 * 1024;

  private final HttpClient http;
  private final ObjectMapper json;
  private final Duration firstByteTimeout;

  public UpstreamClient(ObjectMapper json, Duration connectTimeout, Duration firstByteTimeout) {
    this.json = json;
    this.firstByteTimeout = firstByteTimeout;
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(connectTimeout)
            .followRedirects(HttpClient.Redirect.NEVER)
            .executor(Executors.newVirtualThreadPerTaskExecutor())
            .build();
  }

  /** A response with a 2xx status whose body the caller must read or close. */
  public record Response(int status, InputStream body) implements AutoCloseable {
    @Override
    public void close() {
      try {
        body.close();
      } catch (IOException e) {
        // Closing is how we abandon an upstream request; there is nothing more to do if it fails.
      }
    }
  }

  /**
   * POSTs {@code body} to {@code replica}'s {@code path} (e.g. {@code /chat/completions}) and waits
   * for the response headers, at most the first-byte timeout. A non-2xx answer becomes an {@link
   * UpstreamException} of kind STATUS carrying the upstream's error message.
   */
  public Response post(Replica replica, String path, byte[] body) throws UpstreamException {
    HttpRequest.Builder req =
        HttpRequest.newBuilder(URI.create(replica.baseUrl() + path))
            .timeout(firstByteTimeout)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (replica.apiKey() != null) {
      req.header("Authorization", "Bearer " + replica.apiKey());
    }
    HttpResponse<InputStream> res = send(replica, req.build());
    int status = res.statusCode();
    if (status / 100 == 2) {
      return new Response(status, res.body());
    }
    String message = errorMessage(res.body());
    throw new UpstreamException(
        UpstreamException.Kind.STATUS,
        replica.name() + " answered HTTP " + status + (message == null ? "" : ": " + message),
        status,
        message,
        null);
  }

  /** The model ids the server lists at {@code GET /models}. */
  Set<String> listModels(Replica replica, Duration timeout) throws UpstreamException {
    HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(replica.baseUrl() + "/models")).timeout(timeout).GET();
    if (replica.apiKey() != null) {
      req.header("Authorization", "Bearer " + replica.apiKey());
    }
    HttpResponse<InputStream> res = send(replica, req.build());
    try (InputStream in = res.body()) {
      byte[] bytes = in.readNBytes(MAX_MODELS_BODY_BYTES);
      if (res.statusCode() != 200) {
        throw new UpstreamException(
            UpstreamException.Kind.STATUS, replica.name() + " /models answered HTTP " + res.statusCode(), res.statusCode(), null, null);
      }
      JsonNode data = json.readTree(bytes).path("data");
      Set<String> ids = new LinkedHashSet<>();
      for (JsonNode m : data) {
        String id = m.path("id").asText("");
        if (!id.isEmpty()) {
          ids.add(id);
        }
      }
      return ids;
    } catch (IOException e) {
      throw new UpstreamException(
          UpstreamException.Kind.PROTOCOL, replica.name() + " /models is not an OpenAI model list: " + e.getMessage(), 0, null, e);
    }
  }

  private HttpResponse<InputStream> send(Replica replica, HttpRequest request) throws UpstreamException {
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (HttpConnectTimeoutException e) {
      throw new UpstreamException(UpstreamException.Kind.CONNECT, "connect to " + replica.name() + " timed out", 0, null, e);
    } catch (HttpTimeoutException e) {
      throw new UpstreamException(
          UpstreamException.Kind.FIRST_BYTE_TIMEOUT,
          replica.name() + " sent no response within " + request.timeout().map(Duration::toMillis).orElse(0L) + " ms",
          0,
          null,
          e);
    } catch (ConnectException e) {
      throw new UpstreamException(UpstreamException.Kind.CONNECT, "cannot connect to " + replica.name(), 0, null, e);
    } catch (IOException | UncheckedIOException e) {
      throw new UpstreamException(
          UpstreamException.Kind.CONNECT, "connection to " + replica.name() + " failed: " + e.getMessage(), 0, null, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UpstreamException(UpstreamException.Kind.CONNECT, "interrupted while calling " + replica.name(), 0, null, e);
    }
  }

  private @Nullable String errorMessage(InputStream body) {
    try (body) {
      byte[] bytes = body.readNBytes(MAX_ERROR_BODY_BYTES);
      JsonNode node = json.readTree(bytes);
      JsonNode msg = node.path("error").path("message");
      if (msg.isTextual()) {
        return msg.asText();
      }
      if (node.path("message").isTextual()) {
        return node.path("message").asText();
      }
      return node.path("detail").isTextual() ? node.path("detail").asText() : null;
    } catch (IOException e) {
      return null;
    }
  }

  @Override
  public void close() {
    http.close();
  }
}
