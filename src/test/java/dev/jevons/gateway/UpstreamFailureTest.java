package dev.jevons.gateway;

import dev.jevons.TestFunds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.accounts.Account;
import dev.jevons.cli.JevonsApp;
import dev.jevons.config.ConfigLoader;
import dev.jevons.sim.FaultPlan;
import dev.jevons.sim.SimConfig;
import dev.jevons.sim.SimFleet;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Upstream failures, provoked with the simulator's fault injection, as a client sees them. */
class UpstreamFailureTest {
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  static final List<AutoCloseable> resources = new ArrayList<>();

  // Per class: the Jevons instances live until @AfterAll and write into it until then.
  @TempDir static Path data;

  @BeforeAll
  static void none() {}

  @AfterAll
  static void cleanup() throws Exception {
    for (AutoCloseable c : resources) {
      c.close();
    }
  }

  static SimFleet fleet(String profile, FaultPlan faults) {
    SimFleet f = SimFleet.start(new SimConfig(profile, List.of("sim-chat"), 1.0, null, faults, 7L), 1, 0);
    resources.add(f);
    return f;
  }

  record Running(JevonsApp app, String key) {
    HttpResponse<String> post(String body) throws Exception {
      return http.send(request(body), HttpResponse.BodyHandlers.ofString());
    }

