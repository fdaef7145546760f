package dev.jevons.api;

import dev.jevons.TestApps;
import dev.jevons.TestFunds;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.cli.JevonsApp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Abuse of the HTTP/1.1 protocol itself, over plain sockets: each gets an error in the documented
 * shape or a clean close, never a hang, and the server goes on answering everyone else.
 */
@Timeout(10)
class ProtocolAbuseTest {
  static final int MAX_HEADER_BYTES = 2048;
  static final int CLIENT_READ_TIMEOUT_MILLIS = 1000;
  /** Far above the read timeout so a server that never disconnects fails the test, not hangs it. */
  static final int SOCKET_WAIT_MILLIS = 7000;
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path tmp;
  static JevonsApp app;
  static ApiClient api;
  static String key;

  @BeforeAll
  static void start() {
    app =
        JevonsApp.start(
            TestApps.instant(tmp)
                .override("server.max_header_bytes", MAX_HEADER_BYTES)
                .override("server.client_read_timeout_ms", CLIENT_READ_TIMEOUT_MILLIS)
                .load());
    api = new ApiClient(app.port());
    var account = app.accounts().createAccount("abuse");
    TestFunds.fund(app, account.id());
    key = app.accounts().issueKey(account.id(), "k", Set.of(), null).secret();
  }

  @AfterAll
  static void stop() {
    if (app != null) {
      app.close();
    }
  }

  @AfterEach
  void server_still_answers() {
    assertThat(api.get("/health", null).statusCode()).isEqualTo(200);
    String chat = "{\"model\":\"sim-chat\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    // A fresh client: with a 1 s idle timeout a pooled connection may be closed by the server just
    // as it is reused, and the JDK client does not retry a POST.
    assertThat(new ApiClient(app.port()).post("/v1/chat/completions", key, chat).statusCode()).isEqualTo(200);
  }

  /** What came back on a raw connection: a parsed response, or nothing before the close. */
  record Raw(int status, String head, String body) {
    boolean closedWithoutAnswer() {
      return status == 0;
    }
  }

