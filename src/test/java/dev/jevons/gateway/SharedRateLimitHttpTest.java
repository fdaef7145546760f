package dev.jevons.gateway;

import dev.jevons.TestApps;
import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.accounts.Account;
import dev.jevons.cli.JevonsApp;
import dev.jevons.config.ConfigLoader;
import dev.jevons.store.TestDatabases;
import dev.jevons.store.TestRedis;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two gateway nodes as production runs them: one PostgreSQL, one Redis, each node its own process
 * state. A key's requests-per-minute limit holds across both; with Redis gone, requests still pass.
 */
class SharedRateLimitHttpTest {
  static final HttpClient http = HttpClient.newHttpClient();
  @TempDir Path data;
  final List<AutoCloseable> toClose = new ArrayList<>();
  final String prefix = TestRedis.uniquePrefix();

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
    TestRedis.deleteAll(prefix);
  }

  JevonsApp node(String name, TestDatabases.Scratch db, String redisUrl) {
    ConfigLoader config =
        TestApps.instant(data.resolve(name))
            .override("sim.replicas", 1)
            .override("billing.enabled", false)
            .override("rate_limits.key_rpm", 3)
            .override("redis.url", redisUrl)
            .override("redis.key_prefix", prefix);
    if (db != null) {
      // Both nodes write one ledger.
      config.override("store.url", db.jdbcUrl()).override("store.user", db.user()).override("billing.ledger", "shared");
    }
    JevonsApp app = JevonsApp.start(config.load());
    toClose.add(app);
    return app;
  }

  static HttpResponse<String> chat(JevonsApp app, String key) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + key)
            .POST(HttpRequest.BodyPublishers.ofString(
                "{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void two_nodes_enforce_one_per_key_limit_through_redis() throws Exception {
    TestRedis.redis();
    TestDatabases.Scratch db = TestDatabases.scratchPostgres();
    toClose.add(db);
    JevonsApp a = node("a", db, TestRedis.URL);
    JevonsApp b = node("b", db, TestRedis.URL);
    Account account = a.accounts().createAccount("two-nodes");
    String key = a.accounts().issueKey(account.id(), "k", Set.of(), null).secret();

    List<JevonsApp> order = List.of(a, b, a);
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> ok = chat(order.get(i), key);
      assertThat(ok.statusCode()).as("request %d", i + 1).isEqualTo(200);
      assertThat(ok.headers().firstValue("x-ratelimit-remaining-requests"))
          .as("one count across both nodes").contains(Integer.toString(2 - i));
    }
    for (JevonsApp node : List.of(b, a)) {
      HttpResponse<String> refused = chat(node, key);
      assertThat(refused.statusCode()).isEqualTo(429);
      assertThat(refused.body()).contains("\"code\":\"rate_limit_exceeded\"").contains("key limit of 3 requests per minute");
      assertThat(Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow())).isBetween(1L, 20L);
    }
  }

  @Test
  void without_redis_requests_pass_unchecked_and_are_counted() throws Exception {
    JevonsApp app = node("alone", null, "redis://127.0.0.1:" + closedPort() + "/0");
    Account account = app.accounts().createAccount("no-redis");
    String key = app.accounts().issueKey(account.id(), "k", Set.of(), null).secret();
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> res = chat(app, key);
      assertThat(res.statusCode()).as("a limit of 3 a minute, not enforced without Redis").isEqualTo(200);
      assertThat(res.headers().firstValue("x-ratelimit-limit-requests")).isEmpty();
    }
    String metrics = http.send(HttpRequest.newBuilder(URI.create(app.baseUrl() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    assertThat(metrics).contains("jevons_rate_limiter_unchecked_total 5.0");
  }

  static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
