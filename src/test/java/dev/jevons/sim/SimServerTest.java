package dev.jevons.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class SimServerTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
  static final String SYSTEM = "You are a careful assistant who answers briefly and precisely. ".repeat(30);

  static SimServer instant;

  @BeforeAll
  static void startInstant() {
    instant = SimServer.start(SimConfig.defaults().withProfile("instant"), 0);
  }

  @AfterAll
  static void stopInstant() {
    instant.close();
  }

  static HttpResponse<String> post(SimServer s, String path, String body, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(s.baseUrl() + path))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (headers.length > 0) b.headers(headers);
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
    return HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static String metrics(SimServer s) throws IOException, InterruptedException {
    return get(URI.create("http://127.0.0.1:" + s.port() + "/metrics")).body();
  }

  static double metric(String text, String sampleStart) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(sampleStart) + "(?:\\{[^}]*\\})? (\\S+)$").matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  static String chat(String model, String user, String extra) {
    return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"system\",\"content\":\"" + SYSTEM
        + "\"},{\"role\":\"user\",\"content\":\"" + user + "\"}]" + extra + "}";
  }

  /** SSE data payloads in order, stopping at EOF. */
  static List<String> events(String body) {
    List<String> out = new ArrayList<>();
    for (String line : body.split("\n")) if (line.startsWith("data: ")) out.add(line.substring(6));
    return out;
  }

  @Test
  void lists_models_in_openai_shape() throws Exception {
    JsonNode body = JSON.readTree(get(URI.create(instant.baseUrl() + "/models")).body());
    assertThat(body.get("object").asText()).isEqualTo("list");
    assertThat(body.get("data")).hasSize(2);
    assertThat(body.get("data").get(0).get("id").asText()).isEqualTo("sim-chat");
    assertThat(body.get("data").get(0).get("owned_by").asText()).isEqualTo("jevons-sim");
    assertThat(get(URI.create("http://127.0.0.1:" + instant.port() + "/health")).statusCode()).isEqualTo(200);
  }

  @Test
  void answers_a_chat_completion_in_openai_shape_deterministically() throws Exception {
    HttpResponse<String> r = post(instant, "/chat/completions", chat("sim-chat", "hi", ",\"seed\":7"));
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode b = JSON.readTree(r.body());
    assertThat(b.get("id").asText()).startsWith("chatcmpl-");
    assertThat(b.get("object").asText()).isEqualTo("chat.completion");
    assertThat(b.get("model").asText()).isEqualTo("sim-chat");
    assertThat(b.get("created").asLong()).isPositive();
    JsonNode choice = b.get("choices").get(0);
    assertThat(choice.get("index").asInt()).isZero();
    assertThat(choice.get("message").get("role").asText()).isEqualTo("assistant");
    assertThat(choice.get("logprobs").isNull()).isTrue();
    assertThat(choice.get("finish_reason").asText()).isEqualTo("stop");
    JsonNode u = b.get("usage");
    int completion = u.get("completion_tokens").asInt();
    assertThat(completion).isBetween(20, 200);
    assertThat(choice.get("message").get("content").asText().split(" ")).hasSize(completion + 1);
    assertThat(u.get("total_tokens").asInt()).isEqualTo(u.get("prompt_tokens").asInt() + completion);
    assertThat(u.get("prompt_cache_hit_tokens").asInt() + u.get("prompt_cache_miss_tokens").asInt())
        .isEqualTo(u.get("prompt_tokens").asInt());
    assertThat(u.get("prompt_tokens_details").get("cached_tokens").asInt())
        .isEqualTo(u.get("prompt_cache_hit_tokens").asInt());

    JsonNode again = JSON.readTree(post(instant, "/chat/completions", chat("sim-chat", "hi", ",\"seed\":7")).body());
    assertThat(again.get("choices").get(0).get("message").get("content").asText())
        .isEqualTo(choice.get("message").get("content").asText());
  }

  @Test
  void honours_max_tokens_ignore_eos_and_min_tokens() throws Exception {
    JsonNode capped = JSON.readTree(post(instant, "/chat/completions",
        chat("sim-chat", "cap", ",\"max_tokens\":5")).body());
    assertThat(capped.get("usage").get("completion_tokens").asInt()).isEqualTo(5);
    assertThat(capped.get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");

    JsonNode forced = JSON.readTree(post(instant, "/chat/completions",
        chat("sim-chat", "long", ",\"max_completion_tokens\":321,\"ignore_eos\":true")).body());
    assertThat(forced.get("usage").get("completion_tokens").asInt()).isEqualTo(321);

    JsonNode min = JSON.readTree(post(instant, "/chat/completions",
        chat("sim-chat", "min", ",\"min_tokens\":250,\"max_tokens\":1000")).body());
    assertThat(min.get("usage").get("completion_tokens").asInt()).isEqualTo(250);
    assertThat(min.get("choices").get(0).get("finish_reason").asText()).isEqualTo("stop");
  }

  @Test
  void answers_legacy_completions() throws Exception {
    JsonNode b = JSON.readTree(post(instant, "/completions",
        "{\"model\":\"sim-chat\",\"prompt\":[\"Once upon a time\"]}").body());
    assertThat(b.get("id").asText()).startsWith("cmpl-");
    assertThat(b.get("object").asText()).isEqualTo("text_completion");
    assertThat(b.get("choices").get(0).get("text").asText()).isNotBlank();
    assertThat(b.get("usage").get("completion_tokens").asInt()).isEqualTo(16);
    assertThat(b.get("usage").get("prompt_tokens").asInt()).isEqualTo(4);
  }

  @Test
  void streams_chunks_with_usage_null_then_a_usage_chunk_then_done() throws Exception {
    HttpResponse<String> r = post(instant, "/chat/completions",
        chat("sim-chat", "stream", ",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":10"));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
    List<String> ev = events(r.body());
    assertThat(ev.getLast()).isEqualTo("[DONE]");
    List<JsonNode> chunks = new ArrayList<>();
    for (String e : ev.subList(0, ev.size() - 1)) chunks.add(JSON.readTree(e));
    assertThat(chunks).hasSize(1 + 10 + 1 + 1);
    JsonNode first = chunks.getFirst();
    assertThat(first.get("object").asText()).isEqualTo("chat.completion.chunk");
    assertThat(first.get("choices").get(0).get("delta").get("role").asText()).isEqualTo("assistant");
    for (JsonNode c : chunks.subList(0, chunks.size() - 1)) {
      assertThat(c.get("usage").isNull()).isTrue();
      assertThat(c.get("id").asText()).isEqualTo(first.get("id").asText());
      assertThat(c.get("choices").get(0).get("logprobs").isNull()).isTrue();
    }
    JsonNode fin = chunks.get(chunks.size() - 2);
    assertThat(fin.get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
    JsonNode usage = chunks.getLast();
    assertThat(usage.get("choices")).isEmpty();
    assertThat(usage.get("usage").get("completion_tokens").asInt()).isEqualTo(10);
  }

  @Test
  void streams_without_usage_fields_unless_asked() throws Exception {
    String body = post(instant, "/completions",
        "{\"model\":\"sim-chat\",\"prompt\":\"hello there\",\"stream\":true,\"max_tokens\":3}").body();
    List<String> ev = events(body);
    // Legacy completions have no role chunk: 3 tokens, the finish chunk, [DONE].
    assertThat(ev).hasSize(3 + 1 + 1).last().isEqualTo("[DONE]");
    assertThat(body).doesNotContain("usage");
    JsonNode last = JSON.readTree(ev.get(ev.size() - 2));
    assertThat(last.get("object").asText()).isEqualTo("text_completion");
    assertThat(last.get("choices").get(0).get("finish_reason").asText()).isEqualTo("length");
  }

  @Test
  void streams_reasoning_content_first_for_the_reasoner() throws Exception {
    String body = post(instant, "/chat/completions",
        chat("sim-reasoner", "think", ",\"stream\":true,\"max_tokens\":9,\"ignore_eos\":true")).body();
    List<String> ev = events(body);
    assertThat(JSON.readTree(ev.get(1)).get("choices").get(0).get("delta").get("reasoning_content").asText()).isNotBlank();
    assertThat(JSON.readTree(ev.get(9)).get("choices").get(0).get("delta").get("content").asText()).isNotBlank();
  }

  @Test
  void reports_cached_tokens_on_a_repeated_long_prompt() throws Exception {
    String body = chat("sim-chat", "cache me", ",\"max_tokens\":2");
    JsonNode first = JSON.readTree(post(instant, "/chat/completions", body).body()).get("usage");
    JsonNode second = JSON.readTree(post(instant, "/chat/completions", body).body()).get("usage");
    int prompt = second.get("prompt_tokens").asInt();
    int cached = second.get("prompt_tokens_details").get("cached_tokens").asInt();
    assertThat(prompt).isGreaterThan(300);
    assertThat(cached).isPositive().isLessThan(prompt).isGreaterThan(prompt - 64);
    assertThat(cached % 64).isZero();
    assertThat(second.get("prompt_cache_miss_tokens").asInt()).isEqualTo(prompt - cached);
    assertThat(first.get("prompt_cache_hit_tokens").asInt()).isLessThanOrEqualTo(cached);
    String m = metrics(instant);
    assertThat(metric(m, "vllm:prefix_cache_hits_total")).isGreaterThanOrEqualTo(cached);
  }

  @Test
  void rejects_unknown_models_bad_json_and_bad_fields_in_openai_error_shape() throws Exception {
    HttpResponse<String> unknown = post(instant, "/chat/completions", chat("gpt-9", "x", ""));
    assertThat(unknown.statusCode()).isEqualTo(404);
    JsonNode err = JSON.readTree(unknown.body()).get("error");
    assertThat(err.get("code").asText()).isEqualTo("model_not_found");
    assertThat(err.has("message") && err.has("type") && err.has("param")).isTrue();

    HttpResponse<String> bad = post(instant, "/chat/completions", "{\"model\":");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(bad.body()).get("error").get("code").asText()).isEqualTo("invalid_request_error");

    assertThat(post(instant, "/chat/completions", chat("sim-chat", "x", ",\"n\":2")).statusCode()).isEqualTo(400);
    assertThat(post(instant, "/chat/completions", chat("sim-chat", "x", ",\"max_tokens\":0")).statusCode()).isEqualTo(400);
    assertThat(post(instant, "/chat/completions", chat("sim-chat", "x", ",\"max_tokens\":200000")).statusCode()).isEqualTo(400);
  }

  @Test
  void requires_the_api_key_when_configured() throws Exception {
    SimConfig c = new SimConfig("instant", List.of("m"), 1, "sk-upstream", FaultPlan.none(), 0);
    try (SimServer s = SimServer.start(c, 0)) {
      String body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
      HttpResponse<String> none = post(s, "/chat/completions", body);
      assertThat(none.statusCode()).isEqualTo(401);
      assertThat(JSON.readTree(none.body()).get("error").get("code").asText()).isEqualTo("invalid_api_key");
      assertThat(post(s, "/chat/completions", body, "Authorization", "Bearer wrong").statusCode()).isEqualTo(401);
      assertThat(post(s, "/chat/completions", body, "Authorization", "Bearer sk-upstream").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void injects_errors_before_any_output() throws Exception {
    SimConfig c = new SimConfig("instant", List.of("m"), 1, null, new FaultPlan(1, 0, 0, 0, 0), 3);
    try (SimServer s = SimServer.start(c, 0)) {
      HttpResponse<String> r = post(s, "/chat/completions",
          "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
      assertThat(r.statusCode()).isEqualTo(500);
      assertThat(JSON.readTree(r.body()).get("error").get("type").asText()).isEqualTo("server_error");
      assertThat(metric(metrics(s), "jevons_sim_faults_injected_total{kind=\"error\"}")).isEqualTo(1);
    }
  }

  @Test
  void injects_slow_first_bytes_without_changing_the_answer() throws Exception {
    SimConfig c = new SimConfig("instant", List.of("m"), 1, null, new FaultPlan(0, 1, 20, 0, 0), 3);
    try (SimServer s = SimServer.start(c, 0)) {
      HttpResponse<String> r = post(s, "/chat/completions",
          "{\"model\":\"m\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(metric(metrics(s), "jevons_sim_faults_injected_total{kind=\"slow_first_byte\"}")).isEqualTo(1);
    }
  }

  @Test
  void injects_mid_stream_disconnects_without_done() throws Exception {
    SimConfig c = new SimConfig("instant", List.of("m"), 1, null, new FaultPlan(0, 0, 0, 1, 3), 3);
    try (SimServer s = SimServer.start(c, 0)) {
      HttpRequest req = HttpRequest.newBuilder(URI.create(s.baseUrl() + "/chat/completions"))
          .POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"m\",\"stream\":true,\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
          .build();
      HttpResponse<InputStream> r = HTTP.send(req, HttpResponse.BodyHandlers.ofInputStream());
      List<String> lines = new ArrayList<>();
      try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
        for (String line; (line = in.readLine()) != null; ) if (line.startsWith("data: ")) lines.add(line);
      } catch (IOException expected) {
        // A truncated chunked body surfaces as an IOException: that is the fault.
      }
      assertThat(lines).hasSize(1 + 3).noneMatch(l -> l.contains("[DONE]"));
    }
  }

  @Test
  void cancels_the_sequence_when_a_streaming_client_disconnects() throws Exception {
    SimConfig c = new SimConfig("small", List.of("m"), 1, null, FaultPlan.none(), 0);
    try (SimServer s = SimServer.start(c, 0)) {
      // A raw socket, so closing it really closes the TCP connection (the JDK client may keep it).
      String body = "{\"model\":\"m\",\"stream\":true,\"max_tokens\":4000,\"ignore_eos\":true,"
          + "\"messages\":[{\"role\":\"user\",\"content\":\"go on forever\"}]}";
      Socket socket = new Socket("127.0.0.1", s.port());
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
          + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
          .getBytes(StandardCharsets.UTF_8));
      BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      int data = 0;
      while (data < 3) if (in.readLine().startsWith("data: ")) data++;
      assertThat(metric(metrics(s), "vllm:num_requests_running")).isEqualTo(1);
      socket.close();
      long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
      while (metric(metrics(s), "jevons_sim_requests_cancelled_total") < 1 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      String m = metrics(s);
      assertThat(metric(m, "jevons_sim_requests_cancelled_total")).isEqualTo(1);
      assertThat(metric(m, "vllm:num_requests_running")).isZero();
      assertThat(metric(m, "vllm:kv_cache_usage_perc")).isZero();
    }
  }

  @Test
  void keeps_a_slow_non_streaming_request_alive_with_newlines_and_still_answers_json() throws Exception {
    SimConfig c = new SimConfig("small", List.of("m"), 1, null, FaultPlan.none(), 0);
    try (SimServer s = SimServer.start(c, 0, System::nanoTime, InstantSource.system(), 20_000_000L)) {
      HttpResponse<String> r = post(s, "/chat/completions",
          "{\"model\":\"m\",\"max_tokens\":12,\"ignore_eos\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).startsWith("\n");
      assertThat(JSON.readTree(r.body()).get("usage").get("completion_tokens").asInt()).isEqualTo(12);
    }
  }

  @Test
  void cancels_a_non_streaming_sequence_when_its_client_leaves_during_keep_alive() throws Exception {
    SimConfig c = new SimConfig("small", List.of("m"), 1, null, FaultPlan.none(), 0);
    try (SimServer s = SimServer.start(c, 0, System::nanoTime, InstantSource.system(), 20_000_000L)) {
      String body = "{\"model\":\"m\",\"max_tokens\":4000,\"ignore_eos\":true,"
          + "\"messages\":[{\"role\":\"user\",\"content\":\"go on forever\"}]}";
      Socket socket = new Socket("127.0.0.1", s.port());
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
          + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
          .getBytes(StandardCharsets.UTF_8));
      BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      assertThat(in.readLine()).startsWith("HTTP/1.1 200");
      socket.close();
      long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
      while (metric(metrics(s), "jevons_sim_requests_cancelled_total") < 1 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(metric(metrics(s), "jevons_sim_requests_cancelled_total")).isEqualTo(1);
    }
  }

  @Test
  void exposes_vllm_metrics_with_model_name_labels() throws Exception {
    post(instant, "/chat/completions", chat("sim-chat", "metrics", ",\"max_tokens\":4"));
    String m = metrics(instant);
    for (String name : List.of("vllm:num_requests_running", "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc", "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total",
        "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
        "vllm:time_to_first_token_seconds_bucket", "vllm:inter_token_latency_seconds_count",
        "jevons_sim_requests_cancelled_total")) {
      assertThat(m).contains(name + "{model_name=\"sim-chat\"");
    }
    assertThat(metric(m, "vllm:generation_tokens_total")).isGreaterThanOrEqualTo(4);
  }

  @Test
  void a_fleet_runs_independent_replicas_on_their_own_ports() throws Exception {
    try (SimFleet fleet = SimFleet.start(SimConfig.defaults().withProfile("instant"), 2, 0)) {
      List<URI> urls = fleet.baseUrls();
      assertThat(urls).hasSize(2).doesNotHaveDuplicates();
      for (URI u : urls) {
        assertThat(u.toString()).startsWith("http://127.0.0.1:").endsWith("/v1");
        assertThat(get(URI.create(u + "/models")).statusCode()).isEqualTo(200);
      }
    }
  }

  @Test
  void rejects_invalid_configuration_with_clear_messages() {
    assertThatThrownBy(() -> SimConfig.defaults().withProfile("a100"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("accepted: instant, h800, small");
    assertThatThrownBy(() -> new FaultPlan(1.5, 0, 0, 0, 0)).hasMessageContaining("errorRate");
    assertThatThrownBy(() -> SimFleet.start(SimConfig.defaults(), 0, 0)).hasMessageContaining("replicas");
  }
}
