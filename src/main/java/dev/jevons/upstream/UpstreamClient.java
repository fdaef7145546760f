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
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import org.jspecify.annotations.Nullable;

/**
 * HTTP to inference servers over the JDK client, one shared connection pool per host. HTTP/1.1
 * only: it is what every OpenAI-compatible server speaks, and closing a body mid-stream closes
 * that connection, which is how a cancelled client cancels the upstream generation.
 *
 * <p>The first-byte timeout of {@link #post} is enforced by the shared {@link Watchdog}, which
 * cancels the pending exchange, and not by {@code HttpRequest.timeout}: the JDK client registers a
 * request timeout under its own lock and wakes its selector thread for every request that has
 * one, an extra thread handoff per request that showed in the gateway overhead profile
 * (docs/BENCHMARKS.md). The watchdog costs a set insertion and removal.
 */
public final class UpstreamClient implements AutoCloseable {
  private static final int MAX_ERROR_BODY_BYTES = 64 * 1024;
  private static final int MAX_MODELS_BODY_BYTES = 4 * 1024 * 1024;

  private final HttpClient http;
  private final ObjectMapper json;
  private final Duration firstByteTimeout;
  private final Watchdog watchdog;

  public UpstreamClient(ObjectMapper json, Duration connectTimeout, Duration firstByteTimeout, Watchdog watchdog) {
    this.json = json;
    this.firstByteTimeout = firstByteTimeout;
    this.watchdog = watchdog;
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
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (replica.apiKey() != null) {
      req.header("Authorization", "Bearer " + replica.apiKey());
    }
    HttpResponse<InputStream> res = sendWatched(replica, req.build());
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

  /** Like {@link #send}, with the first-byte timeout kept by the watchdog (see the class note). */
  private HttpResponse<InputStream> sendWatched(Replica replica, HttpRequest request) throws UpstreamException {
    CompletableFuture<HttpResponse<InputStream>> pending = http.sendAsync(request, HttpResponse.BodyHandlers.ofInputStream());
    // cancel(true) aborts the exchange and closes its connection (JDK 16+).
    Watchdog.Watch watch = watchdog.watch(firstByteTimeout.toNanos(), () -> pending.cancel(true));
    try {
      return pending.get();
    } catch (CancellationException | ExecutionException e) {
      // The cancellation surfaces either directly or as the cause of the failed exchange.
      if (watch.expired()) {
        throw new UpstreamException(
            UpstreamException.Kind.FIRST_BYTE_TIMEOUT,
            replica.name() + " sent no response within " + firstByteTimeout.toMillis() + " ms",
            0,
            null,
            e);
      }
      Throwable cause = e.getCause();
      while (cause instanceof CompletionException && cause.getCause() != null) {
        cause = cause.getCause();
      }
      throw failure(replica, request, cause == null ? e : cause);
    } catch (InterruptedException e) {
      pending.cancel(true);
      Thread.currentThread().interrupt();
      throw new UpstreamException(UpstreamException.Kind.CONNECT, "interrupted while calling " + replica.name(), 0, null, e);
    } finally {
      watch.close();
    }
  }

  private static UpstreamException failure(Replica replica, HttpRequest request, Throwable e) {
    return switch (e) {
      case HttpConnectTimeoutException t ->
          new UpstreamException(UpstreamException.Kind.CONNECT, "connect to " + replica.name() + " timed out", 0, null, t);
      // Without a request timeout, the client's only timer is the connect timeout; it reports
      // "request timed out" when the connection was established before the timer ran.
      case HttpTimeoutException t when request.timeout().isEmpty() ->
          new UpstreamException(UpstreamException.Kind.CONNECT, "connect to " + replica.name() + " timed out", 0, null, t);
      case HttpTimeoutException t ->
          new UpstreamException(
              UpstreamException.Kind.FIRST_BYTE_TIMEOUT,
              replica.name() + " sent no response within " + request.timeout().map(Duration::toMillis).orElse(0L) + " ms",
              0,
              null,
              t);
      case ConnectException c -> new UpstreamException(UpstreamException.Kind.CONNECT, "cannot connect to " + replica.name(), 0, null, c);
      case IOException x ->
          new UpstreamException(
              UpstreamException.Kind.CONNECT, "connection to " + replica.name() + " failed: " + x.getMessage(), 0, null, x);
      case UncheckedIOException x ->
          new UpstreamException(
              UpstreamException.Kind.CONNECT, "connection to " + replica.name() + " failed: " + x.getMessage(), 0, null, x);
      case RuntimeException r -> throw r;
      case Error err -> throw err;
      default -> new UpstreamException(UpstreamException.Kind.CONNECT, "calling " + replica.name() + " failed: " + e, 0, null, e);
    };
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
