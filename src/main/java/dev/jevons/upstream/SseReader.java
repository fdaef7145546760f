package dev.jevons.upstream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * Reads Server-Sent Events from an upstream body, one event's {@code data} at a time.
 *
 * <p>Lines may arrive split across any number of network reads; the reader keeps the partial line
 * and continues. A line longer than {@code maxLineBytes} is a protocol error rather than a reason
 * to buffer without bound. Comment lines and fields other than {@code data} are skipped;
 * multi-line data is joined with newlines as the SSE specification says.
 */
public final class SseReader {
  private final InputStream in;
  private final int maxLineBytes;
  // Upstream events are a few hundred bytes; a bigger buffer would only hold heap per open stream.
  private final byte[] buf = new byte[2048];
  private int pos;
  private int limit;
  private byte[] line = new byte[256];
  private int lineLen;

  public SseReader(InputStream in, int maxLineBytes) {
    this.in = in;
    this.maxLineBytes = maxLineBytes;
  }

  /** The next event's data, or null at the end of the stream. */
  public @Nullable String nextData() throws IOException {
    StringBuilder data = null;
    while (true) {
      boolean gotLine = readLine();
      if (!gotLine) {
        return data == null ? null : data.toString();
      }
      if (lineLen == 0) {
        if (data != null) {
          return data.toString();
        }
        continue;
      }
      if (line[0] == ':') {
        continue;
      }
      if (startsWith("data:")) {
        int start = 5;
        if (lineLen > 5 && line[5] == ' ') {
          start = 6;
        }
        String value = new String(line, start, lineLen - start, StandardCharsets.UTF_8);
        if (data == null) {
          data = new StringBuilder(value);
        } else {
          data.append('\n').append(value);
        }
      }
    }
  }

  private boolean startsWith(String prefix) {
    if (lineLen < prefix.length()) {
      return false;
    }
    for (int i = 0; i < prefix.length(); i++) {
      if (line[i] != prefix.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** Fills {@code line} with the next line without its terminator; false at end of stream. */
  private boolean readLine() throws IOException {
    lineLen = 0;
    boolean any = false;
    while (true) {
      if (pos == limit) {
        limit = in.read(buf, 0, buf.length);
        pos = 0;
        if (limit <= 0) {
          limit = 0;
          return any;
        }
      }
      any = true;
      int start = pos;
      while (pos < limit && buf[pos] != '\n') {
        pos++;
      }
      append(start, pos);
      if (pos < limit) {
        pos++; // the '\n'
        if (lineLen > 0 && line[lineLen - 1] == '\r') {
          lineLen--;
        }
        return true;
      }
    }
  }

  private void append(int from, int to) throws IOException {
    int n = to - from;
    if (lineLen + n > maxLineBytes) {
      throw new IOException("upstream sent an SSE line longer than " + maxLineBytes + " bytes");
    }
    if (lineLen + n > line.length) {
      byte[] bigger = new byte[Math.min(maxLineBytes, Math.max(line.length * 2, lineLen + n))];
      System.arraycopy(line, 0, bigger, 0, lineLen);
      line = bigger;
    }
    System.arraycopy(buf, from, line, lineLen, n);
    lineLen += n;
  }
}
