package dev.jevons.api;

import dev.jevons.upstream.Watchdog;
import io.helidon.common.buffers.BufferData;
import io.helidon.http.HeaderNames;
import io.helidon.http.Headers;
import io.helidon.http.HttpPrologue;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.http1.Http1ConnectionListener;
import org.jspecify.annotations.Nullable;

/**
 * Enforces {@code server.client_read_timeout_ms} while a request is being received: a client that
 * sends nothing for that long in the middle of its headers or body is disconnected.
 *
 * <p>Why this exists: Helidon 4 ignores the read timeout of its connection options on the server
 * side, and its idle-connection check interrupts a connection only while it waits for a request
 * line. Without this, a client that stalls after the request line holds a connection and its
 * thread until it goes away (slowloris).
 *
 * <p>Concurrency: Helidon receives a request and runs its handler on one virtual thread per
 * connection, so the deadline of the request being received lives in a thread-local of that
 * thread. It is armed when the request line has been read, extended on every read from the
 * socket, and removed once the headers say there is no body or the handler has read the body.
 * On expiry the thread is interrupted, which closes a socket it is blocked reading. The deadline is
 * checked by the shared {@link Watchdog}, so it is approximate by the watchdog's resolution.
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
      extend();
    }
  }

  @Override
  public void data(ConnectionContext ctx, BufferData data) {
    extend();
  }

  @Override
  public void data(ConnectionContext ctx, byte[] bytes, int offset, int length) {
    extend();
  }

  /** The whole request has been received; from here on the server, not the client, is waited for. */
  void received() {
    Watchdog.Watch w = current.get();
    if (w != null) {
      w.close();
      current.remove();
    }
  }

  private void extend() {
    Watchdog.Watch w = current.get();
    if (w != null) {
      w.extend(timeoutNanos);
    }
  }
}
