package dev.jevons.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.jevons.accounts.Account;
import dev.jevons.cli.JevonsApp;
import dev.jevons.config.ConfigLoader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An OpenAI-compatible server that never reports usage (as some llama.cpp and proxy setups do):
 * the gateway must count what it delivered and still answer with complete usage objects.
 */
class UsageCountingTest {
  static final ObjectMapper json = new ObjectMapper();
  static final HttpClient http = HttpClient.newHttpClient();
  static final AtomicReference<String> lastUpstreamBody = new AtomicReference<>();
  @TempDir static Path data;
  /** Non-streaming answers of the fake upstream, by a word in the request. */
  static final Map<String, String> ANSWERS = Map.of(
      "answer-complete", "{\"id\":\"c\",  \"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok\"}}],"
          + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6,\"prompt_tokens_details\":{\"cached_tokens\":0},"
          + "\"prompt_cache_hit_tokens\":0,\"prompt_cache_miss_tokens\":5},\"x_vendor\":[1, 2]}",
      "answer-partial", "{\"id\":\"p\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2},\"after\":true}",
      "answer-trailing", "{\"id\":\"t\",\"choices\":[]} {\"id\":\"again\"}",
      "answer-array", "[{\"id\":\"a\"}]",
      "answer-duplicate", "{\"id\":\"d\",\"usage\":{\"prompt_tokens\":1},\"usage\":{\"prompt_tokens\":2}}");

  static HttpServer upstream;
  static JevonsApp app;
  static String key;

