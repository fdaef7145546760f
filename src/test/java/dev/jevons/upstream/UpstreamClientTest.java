package dev.jevons.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class UpstreamClientTest {
  private final CountDownLatch release = new CountDownLatch(1);
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
      byte[] body = "{\"ok\":true}".getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    });
    server.createContext("/v1/silent", ex -> {
      ex.getRequestBody().readAllBytes();
      try {
        release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      ex.close();
    });
    server.start();
    scheduler = Executors.newSingleThreadScheduledExecutor();
    watchdog = new Watchdog(scheduler, System::nanoTime, 10);
    client = new UpstreamClient(new ObjectMapper(), Duration.ofSeconds(5), Duration.ofSeconds(30), watchdog);
    impatient = new UpstreamClient(new ObjectMapper(), Duration.ofSeconds(5), Duration.ofMillis(200), watchdog);
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
