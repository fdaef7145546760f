package dev.jevons.gateway;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * The answer to one client, which may be committed early: a queued streaming request receives
 * {@code : keep-alive} comments while it waits, and a queued non-streaming one may receive
 * leading blank lines (DeepSeek's behaviour, valid JSON whitespace). Once committed, an error can
 * no longer change the status, so it is written in the body instead.
 */
final class ClientResponse {
  private static final byte[] KEEP_ALIVE_COMMENT = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] BLANK_LINE = "\n".getBytes(StandardCharsets.US_ASCII);

  private final ClientChannel channel;
  private final boolean stream;
  private final boolean blankLinesWhileWaiting;
  private @Nullable OutputStream out;

  ClientResponse(ClientChannel channel, boolean stream, boolean blankLinesWhileWaiting) {
    this.channel = channel;
    this.stream = stream;
    this.blankLinesWhileWaiting = blankLinesWhileWaiting;
  }

  boolean committed() {
    return out != null;
  }

  boolean stream() {
    return stream;
  }

  /** The SSE body, committing the 200 response if it is not yet. */
  OutputStream eventStream() throws IOException {
    if (out == null) {
      out = channel.openEventStream();
    }
    return out;
  }

  /** Sends a whole JSON answer, into the already committed body if waiting committed it. */
  void sendJson(int status, byte[] body) throws IOException {
    if (out == null) {
      channel.sendJson(status, body);
      return;
    }
    out.write(body);
    out.close();
  }

  /**
   * Tells a waiting client that the request is alive; returns false when the client is gone. A
   * non-streaming request without blank lines enabled has nothing to send and cannot tell.
   */
  boolean keepAlive() {
    try {
      if (stream) {
        OutputStream o = eventStream();
        o.write(KEEP_ALIVE_COMMENT);
        o.flush();
      } else if (blankLinesWhileWaiting) {
        if (out == null) {
          out = channel.openJsonStream();
        }
        out.write(BLANK_LINE);
        out.flush();
      }
      return true;
    } catch (IOException | UncheckedIOException e) {
      return false;
    }
  }

  /** Writes an error after the status was committed: an SSE error event, or the JSON error body. */
  void failAfterCommit(byte[] errorJson) {
    OutputStream o = out;
    if (o == null) {
      throw new IllegalStateException("not committed");
    }
    try {
      if (stream) {
        o.write("data: ".getBytes(StandardCharsets.US_ASCII));
        o.write(errorJson);
        o.write("\n\ndata: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII));
      } else {
        o.write(errorJson);
      }
      o.close();
    } catch (IOException | UncheckedIOException e) {
      // The client left while we told it about a failure: nothing more to do.
    }
  }
}