    HttpRequest request(String body) {
      return HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/chat/completions"))
          .timeout(Duration.ofSeconds(30))
          .header("Authorization", "Bearer " + key)
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body))
          .build();
    }
  }

  Running jevons(List<String> upstreams, Object... overrides) {
    ConfigLoader loader =
        new ConfigLoader().override("server.port", 0).override("data_dir", data.resolve("jevons-" + resources.size()).toString())
            .upstreamUrls(upstreams);
    for (int i = 0; i < overrides.length; i += 2) {
      loader.override((String) overrides[i], overrides[i + 1]);
    }
    JevonsApp app = JevonsApp.start(loader.load());
    resources.add(app);
    Account a = app.accounts().createAccount("failures");
    TestFunds.fund(app, a.id());
    return new Running(app, app.accounts().issueKey(a.id(), "k", Set.of(), null).secret());
  }

  static String url(SimFleet f) {
    return f.baseUrls().get(0).toString();
  }

  static final String CHAT = "{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"max_tokens\":8";

  @Test
  void fails_over_to_a_healthy_replica_before_the_first_byte() throws Exception {
    SimFleet broken = fleet("instant", new FaultPlan(1.0, 0, 0, 0, 0));
    SimFleet healthy = fleet("instant", FaultPlan.none());
    Running j = jevons(List.of(url(broken), url(healthy)), "upstream.failures_to_eject", 100);
    for (int i = 0; i < 10; i++) {
      HttpResponse<String> res = j.post(CHAT + (i % 2 == 0 ? "}" : ",\"stream\":true}"));
      assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
      assertThat(res.body()).doesNotContain("\"error\"");
    }
    String metrics = http.send(HttpRequest.newBuilder(URI.create(j.app().baseUrl() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    assertThat(metrics).contains("jevons_upstream_failures_total");
    // Every slot taken by a failed first attempt or by its retry was given back exactly once.
    assertThat(j.app().pool().replicas()).allSatisfy(r -> assertThat(r.inFlight()).isZero());
  }

  @Test
  void ejects_a_failing_replica_so_later_requests_go_straight_to_the_healthy_one() throws Exception {
    SimFleet broken = fleet("instant", new FaultPlan(1.0, 0, 0, 0, 0));
    SimFleet healthy = fleet("instant", FaultPlan.none());
    Running j = jevons(List.of(url(broken), url(healthy)), "upstream.failures_to_eject", 2, "upstream.eject_base_ms", 60_000, "upstream.eject_max_ms", 60_000);
    for (int i = 0; i < 12; i++) {
      assertThat(j.post(CHAT + "}").statusCode()).isEqualTo(200);
    }
    var brokenReplica = j.app().pool().replicas().stream().filter(r -> r.baseUrl().toString().equals(url(broken))).findFirst().orElseThrow();
    assertThat(brokenReplica.lastError()).contains("500");
    int before = countAttempts(j);
    for (int i = 0; i < 5; i++) {
      assertThat(j.post(CHAT + "}").statusCode()).isEqualTo(200);
    }
    assertThat(countAttempts(j) - before).as("ejected replica is not tried").isEqualTo(0);
  }

  private static int countAttempts(Running j) throws Exception {
    String metrics = http.send(HttpRequest.newBuilder(URI.create(j.app().baseUrl() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    Matcher m = Pattern.compile("jevons_upstream_failures_total\\{[^}]*} ([0-9.]+)").matcher(metrics);
    double sum = 0;
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
    }
    return (int) sum;
  }

  @Test
  void ends_a_broken_stream_with_an_error_event_usage_of_what_was_delivered_and_done() throws Exception {
    SimFleet cut = fleet("instant", new FaultPlan(0, 0, 0, 1.0, 3));
    Running j = jevons(List.of(url(cut)));
    HttpResponse<String> res =
        j.post(CHAT.replace("\"max_tokens\":8", "\"max_tokens\":20,\"ignore_eos\":true") + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    assertThat(res.statusCode()).isEqualTo(200);
    List<String> events = res.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
    assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
    String error = events.get(events.size() - 3);
    assertThat(error).contains("\"code\":\"upstream_error\"").contains("cut short");
    String usage = events.get(events.size() - 2);
    long delivered = events.stream().filter(e -> e.contains("\"content\":\"") && !e.contains("\"content\":\"\"")).count();
    assertThat(delivered).isEqualTo(3);
    assertThat(usage).contains("\"completion_tokens\":" + delivered).contains("\"choices\":[]");
  }

  @Test
  void answers_504_when_no_replica_sends_a_first_byte_in_time() throws Exception {
    SimFleet slow = fleet("instant", new FaultPlan(0, 1.0, 5_000, 0, 0));
    Running j = jevons(List.of(url(slow)), "upstream.first_byte_timeout_ms", 300);
    HttpResponse<String> res = j.post(CHAT + "}");
    assertThat(res.statusCode()).isEqualTo(504);
    assertThat(res.body()).contains("\"code\":\"upstream_timeout\"");
    HttpResponse<String> streamed = j.post(CHAT + ",\"stream\":true}");
    assertThat(streamed.statusCode()).isEqualTo(504);
  }

  @Test
  void answers_502_with_the_reason_when_the_only_upstream_is_down() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    Running j = jevons(List.of("http://127.0.0.1:" + closedPort + "/v1"), "upstream.connect_timeout_ms", 500);
    // The model list of an unreachable upstream cannot be discovered, so its models are unknown.
    HttpResponse<String> res = j.post(CHAT + "}");
    assertThat(res.statusCode()).isEqualTo(404);
    assertThat(res.body()).contains("model_not_found");
  }

  @Test
  void cancels_the_upstream_generation_when_the_client_disconnects() throws Exception {
    SimFleet slowTokens = fleet("small", FaultPlan.none());
    Running j = jevons(List.of(url(slowTokens)));
    HttpRequest req = j.request(CHAT.replace("\"max_tokens\":8", "\"max_tokens\":5000,\"ignore_eos\":true") + ",\"stream\":true}");
    HttpResponse<InputStream> res = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    assertThat(res.statusCode()).isEqualTo(200);
    BufferedReader reader = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8));
    int dataLines = 0;
    while (dataLines < 3) {
      String line = reader.readLine();
      assertThat(line).isNotNull();
      if (line.startsWith("data: ")) {
        dataLines++;
      }
    }
    res.body().close();
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    double cancelled = 0;
    while (System.nanoTime() < deadline && cancelled < 1) {
      String metrics =
          http.send(HttpRequest.newBuilder(URI.create(url(slowTokens).replace("/v1", "") + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
      Matcher m = Pattern.compile("(?m)^jevons_sim_requests_cancelled_total(?:\\{[^}]*})? ([0-9.]+)").matcher(metrics);
      cancelled = m.find() ? Double.parseDouble(m.group(1)) : 0;
      Thread.sleep(100);
    }
    assertThat(cancelled).as("the simulator saw the generation cancelled").isGreaterThanOrEqualTo(1);
  }
}
