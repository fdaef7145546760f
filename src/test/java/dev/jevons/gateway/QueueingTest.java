package dev.jevons.gateway;

import dev.jevons.TestFunds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.accounts.Account;
import dev.jevons.cli.JevonsApp;
import dev.jevons.config.ConfigLoader;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Waiting for capacity over real HTTP: one simulated replica with 4 batch slots ({@code small}
 * profile), so a handful of long requests fill it and later ones queue in Jevons.
 */
class QueueingTest {
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  @TempDir Path data;
  JevonsApp app;
  final List<InputStream> open = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (InputStream in : open) {
      in.close();
    }
    if (app != null) {
      app.close();
    }
  }

  String start(Object... overrides) {
    ConfigLoader loader =
        new ConfigLoader()
            .override("server.port", 0)
            .override("data_dir", data.toString())
            .override("sim.profile", "small")
            .override("sim.replicas", 1)
            .override("scheduler.keepalive_interval_ms", 100);
    for (int i = 0; i < overrides.length; i += 2) {
      loader.override((String) overrides[i], overrides[i + 1]);
    }
    app = JevonsApp.start(loader.load());
    return key("tenant");
  }

  String key(String account) {
    Account a = app.accounts().createAccount(account);
    TestFunds.fund(app, a.id());
    return app.accounts().issueKey(a.id(), "k", Set.of(), null).secret();
  }

  HttpRequest request(String key, int maxTokens, boolean stream) {
    String body =
        "{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":" + maxTokens
            + ",\"ignore_eos\":true,\"stream\":" + stream + "}";
    return HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/chat/completions"))
        .timeout(Duration.ofSeconds(60))
        .header("Authorization", "Bearer " + key)
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build();
  }

  /**
   * Fills the replica's four slots with streams that run until closed. On a loaded machine a
   * metrics scrape can be late, which marks the replica saturated for a moment; with a queue of
   * one request the setup is then refused (503), so it tries again: the tests are about what
   * happens once the slots are full.
   */
  void fillSlots(String key) throws Exception {
    for (int i = 0; i < 4; i++) {
      HttpResponse<InputStream> res = http.send(request(key, 5_000, true), HttpResponse.BodyHandlers.ofInputStream());
      for (int attempt = 0; res.statusCode() == 503 && attempt < 50; attempt++) {
        res.body().close();
        Thread.sleep(100);
        res = http.send(request(key, 5_000, true), HttpResponse.BodyHandlers.ofInputStream());
      }
      assertThat(res.statusCode()).isEqualTo(200);
      open.add(res.body());
    }
    waitUntil(() -> app.pool().replicas().get(0).inFlight() == 4);
  }

  static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within 15 s");
      }
      Thread.sleep(20);
    }
  }

  @Test
  void a_queued_stream_receives_keep_alive_comments_then_its_tokens_when_a_slot_frees() throws Exception {
    String key = start();
    fillSlots(key);
    HttpResponse<InputStream> queued = http.send(request(key, 3, true), HttpResponse.BodyHandlers.ofInputStream());
    assertThat(queued.statusCode()).isEqualTo(200);
    BufferedReader reader = new BufferedReader(new InputStreamReader(queued.body(), StandardCharsets.UTF_8));
    assertThat(reader.readLine()).isEqualTo(": keep-alive");
    assertThat(app.admission().queue().size()).isEqualTo(1);
    open.remove(0).close();
    List<String> data = new ArrayList<>();
    for (String line = reader.readLine(); line != null; line = reader.readLine()) {
      if (line.startsWith("data: ")) {
        data.add(line);
      }
    }
    assertThat(data.get(data.size() - 1)).isEqualTo("data: [DONE]");
    assertThat(data).anyMatch(l -> l.contains("\"content\""));
  }

  @Test
  void a_request_that_does_not_start_within_the_queue_deadline_is_ended_with_503() throws Exception {
    String key = start("scheduler.max_wait_ms", 400);
    fillSlots(key);
    HttpResponse<String> res = http.send(request(key, 3, false), HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(503);
    assertThat(res.headers().firstValue("Retry-After")).isPresent();
    assertThat(res.body()).contains("\"code\":\"server_overloaded\"").contains("queue deadline of 400 ms");

    HttpResponse<String> streamed = http.send(request(key, 3, true), HttpResponse.BodyHandlers.ofString());
    assertThat(streamed.statusCode()).as("committed by keep-alives before the deadline").isEqualTo(200);
    assertThat(streamed.body()).startsWith(": keep-alive").contains("\"code\":\"server_overloaded\"").endsWith("data: [DONE]\n\n");
  }

  @Test
  void refuses_at_once_when_the_queue_is_full() throws Exception {
    String key = start("scheduler.queue_max_requests", 1);
    fillSlots(key);
    CompletableFuture<HttpResponse<String>> waiting = http.sendAsync(request(key, 3, false), HttpResponse.BodyHandlers.ofString());
    waitUntil(() -> app.admission().queue().size() == 1);
    HttpResponse<String> res = http.send(request(key, 3, false), HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(503);
    assertThat(res.body()).contains("queue full: 1 requests");
    open.remove(0).close();
    assertThat(waiting.get().statusCode()).isEqualTo(200);
  }

  @Test
  void a_client_that_leaves_is_removed_from_the_queue_at_once() throws Exception {
    String key = start();
    fillSlots(key);
    HttpResponse<InputStream> queued = http.send(request(key, 3, true), HttpResponse.BodyHandlers.ofInputStream());
    new BufferedReader(new InputStreamReader(queued.body(), StandardCharsets.UTF_8)).readLine();
    assertThat(app.admission().queue().size()).isEqualTo(1);
    queued.body().close();
    waitUntil(() -> app.admission().queue().size() == 0);
    assertThat(app.pool().replicas().get(0).inFlight()).isEqualTo(4);
  }

  @Test
  void a_light_tenant_is_served_ahead_of_a_heavy_tenants_backlog() throws Exception {
    String heavy = start();
    String light = key("light");
    List<String> finished = Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      int n = i;
      all.add(http.sendAsync(request(heavy, 8, false), HttpResponse.BodyHandlers.ofString()).thenRun(() -> finished.add("heavy" + n)));
    }
    waitUntil(() -> app.admission().queue().size() >= 8);
    all.add(http.sendAsync(request(light, 8, false), HttpResponse.BodyHandlers.ofString()).thenRun(() -> finished.add("light")));
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get();
    assertThat(finished.indexOf("light")).as("finish order %s", finished).isLessThan(9);
  }

  @Test
  void an_account_in_the_first_band_is_served_ahead_of_a_default_band_backlog_even_under_fifo() throws Exception {
    String tenant = start("scheduler.policy", "fifo");
    Account premium = app.accounts().createAccount("premium");
    TestFunds.fund(app, premium.id());
    app.accounts().setTier(premium.id(), 0, 1);
    String premiumKey = app.accounts().issueKey(premium.id(), "k", Set.of(), null).secret();
    List<String> finished = Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      int n = i;
      all.add(http.sendAsync(request(tenant, 8, false), HttpResponse.BodyHandlers.ofString()).thenRun(() -> finished.add("default" + n)));
    }
    waitUntil(() -> app.admission().queue().size() >= 8);
    all.add(http.sendAsync(request(premiumKey, 8, false), HttpResponse.BodyHandlers.ofString()).thenRun(() -> finished.add("premium")));
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get();
    // FIFO alone would finish it last (13th); its band puts it at the head of the queue.
    assertThat(finished.indexOf("premium")).as("finish order %s", finished).isLessThan(9);
  }

  @Test
  void a_queued_non_streaming_request_receives_leading_blank_lines_when_deepseek_keepalive_is_on() throws Exception {
    String key = start("scheduler.deepseek_keepalive", true);
    fillSlots(key);
    CompletableFuture<HttpResponse<String>> waiting = http.sendAsync(request(key, 3, false), HttpResponse.BodyHandlers.ofString());
    waitUntil(() -> app.admission().queue().size() == 1);
    Thread.sleep(300); // a few keep-alive intervals of 100 ms pass while it waits
    open.remove(0).close();
    HttpResponse<String> res = waiting.get();
    assertThat(res.statusCode()).isEqualTo(200);
    assertThat(res.body()).startsWith("\n");
    assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(res.body()).get("choices")).hasSize(1);
  }
}
