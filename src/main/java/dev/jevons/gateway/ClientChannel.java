package dev.jevons.gateway;

import java.io.IOException;
import java.io.OutputStream;

/**
 * The client side of one request, implemented by the HTTP layer. The gateway answers exactly once:
 * either a whole JSON body or an event stream it writes and flushes event by event.
 */
public interface ClientChannel {
  /** Sets a response header; only before the response is committed. */
  void header(String name, String value);

  void sendJson(int status, byte[] body);

  /** Commits a 200 {@code text/event-stream} response; write {@code data: ...\n\n} events to it. */
  OutputStream openEventStream() throws IOException;

  /** Commits a 200 {@code application/json} response whose body is written incrementally. */
  OutputStream openJsonStream() throws IOException;
}