  private static Socket connect() throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", app.port()), SOCKET_WAIT_MILLIS);
    s.setSoTimeout(SOCKET_WAIT_MILLIS);
    return s;
  }

  /** Sends the bytes and reads until the server closes; a write refused by an early close is fine. */
  private static Raw exchange(byte[] request) throws IOException {
    try (Socket s = connect()) {
      try {
        OutputStream out = s.getOutputStream();
        out.write(request);
        out.flush();
      } catch (SocketException e) {
        // The server may answer and close before it has read everything we meant to send.
      }
      return parse(readUntilClosed(s.getInputStream()));
    }
  }

  private static byte[] readUntilClosed(InputStream in) throws IOException {
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    try {
      for (int n; (n = in.read(buf)) >= 0; ) {
        got.write(buf, 0, n);
      }
    } catch (SocketTimeoutException e) {
      throw new AssertionError(
          "the server neither answered nor closed within " + SOCKET_WAIT_MILLIS + " ms; got so far: "
              + got.toString(StandardCharsets.ISO_8859_1));
    } catch (SocketException e) {
      // A reset after the answer, or instead of it, still ends the exchange cleanly for us.
    }
    return got.toByteArray();
  }

  private static Raw parse(byte[] bytes) {
    String all = new String(bytes, StandardCharsets.UTF_8);
    if (all.isEmpty()) {
      return new Raw(0, "", "");
    }
    assertThat(all).as("raw answer").startsWith("HTTP/1.1 ");
    int end = all.indexOf("\r\n\r\n");
    assertThat(end).as("end of head in %s", all).isPositive();
    int status = Integer.parseInt(all.substring(9, 12));
    return new Raw(status, all.substring(0, end), all.substring(end + 4));
  }

  /** An error response must carry the documented JSON body; a close without an answer is allowed. */
  private static void assertErrorOrClose(Raw raw, Set<Integer> statuses) throws IOException {
    if (raw.closedWithoutAnswer()) {
      return;
    }
    assertThat(raw.status()).as(raw.head()).isIn(statuses);
    assertThat(raw.head().toLowerCase()).contains("content-type: application/json");
    JsonNode error = JSON.readTree(raw.body()).get("error");
    assertThat(error).as(raw.body()).isNotNull();
    assertThat(error.get("message").asText()).isNotBlank();
    assertThat(error.get("code").asText()).isNotBlank();
    assertThat(error.has("param")).isTrue();
    assertThat(error.get("type").asText()).isNotBlank();
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  @Test
  void answers_one_huge_header_with_an_error_naming_the_limit() throws IOException {
    Raw raw = exchange(ascii("GET /health HTTP/1.1\r\nHost: x\r\nX-Flood: " + "a".repeat(MAX_HEADER_BYTES * 10) + "\r\n\r\n"));
    assertErrorOrClose(raw, Set.of(400, 431));
    if (!raw.closedWithoutAnswer()) {
      assertThat(raw.body()).contains(Integer.toString(MAX_HEADER_BYTES));
    }
  }

  @Test
  void answers_a_flood_of_small_headers_with_an_error() throws IOException {
    StringBuilder req = new StringBuilder("GET /health HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 2000; i++) {
      req.append("X-H").append(i).append(": v\r\n");
    }
    assertErrorOrClose(exchange(ascii(req.append("\r\n").toString())), Set.of(400, 431));
  }

  @Test
  void answers_a_garbage_request_line_with_a_bad_request() throws IOException {
    assertErrorOrClose(exchange(ascii("HELLO THERE\r\n\r\n")), Set.of(400));
    assertErrorOrClose(exchange(ascii("GET\r\n\r\n")), Set.of(400));
    assertErrorOrClose(exchange(ascii("GET /health HTTP/9.9\r\nHost: x\r\n\r\n")), Set.of(400, 505));
  }

  @Test
  void answers_binary_noise_with_a_bad_request_or_a_close() throws IOException {
    byte[] noise = new byte[4096];
    new java.util.Random(7).nextBytes(noise);
    assertErrorOrClose(exchange(noise), Set.of(400, 414, 431));
  }

  @Test
  void answers_an_overlong_request_line_with_an_error() throws IOException {
    assertErrorOrClose(
        exchange(ascii("GET /" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: x\r\n\r\n")), Set.of(400, 414));
  }

  @Test
  void answers_a_bad_content_length_with_a_bad_request() throws IOException {
    assertErrorOrClose(
        exchange(ascii("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n{}")),
        Set.of(400));
    assertErrorOrClose(
        exchange(ascii("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}")),
        Set.of(400));
  }

  @Test
  void answers_malformed_chunking_with_an_error_or_a_close() throws IOException {
    Raw raw =
        exchange(
            ascii(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
                    + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"));
    assertErrorOrClose(raw, Set.of(400));
  }

  @Test
  void answers_ambiguous_framing_and_odd_headers_without_a_server_error() throws IOException {
    String auth = "Authorization: Bearer " + key + "\r\n";
    String body = "{\"model\":\"sim-chat\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    String post = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth;
    String[] requests = {
      post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      post + "Content-Length: 5\r\nContent-Length: 7\r\n\r\n{}{}{}{",
      post + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
      post + "Content-Length: 2, 2\r\n\r\n{}",
      post + "Transfer-Encoding: gzip\r\n\r\n" + body,
      post + "Transfer-Encoding: xchunked\r\n\r\n" + body,
      post + "Content-Encoding: gzip\r\nContent-Length: " + body.length() + "\r\n\r\n" + body,
      post + "X-Folded: a\r\n  b\r\nContent-Length: 2\r\n\r\n{}",
      post + "NoColonHere\r\nContent-Length: 2\r\n\r\n{}",
      post + "X-Nul: a\u0000b\r\nContent-Length: 2\r\n\r\n{}",
      "POST /v1/chat/completions HTTP/1.1\r\nConnection: close\r\n" + auth + "Content-Length: 2\r\n\r\n{}",
      "POST /v1/chat/completions HTTP/1.0\r\n" + auth + "Content-Length: " + body.length() + "\r\n\r\n" + body,
      "GET /health?x=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    for (String r : requests) {
      Raw raw = exchange(ascii(r));
      if (raw.closedWithoutAnswer()) {
        continue;
      }
      assertThat(raw.status()).as("answer to %s: %s", r, raw.head()).isLessThan(500);
      if (raw.status() >= 300) {
        assertErrorOrClose(raw, Set.of(raw.status()));
      }
    }
  }

  @Test
  void disconnects_a_client_that_stalls_in_its_headers_while_serving_others() throws IOException {
    try (Socket slow = connect()) {
      slow.getOutputStream().write(ascii("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-"));
      slow.getOutputStream().flush();
      for (int i = 0; i < 5; i++) {
        assertThat(api.get("/health", null).statusCode()).isEqualTo(200);
      }
      assertErrorOrClose(parse(readUntilClosed(slow.getInputStream())), Set.of(400, 408));
    }
  }

  @Test
  void disconnects_a_client_that_stalls_in_its_body_while_serving_others() throws IOException {
    try (Socket slow = connect()) {
      slow.getOutputStream().write(
          ascii(
              "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
                  + "\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"model\":"));
      slow.getOutputStream().flush();
      for (int i = 0; i < 5; i++) {
        assertThat(api.get("/health", null).statusCode()).isEqualTo(200);
      }
      assertErrorOrClose(parse(readUntilClosed(slow.getInputStream())), Set.of(400, 408));
    }
  }

  @Test
  void serves_a_slow_body_that_keeps_coming_for_longer_than_the_read_timeout() throws Exception {
    String body = "{\"model\":\"sim-chat\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    String head =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + key
            + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n";
    byte[] rest = ascii(body);
    int pieces = 6;
    try (Socket s = connect()) {
      OutputStream out = s.getOutputStream();
      out.write(ascii(head));
      for (int i = 0; i < pieces; i++) {
        // The pauses are the input under test, not synchronisation: each is well inside the read
        // timeout, and together they are well beyond it.
        Thread.sleep(CLIENT_READ_TIMEOUT_MILLIS / 3);
        out.write(rest, i * rest.length / pieces, (i + 1) * rest.length / pieces - i * rest.length / pieces);
        out.flush();
      }
      Raw raw = parse(readUntilClosed(s.getInputStream()));
      assertThat(raw.status()).as(raw.head() + raw.body()).isEqualTo(200);
    }
  }

  @Test
  void keeps_a_connection_alive_across_requests() throws IOException {
    String get = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    try (Socket s = connect()) {
      s.getOutputStream().write(ascii(get + get + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
      s.getOutputStream().flush();
      String all = new String(readUntilClosed(s.getInputStream()), StandardCharsets.UTF_8);
      assertThat(all.split("HTTP/1.1 200 OK", -1)).hasSize(4);
    }
  }

  @Test
  void survives_many_connections_opened_and_abandoned() throws IOException {
    List<Socket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < 300; i++) {
        Socket s = connect();
        sockets.add(s);
        switch (i % 4) {
          case 0 -> {} // nothing at all
          case 1 -> s.getOutputStream().write(ascii("GET /hea"));
          case 2 -> s.getOutputStream().write(ascii("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"));
          default -> s.getOutputStream().write(ascii("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
        }
      }
      assertThat(api.get("/health", null).statusCode()).isEqualTo(200);
    } finally {
      for (Socket s : sockets) {
        try {
          // An abortive close (RST), the rudest way to leave.
          s.setSoLinger(true, 0);
          s.close();
        } catch (IOException e) {
          // already gone
        }
      }
    }
  }
}
