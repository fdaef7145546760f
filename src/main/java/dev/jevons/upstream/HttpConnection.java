package dev.jevons.upstream;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * One HTTP/1.1 connection to an inference server, read and written by one thread at a time (the
 * request's own virtual thread); {@link #close} may come from any thread and unblocks a read.
 *
 * <p>Why not a library client: every open stream holds its connection for minutes, and what a
 * connection holds is what limits how many streams one gateway can relay. This class holds a
 * socket and one small read buffer ({@link #BUFFER_BYTES}); response bodies larger than the buffer
 * are read straight into the caller's array. It speaks exactly what the gateway needs: a request
 * with a small body, a response with {@code Content-Length}, chunked transfer coding, or a body
 * delimited by the connection's close; keep-alive unless the server says {@code Connection:
 * close}. Anything else from the server is a {@link ProtocolException}.
 */
final class HttpConnection implements AutoCloseable {
  static final int BUFFER_BYTES = 2048;
  /** Status line and headers together; an inference server's are a few hundred bytes. */
  static final int MAX_HEAD_BYTES = 64 * 1024;

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private final byte[] buf = new byte[BUFFER_BYTES];
  private int pos;
  private int lim;
  private volatile boolean closed;
  /** Monotonic time the connection went back to the pool; 0 while in use. */
  long idleSinceNanos;
  /** Whether it served an exchange before (so a failure before any response byte may be a stale reuse). */
  boolean reused;
  /** Closed after its exchange instead of pooled (an error answer read under a watch that may still close it). */
  volatile boolean discardAfterUse;

  /** A response's status line and the headers that frame its body. */
  record Head(int status, long contentLength, boolean chunked, boolean keepAlive) {}

  /** The server broke the HTTP/1.1 framing. */
  static final class ProtocolException extends IOException {
    ProtocolException(String message) {
      super(message);
    }
  }

  /** Failed to establish the connection (TCP connect or TLS handshake). */
  static final class ConnectFailure extends IOException {
    ConnectFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private HttpConnection(Socket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
  }

  static HttpConnection open(URI base, int connectTimeoutMillis, int readTimeoutMillis) throws IOException {
    String host = base.getHost();
    int port = base.getPort();
    Socket socket = new Socket();
    try {
      // Requests and SSE events are small writes that must not wait for Nagle's algorithm.
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(readTimeoutMillis);
      try {
        socket.connect(new InetSocketAddress(host, port), connectTimeoutMillis);
      } catch (IOException e) {
        throw new ConnectFailure(e instanceof SocketTimeoutException ? "connect timed out" : String.valueOf(e.getMessage()), e);
      }
      if ("https".equals(base.getScheme())) {
        SSLSocket tls = (SSLSocket) ((SSLSocketFactory) SSLSocketFactory.getDefault()).createSocket(socket, host, port, true);
        SSLParameters params = tls.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        tls.setSSLParameters(params);
        try {
          tls.startHandshake();
        } catch (IOException e) {
          tls.close();
          throw new ConnectFailure("TLS handshake failed: " + e.getMessage(), e);
        }
        return new HttpConnection(tls);
      }
      return new HttpConnection(socket);
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  void readTimeoutMillis(int millis) throws IOException {
    socket.setSoTimeout(millis);
  }

  /** Writes a request (head and body) in one write. */
  void send(String method, String target, String hostHeader, String contentType, String accept, @org.jspecify.annotations.Nullable String bearer, byte[] body)
      throws IOException {
    StringBuilder head = new StringBuilder(200 + target.length());
    head.append(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: ").append(hostHeader).append("\r\n");
    if (body.length > 0 || method.equals("POST")) {
      head.append("Content-Type: ").append(contentType).append("\r\nContent-Length: ").append(body.length).append("\r\n");
    }
    head.append("Accept: ").append(accept).append("\r\n");
    if (bearer != null) {
      head.append("Authorization: Bearer ").append(bearer).append("\r\n");
    }
    head.append("\r\n");
    byte[] h = head.toString().getBytes(StandardCharsets.ISO_8859_1);
    byte[] all = new byte[h.length + body.length];
    System.arraycopy(h, 0, all, 0, h.length);
    System.arraycopy(body, 0, all, h.length, body.length);
    out.write(all);
    out.flush();
  }

  /**
   * Reads the status line and headers (skipping 1xx answers). Throws {@link EOFException} when the
   * server closed the connection before sending a byte of them.
   */
  Head readHead() throws IOException {
    while (true) {
      int[] budget = {MAX_HEAD_BYTES};
      String statusLine = readLine(budget, true);
      if (!statusLine.startsWith("HTTP/1.")) {
        throw new ProtocolException("not an HTTP/1.x status line: " + printable(statusLine));
      }
      boolean http10 = statusLine.startsWith("HTTP/1.0");
      int status;
      try {
        status = Integer.parseInt(statusLine.substring(9, 12));
      } catch (RuntimeException e) {
        throw new ProtocolException("bad status line: " + printable(statusLine));
      }
      long length = -1;
      boolean chunked = false;
      boolean keepAlive = !http10;
      for (String line = readLine(budget, false); !line.isEmpty(); line = readLine(budget, false)) {
        int colon = line.indexOf(':');
        if (colon <= 0) {
          throw new ProtocolException("bad header line: " + printable(line));
        }
        String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = line.substring(colon + 1).trim();
        switch (name) {
          case "content-length" -> {
            try {
              long l = Long.parseLong(value);
              if (l < 0 || (length >= 0 && l != length)) {
                throw new ProtocolException("bad Content-Length: " + printable(value));
              }
              length = l;
            } catch (NumberFormatException e) {
              throw new ProtocolException("bad Content-Length: " + printable(value));
            }
          }
          case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).endsWith("chunked");
          case "connection" -> {
            String v = value.toLowerCase(Locale.ROOT);
            if (v.contains("close")) {
              keepAlive = false;
            } else if (v.contains("keep-alive")) {
              keepAlive = true;
            }
          }
          default -> {
            // Nothing else frames the body.
          }
        }
      }
      if (status >= 100 && status < 200) {
        continue;
      }
      if (chunked) {
        length = -1;
      }
      // A body ended by the connection's close cannot leave the connection reusable.
      return new Head(status, length, chunked, keepAlive && (chunked || length >= 0));
    }
  }

  /** A line without its CRLF (a bare LF is accepted), charged against the head's byte budget. */
  String readLine(int[] budget, boolean first) throws IOException {
    StringBuilder line = new StringBuilder(64);
    boolean any = false;
    while (true) {
      if (pos == lim && fill() < 0) {
        if (first && !any) {
          throw new EOFException("the server closed the connection before answering");
        }
        throw new ProtocolException("the connection closed in the middle of the response head");
      }
      any = true;
      byte b = buf[pos++];
      if (--budget[0] < 0) {
        throw new ProtocolException("the response head is larger than " + MAX_HEAD_BYTES + " bytes");
      }
      if (b == '\n') {
        int n = line.length();
        if (n > 0 && line.charAt(n - 1) == '\r') {
          line.setLength(n - 1);
        }
        return line.toString();
      }
      line.append((char) (b & 0xff));
    }
  }

  /** Chunk-size lines and trailers: short lines, bounded. */
  String readShortLine() throws IOException {
    int[] budget = {4096};
    return readLine(budget, false);
  }

  /** Reads up to {@code len} bytes: buffered ones first, then straight from the socket. */
  int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    if (pos < lim) {
      int n = Math.min(len, lim - pos);
      System.arraycopy(buf, pos, b, off, n);
      pos += n;
      return n;
    }
    if (len >= buf.length) {
      return in.read(b, off, len);
    }
    if (fill() < 0) {
      return -1;
    }
    int n = Math.min(len, lim - pos);
    System.arraycopy(buf, pos, b, off, n);
    pos += n;
    return n;
  }

  private int fill() throws IOException {
    pos = 0;
    lim = 0;
    int n = in.read(buf, 0, buf.length);
    if (n > 0) {
      lim = n;
    }
    return n;
  }

  /** Bytes already read from the socket and not yet consumed: a clean pooled connection has none. */
  boolean hasBufferedBytes() {
    return pos < lim;
  }

  boolean isClosed() {
    return closed;
  }

  @Override
  public void close() {
    closed = true;
    try {
      socket.close();
    } catch (IOException e) {
      // Closing is how a connection is abandoned; nothing more to do.
    }
  }

  private static String printable(String s) {
    String t = s.length() > 100 ? s.substring(0, 100) + "..." : s;
    return t.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
