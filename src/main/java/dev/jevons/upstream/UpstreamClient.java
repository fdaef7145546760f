package dev.jevons.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.helidon.common.buffers.DataReader;
import io.helidon.common.socket.SocketOptions;
import io.helidon.http.Header;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.Http1ClientRequest;
import io.helidon.webclient.http1.Http1ClientResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * HTTP/1.1 to inference servers over Helidon's blocking WebClient, one keep-alive connection pool
 * per upstream origin.
 *
 * <p>Why this client: every call runs top to bottom on the caller's own (virtual) thread: write
 * the request, block reading the status line, hand back the body as a stream read on the same
 * thread. The JDK HttpClient it replaced relayed every exchange through its selector thread and a
 * chain of CompletableFutures, which took ~62% of the gateway's CPU in the overhead benchmark
 * (docs/BENCHMARKS.md, "Gateway overhead").
 *
 * <p>Timeouts. The connect timeout is the socket's. The first-byte timeout of {@link #post} is the
 * socket read timeout, so a server that accepts the request but sends no status line within it is
 * a {@link UpstreamException.Kind#FIRST_BYTE_TIMEOUT}; the same read timeout stays on the socket
 * while the body is read, as a backstop. The gateway's precise first-event and idle timeouts are
 * kept by the shared {@link Watchdog}, which closes the {@link Response}; closing it from another
 * thread closes the socket and unblocks the reader.
 *
 * <p>Cancellation. A body closed before its end closes its connection (it never goes back to the
 * pool half-read), so the upstream sees the client leave and stops generating. A body read to its
 * end returns the connection to the pool.
 *
 * <p>Stale connections. A pooled connection the server closed while it sat idle is normally
 * noticed by WebClient before reuse; if the server closes it at the moment it is reused, the
 * request fails before any response byte, and it is sent once more on a new connection (as the
 * JDK client does for a connection found closed). A refused connection or a timeout is not retried
 * here: that is the gateway's decision, on another replica.
 */
public final class UpstreamClient implements AutoCloseable {
  private static final int MAX_ERROR_BODY_BYTES = 64 * 1024;
  private static final int MAX_MODELS_BODY_BYTES = 4 * 1024 * 1024;
  /** Idle keep-alive connections kept per upstream; busier moments open more, closed after use. */
  private static final int MAX_IDLE_CONNECTIONS_PER_UPSTREAM = 512;
  /**
   * Each connection's write buffer, allocated for its whole life (WebClient's default: 4 KB). It
   * only gathers the request line and headers; a body larger than it is written straight to the
   * socket. With thousands of open streams the default is ~4 KB of heap per stream for nothing
   * (docs/BENCHMARKS.md, "Gateway overhead", memory).
   */
  private static final int WRITE_BUFFER_BYTES = 1024;

  private static final Header CONTENT_TYPE_JSON = HeaderValues.create(HeaderNames.CONTENT_TYPE, "application/json");
  private static final Header ACCEPT = HeaderValues.create(HeaderNames.ACCEPT, "application/json, text/event-stream");

  private final ObjectMapper json;
  private final Duration connectTimeout;
  private final Duration firstByteTimeout;
  private final Map<String, Http1Client> clients = new ConcurrentHashMap<>();

  /**
   * The {@code watchdog} is not used by the client itself (its timeouts are socket timeouts, see
   * the class note); it stays in the signature because the gateway enforces stream timeouts with
   * it by closing the {@link Response}.
   */
  public UpstreamClient(ObjectMapper json, Duration connectTimeout, Duration firstByteTimeout, Watchdog watchdog) {
    this.json = json;
    this.connectTimeout = connectTimeout;
    this.firstByteTimeout = firstByteTimeout;
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
    String uri = replica.baseUrl() + path;
    Http1Client http = clientFor(replica);
    Http1ClientResponse res;
    try {
      res = submit(http.post(uri), replica, body);
    } catch (RuntimeException e) {
      if (!staleConnection(e)) {
        throw failure(replica, e, firstByteTimeout);
      }
      try {
        res = submit(http.post(uri), replica, body);
      } catch (RuntimeException again) {
        throw failure(replica, again, firstByteTimeout);
      }
    }
    int status = res.status().code();
    if (status / 100 == 2) {
      return new Response(status, new Body(res));
    }
    String message = errorMessage(new Body(res));
    throw new UpstreamException(
        UpstreamException.Kind.STATUS,
        replica.name() + " answered HTTP " + status + (message == null ? "" : ": " + message),
        status,
        message,
        null);
  }

  private Http1ClientResponse submit(Http1ClientRequest req, Replica replica, byte[] body) {
    req.header(CONTENT_TYPE_JSON).header(ACCEPT);
    authorize(req, replica);
    return req.submit(body);
  }

  /** The model ids the server lists at {@code GET /models}. */
  Set<String> listModels(Replica replica, Duration timeout) throws UpstreamException {
    Http1ClientRequest req = clientFor(replica).get(replica.baseUrl() + "/models").readTimeout(timeout);
    authorize(req, replica);
    Http1ClientResponse res;
    try {
      res = req.request();
    } catch (RuntimeException e) {
      throw failure(replica, e, timeout);
    }
    try (InputStream in = new Body(res)) {
      byte[] bytes = in.readNBytes(MAX_MODELS_BODY_BYTES);
      int status = res.status().code();
      if (status != 200) {
        throw new UpstreamException(UpstreamException.Kind.STATUS, replica.name() + " /models answered HTTP " + status, status, null, null);
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

  private static void authorize(Http1ClientRequest req, Replica replica) {
    String key = replica.apiKey();
    if (key != null) {
      req.header(HeaderNames.AUTHORIZATION, "Bearer " + key);
    }
  }

  /** One client, and so one connection pool, per scheme, host and port. */
  private Http1Client clientFor(Replica replica) {
    URI base = replica.baseUrl();
    String origin = base.getScheme() + "://" + base.getHost() + ":" + base.getPort();
    Http1Client client = clients.get(origin);
    return client != null ? client : clients.computeIfAbsent(origin, o -> newClient());
  }

  private Http1Client newClient() {
    return Http1Client.builder()
        .shareConnectionCache(false)
        .connectionCacheSize(MAX_IDLE_CONNECTIONS_PER_UPSTREAM)
        .followRedirects(false)
        // A 100-continue round trip before every body would add latency for nothing: the bodies
        // are small and the upstream reads them all.
        .sendExpectContinue(false)
        .writeBufferSize(WRITE_BUFFER_BYTES)
        .socketOptions(
            SocketOptions.builder()
                .connectTimeout(connectTimeout)
                .readTimeout(firstByteTimeout)
                // Requests and SSE events are small writes that must not wait for Nagle's algorithm.
                .tcpNoDelay(true)
                .build())
        .readTimeout(firstByteTimeout)
        .build();
  }

  /**
   * Whether a request failed because the server had closed the (pooled) connection before
   * answering, with no response byte read: safe to send once more on a new connection.
   */
  private static boolean staleConnection(RuntimeException e) {
    Throwable cause = rootIo(e);
    if (cause instanceof SocketTimeoutException || cause instanceof ConnectException) {
      return false;
    }
    if (cause instanceof IOException) {
      return true; // reset, broken pipe, closed by peer
    }
    // WebClient reports a connection closed before the status line as a runtime exception of its
    // own; it is the same situation.
    return e instanceof DataReader.InsufficientDataAvailableException;
  }

  private static @Nullable Throwable rootIo(Throwable e) {
    Throwable t = e;
    for (int i = 0; i < 8 && t != null; i++) {
      if (t instanceof IOException) {
        return t;
      }
      t = t.getCause();
    }
    return null;
  }

  private static UpstreamException failure(Replica replica, RuntimeException e, Duration readTimeout) {
    Throwable cause = rootIo(e);
    return switch (cause) {
      // The JDK's NioSocketImpl says "Connect timed out" for the connect timeout and "Read timed
      // out" for the read timeout; both are SocketTimeoutException.
      case SocketTimeoutException t when String.valueOf(t.getMessage()).toLowerCase().contains("connect") ->
          new UpstreamException(UpstreamException.Kind.CONNECT, "connect to " + replica.name() + " timed out", 0, null, t);
      case SocketTimeoutException t ->
          new UpstreamException(
              UpstreamException.Kind.FIRST_BYTE_TIMEOUT,
              replica.name() + " sent no response within " + readTimeout.toMillis() + " ms",
              0,
              null,
              t);
      case ConnectException c -> new UpstreamException(UpstreamException.Kind.CONNECT, "cannot connect to " + replica.name(), 0, null, c);
      case IOException x ->
          new UpstreamException(
              UpstreamException.Kind.CONNECT, "connection to " + replica.name() + " failed: " + x.getMessage(), 0, null, e);
      case null, default ->
          new UpstreamException(
              UpstreamException.Kind.CONNECT, "calling " + replica.name() + " failed: " + e.getMessage(), 0, null, e);
    };
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
    clients.values().forEach(Http1Client::closeResource);
    clients.clear();
  }

  /**
   * A response body as a plain {@link InputStream}. WebClient reports socket failures as unchecked
   * exceptions; readers here (the gateway's relay) expect {@link IOException}, so they are
   * translated. {@link #close} may come from another thread (the watchdog) while a read is
   * blocked: before the end it closes the response, which closes the connection; after the end the
   * connection is already back in the pool and close does nothing.
   */
  private static final class Body extends InputStream {
    private final Http1ClientResponse response;
    private final InputStream in;

    Body(Http1ClientResponse response) {
      this.response = response;
      this.in = response.inputStream();
    }

    @Override
    public int read() throws IOException {
      try {
        return in.read();
      } catch (UncheckedIOException e) {
        throw e.getCause();
      } catch (RuntimeException e) {
        throw new IOException(e.getMessage(), e);
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      try {
        return in.read(b, off, len);
      } catch (UncheckedIOException e) {
        throw e.getCause();
      } catch (RuntimeException e) {
        throw new IOException(e.getMessage(), e);
      }
    }

    @Override
    public void close() {
      try {
        response.close();
      } catch (RuntimeException e) {
        // The connection broke or was closed already; either way it is not reused.
      }
    }
  }
}