  @BeforeAll
  static void start() throws Exception {
    upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    upstream.createContext("/v1/models", ex -> {
      byte[] b = "{\"object\":\"list\",\"data\":[{\"id\":\"plain\",\"object\":\"model\"}]}".getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(200, b.length);
      ex.getResponseBody().write(b);
      ex.close();
    });
    upstream.createContext("/v1/chat/completions", ex -> {
      String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      lastUpstreamBody.set(body);
      boolean stream = body.contains("\"stream\":true");
      OutputStream out = ex.getResponseBody();
      if (stream) {
        ex.getResponseHeaders().add("Content-Type", "text/event-stream");
        ex.sendResponseHeaders(200, 0);
        for (String word : List.of("one", " two", " three", " four")) {
          out.write(("data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"plain\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
                  + word + "\"},\"finish_reason\":null}]}\n\n").getBytes(StandardCharsets.UTF_8));
          out.flush();
        }
        out.write("data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"plain\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
      } else if (ANSWERS.keySet().stream().anyMatch(body::contains)) {
        byte[] b = ANSWERS.entrySet().stream().filter(e -> body.contains(e.getKey())).findFirst().orElseThrow().getValue()
            .getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(200, b.length);
        out.write(b);
      } else {
        byte[] b = "{\"id\":\"x\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"plain\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"exactly sixteen!\"},\"finish_reason\":\"stop\"}]}".getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(200, b.length);
        out.write(b);
      }
      ex.close();
    });
    upstream.start();
    app =
        JevonsApp.start(
            new ConfigLoader()
                .override("server.port", 0)
                .override("data_dir", data.toString())
                // The model "plain" has no price; counting is what is under test here.
                .override("billing.enabled", false)
                // The malformed answers below must not eject the only upstream.
                .override("upstream.failures_to_eject", 1000)
                .upstreamUrls(List.of("http://127.0.0.1:" + upstream.getAddress().getPort() + "/v1"))
                .load());
    Account a = app.accounts().createAccount("counting");
    key = app.accounts().issueKey(a.id(), "k", Set.of(), null).secret();
  }

  @AfterAll
  static void stop() {
    app.close();
    upstream.stop(0);
  }

  static HttpResponse<String> post(String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + key)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static final String MESSAGES = "\"model\":\"plain\",\"messages\":[{\"role\":\"user\",\"content\":\"twelve chars\"}]";

  @Test
  void asks_the_upstream_for_usage_and_counts_delivered_chunks_when_it_sends_none() throws Exception {
    HttpResponse<String> res = post("{" + MESSAGES + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    assertThat(lastUpstreamBody.get()).contains("\"include_usage\":true");
    List<String> events = res.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
    assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
    JsonNode usage = json.readTree(events.get(events.size() - 2)).get("usage");
    assertThat(usage.get("completion_tokens").asLong()).isEqualTo(4);
    assertThat(usage.get("prompt_tokens").asLong()).isEqualTo(3);
    assertThat(usage.get("prompt_cache_miss_tokens").asLong()).isEqualTo(3);
    assertThat(usage.get("prompt_tokens_details").get("cached_tokens").asLong()).isZero();
  }

  @Test
  void forces_usage_upstream_even_when_the_client_did_not_ask_and_shows_none() throws Exception {
    HttpResponse<String> res = post("{" + MESSAGES + ",\"stream\":true}");
    assertThat(lastUpstreamBody.get()).contains("\"include_usage\":true");
    assertThat(res.body()).doesNotContain("usage").endsWith("data: [DONE]\n\n");
  }

  static HttpResponse<String> answer(String word) throws Exception {
    return post("{\"model\":\"plain\",\"messages\":[{\"role\":\"user\",\"content\":\"" + word + "\"}]}");
  }

  @Test
  void relays_an_answer_with_complete_usage_byte_for_byte() throws Exception {
    HttpResponse<String> res = answer("answer-complete");
    assertThat(res.statusCode()).isEqualTo(200);
    assertThat(res.body()).isEqualTo(ANSWERS.get("answer-complete"));
  }

  @Test
  void counts_requests_tokens_and_times_by_model_in_the_metrics() throws Exception {
    String before = metrics();
    answer("answer-complete");
    answer("answer-complete");
    String after = metrics();
    String requests = "jevons_requests_total{model=\"plain\",route=\"chat\",status=\"200\"}";
    assertThat(sample(after, requests) - sample(before, requests)).isEqualTo(2.0);
    String miss = "jevons_tokens_total{kind=\"prompt_cache_miss\",model=\"plain\"}";
    assertThat(sample(after, miss) - sample(before, miss)).isEqualTo(10.0);
    String completion = "jevons_tokens_total{kind=\"completion\",model=\"plain\"}";
    assertThat(sample(after, completion) - sample(before, completion)).isEqualTo(2.0);
    String durations = "jevons_request_duration_seconds_count{model=\"plain\",route=\"chat\"}";
    assertThat(sample(after, durations) - sample(before, durations)).isEqualTo(2.0);
    String ttft = "jevons_time_to_first_token_seconds_count{model=\"plain\"}";
    assertThat(sample(after, ttft) - sample(before, ttft)).isEqualTo(2.0);
  }

  static String metrics() throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(app.baseUrl() + "/metrics")).GET().build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  /** The value of the sample {@code series} (name and labels as Prometheus prints them), 0 when absent. */
  static double sample(String metrics, String series) {
    return metrics.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1).trim()))
        .findFirst().orElse(0);
  }

  @Test
  void completes_partial_usage_and_keeps_the_rest_of_the_answer() throws Exception {
    HttpResponse<String> res = answer("answer-partial");
    assertThat(res.statusCode()).isEqualTo(200);
    JsonNode body = json.readTree(res.body());
    assertThat(body.get("usage").get("total_tokens").asLong()).isEqualTo(7);
    assertThat(body.get("usage").get("prompt_cache_miss_tokens").asLong()).isEqualTo(5);
    assertThat(body.get("after").asBoolean()).isTrue();
  }

  @Test
  void refuses_an_answer_that_is_not_exactly_one_json_object() throws Exception {
    for (String word : List.of("answer-trailing", "answer-duplicate")) {
      HttpResponse<String> res = answer(word);
      assertThat(res.statusCode()).as(word).isEqualTo(502);
      assertThat(res.body()).as(word).contains("upstream_error").contains("answered with invalid JSON");
    }
    HttpResponse<String> res = answer("answer-array");
    assertThat(res.statusCode()).isEqualTo(502);
    assertThat(res.body()).contains("answered with something other than a JSON object");
  }

  @Test
  void estimates_usage_for_a_non_streaming_answer_without_one() throws Exception {
    JsonNode body = json.readTree(post("{" + MESSAGES + "}").body());
    assertThat(body.get("usage").get("completion_tokens").asLong()).isEqualTo(4);
    assertThat(body.get("usage").get("total_tokens").asLong()).isEqualTo(7);
  }
}
