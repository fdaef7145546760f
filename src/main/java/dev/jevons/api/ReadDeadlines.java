package dev.jevons.api;

import dev.jevons.upstream.Watchdog;
import io.helidon.http.HeaderNames;
import io.helidon.http.Headers;
import io.helidon.http.HttpPrologue;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.http1.Http1ConnectionListener;
import org.jspecify.annotations.Nullable;

/**
 * Enforces {@code server.client_read_timeout_ms} while a request is being received: the headers
 * must arrive within that time of the request line (as nginx's client_header_timeout), and the
 * body may not pause for longer than that between two reads (as nginx's client_body_timeout).
 * A client that stalls is disconnected.
 *
 * <p>Why this exists: Helidon 4 ignores the read timeout of its connection options on the server
 * side, and its idle-connection check interrupts a connection only while it waits for a request
 * line. Without this, a client that stalls after the request line holds a connection and its
 * thread until it goes away (slowloris). Helidon 4.5 also never delivers the receive listener's
 * data events, so progress on the body is reported by {@link HttpApi#readBody}, not by Helidon.
 *
 * <p>Concurrency: Helidon receives a request and runs its handler on one virtual thread per
 * connection, so the deadline of the request being received lives in a thread-local of that
 * thread. It is armed when the request line has been read, renewed when the headers are complete
 * and after every read of the body, and removed once the headers say there is no body or the
 * handler has read it. On expiry the thread is interrupted, which closes a socket it is blocked
 * reading. The shared {@link Watchdog} checks deadlines, so they are approximate by its resolution;
 * a deadline that expires in the instant the body completes may still interrupt, which only
 * costs that (already slow) client its connection.
 */
final class ReadDeadlines implements Http1ConnectionListener {
  private final Watchdog watchdog;
  private final long timeoutNanos;
  private final ThreadLocal<Watchdog.@Nullable Watch> current = new ThreadLocal<>();

  ReadDeadlines(Watchdog watchdog, long timeoutMillis) {
    this.watchdog = watchdog;
    this.timeoutNanos = timeoutMillis * 1_000_000L;
  }

  @Override
  public void prologue(ConnectionContext ctx, HttpPrologue prologue) {
    received();
    Thread reader = Thread.currentThread();
    current.set(watchdog.watch(timeoutNanos, reader::interrupt));
  }

  @Override
  public void headers(ConnectionContext ctx, Headers headers) {
    ContentLengthCheck.check(headers);
    boolean body =
        headers.contains(HeaderNames.TRANSFER_ENCODING)
            || headers.contentLength().orElse(0) > 0;
    if (!body) {
      received();
    } else {
      progressed();
    }
  }

  /** The whole request has been received; from here on the server, not the client, is waited for. */
  void received() {
    Watchdog.Watch w = current.get();
    if (w != null) {
      w.close();
      current.remove();
    }
  }

  /** The client has sent more of the request. */
  void progressed() {
    Watchdog.Watch w = current.get();
    if (w != null) {
      w.extend(timeoutNanos);
    }
  }
}
