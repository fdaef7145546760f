package dev.jevons.api;

import dev.jevons.gateway.ClientChannel;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.CloseConnectionException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;

/** The gateway's view of a Helidon response. */
final class HelidonChannel implements ClientChannel {
  private final ServerResponse res;
  private int status;

  HelidonChannel(ServerResponse res) {
    this.res = res;
  }

  int status() {
    return status;
  }

  @Override
  public void header(String name, String value) {
    res.header(name, value);
  }

  @Override
  public void sendJson(int status, byte[] body) {
    this.status = status;
    res.status(status);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(body);
  }

  @Override
  public OutputStream openEventStream() {
    this.status = 200;
    res.status(200);
    res.header(HeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
    res.header(HeaderNames.CACHE_CONTROL, "no-cache");
    // Tells nginx-style proxies in front of Jevons not to buffer the stream.
    res.header("X-Accel-Buffering", "no");
    return new ClientStream(res.outputStream());
  }

  @Override
  public OutputStream openJsonStream() {
    this.status = 200;
    res.status(200);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    return new ClientStream(res.outputStream());
  }

  /**
   * Helidon reports a client that went away as an unchecked exception; the gateway expects the
   * plain {@link IOException} of any OutputStream, so translate at this edge.
   */
  private static final class ClientStream extends FilterOutputStream {
    ClientStream(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      try {
        out.write(b, off, len);
      } catch (UncheckedIOException | CloseConnectionException e) {
        throw new IOException("client connection lost", e);
      }
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void flush() throws IOException {
      try {
        out.flush();
      } catch (UncheckedIOException | CloseConnectionException e) {
        throw new IOException("client connection lost", e);
      }
    }

    @Override
    public void close() throws IOException {
      try {
        out.close();
      } catch (UncheckedIOException | CloseConnectionException e) {
        throw new IOException("client connection lost", e);
      }
    }
  }
}
