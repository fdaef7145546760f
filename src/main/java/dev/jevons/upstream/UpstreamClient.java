package dev.jevons.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * HTTP/1.1 to inference servers on plain blocking sockets ({@link HttpConnection}), one keep-alive
 * pool per upstream origin.
 *
 * <p>Why this client: every call runs top to bottom on the caller's own (virtual) thread: write
 * the request, block reading the status line, hand back the body as a stream read on the same
 * thread, with nothing but a socket and a 2 KB buffer held per connection. The JDK HttpClient
 * relayed every exchange through a selector thread (~62% of the gateway's CPU); Helidon's
 * WebClient, which replaced it, held an 8 KB socket read buffer, a write buffer, header objects
 * and a deeper stack per open stream and handed every pooled connection to a virtual thread of its
 * own to watch for the server closing it (docs/BENCHMARKS.md, "Gateway overhead").
 *
 * <p>Timeouts. The connect timeout is the socket's. The first-byte timeout of {@link #post} is kept
 * by the shared {@link Watchdog}, which closes the connection when no status line (and, for an
 * error status, no error body) has arrived within it: a {@link
 * UpstreamException.Kind#FIRST_BYTE_TIMEOUT}. Its reads have no socket timeout, because a timed
 * read on a virtual thread is a timed park, which enters the JDK's delay scheduler and wakes its
 * thread twice per read (~7% of the gateway's CPU, docs/BENCHMARKS.md, session 6); the gateway
 * reads the body under watches of its own (first event, idle gaps). Closing a connection from the
 * watchdog's thread closes the socket and unblocks the reader. The rare calls outside the data
 * plane ({@code GET /models}) keep a socket read timeout.
 *
 * <p>Cancellation. A body closed before its end closes its connection (it never goes back to the
 * pool half-read), so the upstream sees the client leave and stops generating. A body read to its
 * end returns the connection to the pool.
 *
 * <p>Stale connections. A pooled connection idle longer than {@link #MAX_IDLE_NANOS} is closed
 * rather than reused (servers close idle keep-alive connections; uvicorn, under vLLM, after 5 s).
 * If a reused connection fails before any response byte arrives, the server closed it at the
 * moment of reuse, and the request is sent once more on a new connection. A refused connection or
 * a timeout is not retried here: that is the gateway's decision, on another replica.
 */
public final class UpstreamClient implements AutoCloseable {
  private static final int MAX_ERROR_BODY_BYTES = 64 * 1024;
  private static final int MAX_MODELS_BODY_BYTES = 4 * 1024 * 1024;
  /** Idle keep-alive connections kept per upstream; busier moments open more, closed after use. */
  private static final int MAX_IDLE_CONNECTIONS_PER_UPSTREAM = 512;
  static final long MAX_IDLE_NANOS = TimeUnit.SECONDS.toNanos(4);
  private static final String JSON = "application/json";
  private static final String ACCEPT = "application/json, text/event-stream";

  private final ObjectMapper json;
  private final int connectTimeoutMillis;
  private final int firstByteTimeoutMillis;
  private final Watchdog watchdog;
  private final Map<String, IdleConnections> idle = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** {@code watchdog} keeps the first-byte timeout of {@link #post} (see the class note). */
  public UpstreamClient(ObjectMapper json, Duration connectTimeout, Duration firstByteTimeout, Watchdog watchdog) {
    this.json = json;
    this.connectTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis());
    this.firstByteTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, firstByteTimeout.toMillis());
    this.watchdog = watchdog;
  }

  /**
   * A response with a 2xx status whose body the caller must read or close; {@code contentLength}
   * is the length the server declared, or -1 (chunked, or delimited by the connection's close).
   */
  public record Response(int status, long contentLength, InputStream body) implements AutoCloseable {
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
    Connection connection = new Connection();
    Exchange ex;
    String message;
    try (Watchdog.Watch watch = watchdog.watch(TimeUnit.MILLISECONDS.toNanos(firstByteTimeoutMillis), connection::close)) {
      ex = exchange(replica, "POST", path, body, 0, connection, watch);
      int status = ex.head.status();
      if (status / 100 == 2) {
        return new Response(status, ex.head.chunked() ? -1 : ex.head.contentLength(), ex.body);
      }
      message = errorMessage(ex.body);
    }
    int status = ex.head.status();
    throw new UpstreamException(
        UpstreamException.Kind.STATUS,
        replica.name() + " answered HTTP " + status + (message == null ? "" : ": " + message),
        status,
        message,
        null);
  }

  /** The model ids the server lists at {@code GET /models}. */
  Set<String> listModels(Replica replica, Duration timeout) throws UpstreamException {
    Exchange ex = exchange(replica, "GET", "/models", new byte[0], (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()), null, null);
    try (InputStream in = ex.body) {
      byte[] bytes = in.readNBytes(MAX_MODELS_BODY_BYTES);
      int status = ex.head.status();
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

  private record Exchange(HttpConnection.Head head, InputStream body) {}

  /**
   * The connection an exchange is using, for a watchdog to close from its own thread, until the
   * exchange detaches it: a successful answer's connection then belongs to its body (and later
   * to the pool), which a late expiry must not close. Detaching fails once the watch has fired.
   */
  private static final class Connection {
    private static final int OPEN = 0;
    private static final int DETACHED = 1;
    private static final int CLOSED = 2;
    private final AtomicInteger state = new AtomicInteger(OPEN);
    private volatile @Nullable HttpConnection current;

    void use(HttpConnection c) {
      current = c;
      if (state.get() == CLOSED) {
        c.close(); // the watch expired between two attempts
      }
    }

    boolean detach() {
      return state.compareAndSet(OPEN, DETACHED);
    }

    void close() {
      if (state.compareAndSet(OPEN, CLOSED)) {
        HttpConnection c = current;
        if (c != null) {
          c.close();
        }
      }
    }
  }

  /**
   * Sends one request and reads the response head, retrying once on a stale pooled connection.
   * With a {@code watch} (whose expiry closes {@code connection}), reads have no socket timeout
   * ({@code readTimeoutMillis} 0) and an expired watch is a first-byte timeout; without one,
   * {@code readTimeoutMillis} is the socket's read timeout.
   */
  private Exchange exchange(
      Replica replica,
      String method,
      String path,
      byte[] body,
      int readTimeoutMillis,
      @Nullable Connection connection,
      Watchdog.@Nullable Watch watch)
      throws UpstreamException {
    URI base = replica.baseUrl();
    String origin = base.getScheme() + "://" + base.getHost() + ":" + base.getPort();
    String target = (base.getRawPath() == null ? "" : base.getRawPath()) + path;
    String host = base.getHost() + ":" + base.getPort();
    for (int attempt = 0; ; attempt++) {
      HttpConnection c = attempt == 0 ? pooled(origin) : null;
      try {
        if (c == null) {
          c = HttpConnection.open(base, connectTimeoutMillis, readTimeoutMillis);
        } else {
          c.readTimeoutMillis(readTimeoutMillis);
        }
        if (connection != null) {
          connection.use(c);
        }
        c.send(method, target, host, JSON, ACCEPT, replica.apiKey(), body);
        HttpConnection.Head head = c.readHead();
        if (connection != null) {
          if (head.status() / 100 != 2) {
            // Its error body is read under the watch, which may fire after the body's end would
            // have pooled the connection: closed after use instead (errors are rare).
            c.discardAfterUse = true;
          } else if (!connection.detach()) {
            throw new SocketTimeoutException("the first-byte watch fired as the head arrived");
          }
        }
        return new Exchange(head, new Body(this, origin, c, head, method.equals("HEAD")));
      } catch (IOException e) {
        boolean reused = c != null && c.reused;
        if (c != null) {
          c.close();
        }
        if (watch != null && watch.expired()) {
          throw new UpstreamException(
              UpstreamException.Kind.FIRST_BYTE_TIMEOUT, replica.name() + " sent no response within " + firstByteTimeoutMillis + " ms", 0, null, e);
        }
        // A reused connection that fails before any response byte was closed by the server as we
        // reused it: send once more on a fresh one. Timeouts are not that.
        if (attempt == 0 && reused && !(e instanceof SocketTimeoutException) && !(e instanceof HttpConnection.ProtocolException)) {
          continue;
        }
        throw failure(replica, e, readTimeoutMillis);
      }
    }
  }

  private @Nullable HttpConnection pooled(String origin) {
    IdleConnections q = idle.get(origin);
    if (q == null) {
      return null;
    }
    long now = System.nanoTime();
    for (HttpConnection c = q.pollNewest(); c != null; c = q.pollNewest()) {
      if (now - c.idleSinceNanos < MAX_IDLE_NANOS && !c.isClosed()) {
        c.idleSinceNanos = 0;
        return c;
      }
      c.close();
    }
    return null;
  }

  /** Idle connections pooled for {@code origin} ({@code scheme://host:port}); for tests. */
  int idleConnections(String origin) {
    IdleConnections q = idle.get(origin);
    return q == null ? 0 : q.size();
  }

  /** A connection whose exchange ended cleanly goes back to its pool (most recently used last). */
  void release(String origin, HttpConnection c) {
    if (closed || c.isClosed() || c.hasBufferedBytes() || c.discardAfterUse) {
      c.close();
      return;
    }
    IdleConnections q = idle.computeIfAbsent(origin, o -> new IdleConnections(MAX_IDLE_CONNECTIONS_PER_UPSTREAM));
    c.reused = true;
    c.idleSinceNanos = System.nanoTime();
    if (!q.offer(c)) {
      c.close();
      return;
    }
    if (closed) {
      // close() may have emptied this pool between the check above and the offer.
      for (HttpConnection left = q.pollOldest(); left != null; left = q.pollOldest()) {
        left.close();
      }
      return;
    }
    q.closeStale();
  }

  /**
   * One upstream's idle keep-alive connections, most recently used last, with their count kept
   * alongside ({@link ConcurrentLinkedDeque#size} walks the whole deque: ~2% of an unbilled
   * request's CPU with 64 connections idle, docs/BENCHMARKS.md session 9).
   */
  static final class IdleConnections {
    private final ConcurrentLinkedDeque<HttpConnection> deque = new ConcurrentLinkedDeque<>();
    /**
     * Connections in {@link #deque} plus offers under way, never above {@link #capacity}: an offer
     * claims a place only while there is one (as {@code billing.BoundedQueue} does).
     */
    private final AtomicInteger count = new AtomicInteger();
    private final int capacity;

    IdleConnections(int capacity) {
      this.capacity = capacity;
    }

    /** Adds {@code c} unless {@code capacity} connections are idle already. */
    boolean offer(HttpConnection c) {
      for (int n = count.get(); ; n = count.get()) {
        if (n >= capacity) {
          return false;
        }
        if (count.compareAndSet(n, n + 1)) {
          break;
        }
      }
      deque.offerLast(c);
      return true;
    }

    @Nullable HttpConnection pollNewest() {
      HttpConnection c = deque.pollLast();
      if (c != null) {
        count.decrementAndGet();
      }
      return c;
    }

    @Nullable HttpConnection pollOldest() {
      HttpConnection c = deque.pollFirst();
      if (c != null) {
        count.decrementAndGet();
      }
      return c;
    }

    /** Oldest first: closes what has idled too long, so idle sockets do not pile up after a burst. */
    void closeStale() {
      for (HttpConnection old = deque.peekFirst(); old != null && System.nanoTime() - old.idleSinceNanos >= MAX_IDLE_NANOS; old = deque.peekFirst()) {
        if (deque.remove(old)) {
          count.decrementAndGet();
          old.close();
        }
      }
    }

    int size() {
      return count.get();
    }
  }

  private static UpstreamException failure(Replica replica, IOException e, int readTimeoutMillis) {
    return switch (e) {
      case HttpConnection.ConnectFailure f when f.getCause() instanceof SocketTimeoutException ->
          new UpstreamException(UpstreamException.Kind.CONNECT, "connect to " + replica.name() + " timed out", 0, null, f);
      case HttpConnection.ConnectFailure f when f.getCause() instanceof ConnectException ->
          new UpstreamException(UpstreamException.Kind.CONNECT, "cannot connect to " + replica.name(), 0, null, f);
      case HttpConnection.ConnectFailure f ->
          new UpstreamException(UpstreamException.Kind.CONNECT, "connection to " + replica.name() + " failed: " + f.getMessage(), 0, null, f);
      case SocketTimeoutException t ->
          new UpstreamException(
              UpstreamException.Kind.FIRST_BYTE_TIMEOUT, replica.name() + " sent no response within " + readTimeoutMillis + " ms", 0, null, t);
      case HttpConnection.ProtocolException p ->
          new UpstreamException(UpstreamException.Kind.PROTOCOL, replica.name() + " broke HTTP/1.1: " + p.getMessage(), 0, null, p);
      case EOFException eof ->
          new UpstreamException(UpstreamException.Kind.CONNECT, replica.name() + " closed the connection without answering", 0, null, eof);
      default -> new UpstreamException(UpstreamException.Kind.CONNECT, "connection to " + replica.name() + " failed: " + e.getMessage(), 0, null, e);
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
    closed = true;
    for (IdleConnections q : idle.values()) {
      for (HttpConnection c = q.pollOldest(); c != null; c = q.pollOldest()) {
        c.close();
      }
    }
    idle.clear();
  }

  /**
   * A response body framed by {@code Content-Length}, chunked coding or the connection's close.
   * At its end the connection goes back to the pool (when the server keeps it alive); closed
   * before its end, the connection is closed. {@link #close} may come from another thread (the
   * watchdog) while a read is blocked: it closes the socket, and the read fails with an
   * {@link IOException}.
   */
  private static final class Body extends InputStream {
    private final UpstreamClient client;
    private final String origin;
    private final HttpConnection c;
    private final boolean chunked;
    private final boolean keepAlive;
    /** Bytes left in the body (Content-Length) or in the current chunk; -1 until delimited by close. */
    private long remaining;
    private boolean ended;
    private volatile boolean done;

    Body(UpstreamClient client, String origin, HttpConnection c, HttpConnection.Head head, boolean noBody) {
      this.client = client;
      this.origin = origin;
      this.c = c;
      this.chunked = head.chunked();
      this.keepAlive = head.keepAlive();
      this.remaining = chunked ? 0 : head.contentLength();
      if (noBody || head.status() == 204 || head.status() == 304 || (!chunked && remaining == 0)) {
        end();
      }
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (ended) {
        return -1;
      }
      if (done) {
        throw new IOException("the response was closed");
      }
      if (len == 0) {
        return 0;
      }
      if (chunked && remaining == 0 && !nextChunk()) {
        return -1;
      }
      int want = remaining >= 0 ? (int) Math.min(len, remaining) : len;
      int n = c.read(b, off, want);
      if (n < 0) {
        if (remaining < 0) {
          end();
          return -1;
        }
        throw new EOFException("the upstream closed the connection in the middle of the response body");
      }
      if (remaining >= 0) {
        remaining -= n;
        if (remaining == 0) {
          if (chunked) {
            String crlf = c.readShortLine();
            if (!crlf.isEmpty()) {
              throw new HttpConnection.ProtocolException("chunk data not followed by CRLF");
            }
          } else {
            end();
          }
        }
      }
      return n;
    }

    /** Reads the next chunk-size line; at the last chunk reads the trailers and ends the body. */
    private boolean nextChunk() throws IOException {
      String line = c.readShortLine();
      int semicolon = line.indexOf(';');
      String hex = (semicolon >= 0 ? line.substring(0, semicolon) : line).trim();
      long size;
      try {
        size = Long.parseLong(hex, 16);
      } catch (NumberFormatException e) {
        throw new HttpConnection.ProtocolException("bad chunk size line");
      }
      if (size < 0) {
        throw new HttpConnection.ProtocolException("bad chunk size line");
      }
      if (size == 0) {
        for (String trailer = c.readShortLine(); !trailer.isEmpty(); trailer = c.readShortLine()) {
          // Trailers carry nothing the gateway uses.
        }
        end();
        return false;
      }
      remaining = size;
      return true;
    }

    private void end() {
      ended = true;
      if (!done) {
        done = true;
        if (keepAlive) {
          client.release(origin, c);
        } else {
          c.close();
        }
      }
    }

    @Override
    public void close() {
      if (!done) {
        done = true;
        c.close();
      }
    }
  }
}
