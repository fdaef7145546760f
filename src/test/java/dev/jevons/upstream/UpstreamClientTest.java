package dev.jevons.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class UpstreamClientTest {
  private final CountDownLatch release = new CountDownLatch(1);
  private final CountDownLatch clientLeft = new CountDownLatch(1);
  private final Set<Integer> clientPorts = ConcurrentHashMap.newKeySet();
  private final Set<String> authorizations = ConcurrentHashMap.newKeySet();
  private HttpServer server;
  private ScheduledExecutorService scheduler;
  private Watchdog watchdog;
  private UpstreamClient client;
  private UpstreamClient impatient;

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/v1/ok", ex -> {
      ex.getRequestBody().readAllBytes();
      clientPorts.add(ex.getRemoteAddress().getPort());
      String auth = ex.getRequestHeaders().getFirst("Authorization");
      if (auth != null) {
        authorizations.add(auth);
      }
      byte[] body = "{\"ok\":true}".getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    });
    server.createContext("/v1/silent", ex -> {
      ex.getRequestBody().readAllBytes();
      holdUntilReleased(ex);
    });
    // An endless event stream, as a generation would be; it stops when a write finds the client gone.
    server.createContext("/v1/stream", ex -> {
      ex.getRequestBody().readAllBytes();
      ex.getResponseHeaders().add("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      try (OutputStream out = ex.getResponseBody()) {
        for (int i = 0; i < 3_000; i++) {
          out.write(("data: {\"n\":" + i + "}\n\n").getBytes(StandardCharsets.UTF_8));
          out.flush();
          Thread.sleep(10);
        }
      } catch (IOException e) {
        clientLeft.countDown();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    // Sends its headers and first event, then nothing.
    server.createContext("/v1/stall", ex -> {
      ex.getRequestBody().readAllBytes();
      ex.sendResponseHeaders(200, 0);
      ex.getResponseBody().write("data: {}\n\n".getBytes(StandardCharsets.UTF_8));
      ex.getResponseBody().flush();
      holdUntilReleased(ex);
    });
    // An error status whose body never comes.
    server.createContext("/v1/stalled-error", ex -> {
      ex.getRequestBody().readAllBytes();
      ex.sendResponseHeaders(500, 100);
      ex.getResponseBody().flush();
      holdUntilReleased(ex);
    });
    server.start();
    scheduler = Executors.newSingleThreadScheduledExecutor();
    watchdog = new Watchdog(scheduler, System::nanoTime, 10);
    client = new UpstreamClient(new ObjectMapper(), Duration.ofSeconds(5), Duration.ofSeconds(30), watchdog);
    impatient = new UpstreamClient(new ObjectMapper(), Duration.ofSeconds(5), Duration.ofMillis(200), watchdog);
  }

  /** Keeps an exchange open, sending nothing more, until the test ends (or 30 s). */
  private void holdUntilReleased(HttpExchange ex) {
    try {
      release.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    ex.close();
  }

  @AfterEach
  void stop() {
    release.countDown();
    client.close();
    impatient.close();
    watchdog.close();
    scheduler.shutdownNow();
    server.stop(0);
  }

  private Replica replica(int port) {
    return new Replica("test", URI.create("http://127.0.0.1:" + port + "/v1"), null, List.of("m"), 10, 1, 10_000);
  }

  private int port() {
    return server.getAddress().getPort();
  }

  private static byte[] json() {
    return "{}".getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void reuses_one_keep_alive_connection_for_sequential_requests() throws Exception {
    for (int i = 0; i < 5; i++) {
      try (UpstreamClient.Response res = client.post(replica(port()), "/ok", json())) {
        res.body().readAllBytes();
      }
    }
    assertThat(clientPorts).hasSize(1);
  }

  /** The pool's count of idle connections stays exact under concurrent returns and takes. */
  @Test
  void concurrent_requests_return_every_connection_to_the_pool_once() throws Exception {
    int threads = 24;
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> workers = new java.util.ArrayList<>();
    java.util.concurrent.atomic.AtomicInteger failures = new java.util.concurrent.atomic.AtomicInteger();
    for (int t = 0; t < threads; t++) {
      workers.add(Thread.ofVirtual().start(() -> {
        try {
          go.await();
          for (int i = 0; i < 30; i++) {
            try (UpstreamClient.Response res = client.post(replica(port()), "/ok", json())) {
              res.body().readAllBytes();
            }
          }
        } catch (Exception e) {
          failures.incrementAndGet();
        }
      }));
    }
    go.countDown();
    for (Thread w : workers) {
      w.join();
    }
    assertThat(failures).hasValue(0);
    String origin = "http://127.0.0.1:" + port();
    int opened = clientPorts.size();
    assertThat(opened).isBetween(1, threads);
    assertThat(client.idleConnections(origin)).as("every connection opened is idle again, counted once").isEqualTo(opened);
    // Sequential requests take pooled connections and give them back: nothing new is opened.
    for (int i = 0; i < 10; i++) {
      try (UpstreamClient.Response res = client.post(replica(port()), "/ok", json())) {
        res.body().readAllBytes();
      }
    }
    assertThat(clientPorts).hasSize(opened);
    assertThat(client.idleConnections(origin)).isEqualTo(opened);
  }

  @Test
  void sends_the_upstream_api_key_as_a_bearer_token() throws Exception {
    Replica keyed = new Replica("keyed", URI.create("http://127.0.0.1:" + port() + "/v1"), "sk-upstream", List.of("m"), 10, 1, 10_000);
    try (UpstreamClient.Response res = client.post(keyed, "/ok", json())) {
      res.body().readAllBytes();
    }
    assertThat(authorizations).containsExactly("Bearer sk-upstream");
  }

  @Test
  void closing_a_body_before_its_end_closes_the_connection_so_the_server_sees_the_client_leave() throws Exception {
    try (UpstreamClient.Response res = client.post(replica(port()), "/stream", json())) {
      assertThat(new String(res.body().readNBytes(10), StandardCharsets.UTF_8)).startsWith("data: ");
    }
    assertThat(clientLeft.await(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void closing_a_body_from_another_thread_unblocks_a_stalled_read_with_an_io_exception() throws Exception {
    UpstreamClient.Response res = client.post(replica(port()), "/stall", json());
    InputStream body = res.body();
    assertThat(new String(body.readNBytes(10), StandardCharsets.UTF_8)).isEqualTo("data: {}\n\n");
    Watchdog.Watch watch = watchdog.watch(TimeUnit.MILLISECONDS.toNanos(100), res::close);
    long start = System.nanoTime();
    assertThatThrownBy(body::read).isInstanceOf(IOException.class);
    assertThat(watch.expired()).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void returns_the_body_of_a_successful_answer() throws Exception {
    try (UpstreamClient.Response res = client.post(replica(server.getAddress().getPort()), "/ok", "{}".getBytes(StandardCharsets.UTF_8))) {
      assertThat(res.status()).isEqualTo(200);
      assertThat(new String(res.body().readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("{\"ok\":true}");
    }
  }

  @Test
  void gives_up_with_a_first_byte_timeout_when_the_server_sends_no_headers() {
    assertThatThrownBy(() -> impatient.post(replica(server.getAddress().getPort()), "/silent", "{}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOfSatisfying(UpstreamException.class, e -> assertThat(e.kind()).isEqualTo(UpstreamException.Kind.FIRST_BYTE_TIMEOUT));
  }

  /** The first-byte watch stays on while an error answer's body is read: a stalled one does not hang the request. */
  @Test
  void an_error_answer_whose_body_stalls_fails_within_the_first_byte_timeout() {
    long start = System.nanoTime();
    assertThatThrownBy(() -> impatient.post(replica(port()), "/stalled-error", json()))
        .isInstanceOfSatisfying(UpstreamException.class, e -> assertThat(e.status()).isEqualTo(500));
    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("not held until the server gives up at 30 s").isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void a_server_closing_a_kept_alive_connection_does_not_fail_the_next_request() throws Exception {
    // Answers one request per connection, then closes it without saying "Connection: close", as a
    // server whose keep-alive timeout ran out does; the client must not fail the next request.
    try (ServerSocket closer = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      Thread.ofVirtual().start(() -> {
        while (!closer.isClosed()) {
          try (java.net.Socket s = closer.accept()) {
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
            int length = 0;
            for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
              if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
              }
            }
            in.skip(length);
            s.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
          } catch (IOException e) {
            // closed at the end of the test
          }
        }
      });
      for (int i = 0; i < 20; i++) {
        try (UpstreamClient.Response res = client.post(replica(closer.getLocalPort()), "/ok", json())) {
          assertThat(new String(res.body().readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("{}");
        }
      }
    }
  }

  @Test
  void reports_a_refused_connection_as_a_connect_failure() throws IOException {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    assertThatThrownBy(() -> client.post(replica(closedPort), "/ok", "{}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOfSatisfying(UpstreamException.class, e -> assertThat(e.kind()).isEqualTo(UpstreamException.Kind.CONNECT));
  }
}
