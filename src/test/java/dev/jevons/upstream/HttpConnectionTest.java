package dev.jevons.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The upstream client's HTTP/1.1 framing against a raw socket server that answers exactly as told. */
class HttpConnectionTest {
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  final Watchdog watchdog = new Watchdog(scheduler, System::nanoTime, 100);
  final UpstreamClient client = new UpstreamClient(new ObjectMapper(), Duration.ofSeconds(5), Duration.ofSeconds(10), watchdog);
  final Set<Integer> clientPorts = ConcurrentHashMap.newKeySet();
  ServerSocket server;

  @AfterEach
  void stop() throws IOException {
    client.close();
    watchdog.close();
    scheduler.shutdownNow();
    if (server != null) {
      server.close();
    }
  }

  /** Serves every request on every connection with {@code answer(requestHead)}; closes when told by a null answer. */
  int serve(Function<String, byte[]> answer) throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(() -> {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          clientPorts.add(s.getPort());
          Thread.ofVirtual().start(() -> {
            try (s) {
              InputStream in = s.getInputStream();
              while (true) {
                String head = readHead(in);
                if (head == null) {
                  return;
                }
                int length = 0;
                for (String line : head.split("\r\n")) {
                  if (line.toLowerCase().startsWith("content-length:")) {
                    length = Integer.parseInt(line.substring(15).trim());
                  }
                }
                in.readNBytes(length);
                byte[] out = answer.apply(head);
                if (out == null) {
                  return;
                }
                s.getOutputStream().write(out);
                s.getOutputStream().flush();
              }
            } catch (IOException e) {
              // the client went away
            }
          });
        } catch (IOException e) {
          return;
        }
      }
    });
    return server.getLocalPort();
  }

  static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) >= 0) {
      head.write(b);
      byte[] h = head.toByteArray();
      int n = h.length;
      if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
        return head.toString(StandardCharsets.ISO_8859_1);
      }
    }
    return null;
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  Replica replica(int port) {
    return new Replica("raw", URI.create("http://127.0.0.1:" + port + "/v1"), null, List.of("m"), 10, 1, 10_000);
  }

  String post(int port) throws Exception {
    try (UpstreamClient.Response res = client.post(replica(port), "/chat/completions", bytes("{}"))) {
      return new String(res.body().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void reassembles_a_chunked_body_with_extensions_and_trailers_and_reuses_the_connection() throws Exception {
    int port = serve(head -> bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "6;ext=1\r\ndata: \r\n" + "19\r\n{\"choices\":[],\"id\":\"x\"}\n\n\r\n" + "0\r\nX-Trailer: y\r\n\r\n"));
    for (int i = 0; i < 3; i++) {
      assertThat(post(port)).isEqualTo("data: {\"choices\":[],\"id\":\"x\"}\n\n");
    }
    assertThat(clientPorts).hasSize(1);
  }

  @Test
  void sends_the_request_line_host_and_length_the_server_expects() throws Exception {
    StringBuilder seen = new StringBuilder();
    int port = serve(head -> {
      seen.append(head);
      return bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    });
    assertThat(post(port)).isEqualTo("{}");
    assertThat(seen.toString())
        .startsWith("POST /v1/chat/completions HTTP/1.1\r\n")
        .contains("Host: 127.0.0.1:" + port + "\r\n")
        .contains("Content-Length: 2\r\n")
        .contains("Content-Type: application/json\r\n");
  }

  @Test
  void reads_a_body_ended_by_the_close_of_an_http_1_0_connection() throws Exception {
    assertThat(readUntilClosedAnswer()).isEqualTo("data: [DONE]\n\n");
  }

  /** A server that writes one HTTP/1.0 answer without a length and closes: the close ends the body. */
  private String readUntilClosedAnswer() throws Exception {
    try (ServerSocket once = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      Thread.ofVirtual().start(() -> {
        try (Socket s = once.accept()) {
          readHead(s.getInputStream());
          s.getInputStream().readNBytes(2);
          s.getOutputStream().write(bytes("HTTP/1.0 200 OK\r\n\r\ndata: [DONE]\n\n"));
        } catch (IOException e) {
          // done
        }
      });
      return post(once.getLocalPort());
    }
  }

  @Test
  void a_broken_status_line_or_an_endless_head_is_a_protocol_failure() throws Exception {
    int garbage = serve(head -> bytes("SSH-2.0-OpenSSH\r\n\r\n"));
    assertThatThrownBy(() -> post(garbage))
        .isInstanceOfSatisfying(UpstreamException.class, e -> assertThat(e.kind()).isEqualTo(UpstreamException.Kind.PROTOCOL));
    server.close();
    int endless = serve(head -> bytes("HTTP/1.1 200 OK\r\nX-Big: " + "a".repeat(70_000) + "\r\n\r\n"));
    assertThatThrownBy(() -> post(endless))
        .isInstanceOfSatisfying(UpstreamException.class, e -> assertThat(e.getMessage()).contains("larger than"));
  }

  @Test
  void a_body_cut_short_is_an_io_error_not_a_silent_truncation() throws Exception {
    try (ServerSocket once = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      Thread.ofVirtual().start(() -> {
        try (Socket s = once.accept()) {
          readHead(s.getInputStream());
          s.getInputStream().readNBytes(2);
          s.getOutputStream().write(bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"));
        } catch (IOException e) {
          // done
        }
      });
      UpstreamClient.Response res = client.post(replica(once.getLocalPort()), "/chat/completions", bytes("{}"));
      assertThatThrownBy(() -> res.body().readAllBytes()).isInstanceOf(IOException.class);
      res.close();
    }
  }

  @Test
  void an_error_status_carries_the_upstreams_message() throws Exception {
    int port = serve(head -> bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 40\r\n\r\n{\"error\":{\"message\":\"context too long\"}}"));
    assertThatThrownBy(() -> post(port))
        .isInstanceOfSatisfying(UpstreamException.class, e -> {
          assertThat(e.kind()).isEqualTo(UpstreamException.Kind.STATUS);
          assertThat(e.getMessage()).contains("HTTP 400").contains("context too long");
        });
  }
}
