package dev.jevons.api;

import dev.jevons.gateway.ClientChannel;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import java.io.OutputStream;

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
    return res.outputStream();
  }
}
