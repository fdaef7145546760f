package dev.jevons.api;

import dev.jevons.TestApps;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.cli.JevonsApp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The price admin API over HTTP, against a whole Jevons on port 0 with its embedded defaults. */
class AdminPricesHttpTest {
  @TempDir static Path data;
  static JevonsApp app;
  static HttpClient http;
  static final ObjectMapper json = new ObjectMapper();

  @BeforeAll
  static void start() {
    app =
        JevonsApp.start(
            TestApps.instant(data)
                .load());
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterAll
  static void stop() {
    http.close();
    app.close();
  }

  record Answer(int status, JsonNode body) {}

  static Answer call(String method, String path, String body, String token) throws Exception {
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(app.baseUrl() + path))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + token)
            .header("Content-Type", "application/json")
            .method(method, body.isEmpty() ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
            .build();
    HttpResponse<String> res = http.send(req, HttpResponse.BodyHandlers.ofString());
    return new Answer(res.statusCode(), json.readTree(res.body()));
  }

  static Answer call(String method, String path, String body) throws Exception {
    return call(method, path, body, app.adminToken());
  }

  @Test
  void serves_the_deepseek_defaults_for_the_simulated_models() throws Exception {
    Answer a = call("GET", "/admin/v1/prices/sim-reasoner", "");
    assertThat(a.status()).isEqualTo(200);
    JsonNode b = a.body();
    assertThat(b.get("model").asText()).isEqualTo("sim-reasoner");
    assertThat(b.get("currency").asText()).isEqualTo("USD");
    // In force since 2025-09-29; the off-peak windows ended 2025-09-05.
    assertThat(b.get("input_cache_hit").asText()).isEqualTo("0.028");
    assertThat(b.get("input_cache_miss").asText()).isEqualTo("0.28");
    assertThat(b.get("output").asText()).isEqualTo("0.42");
    assertThat(b.get("price_version").asText()).isEqualTo("pv_sim-reasoner_2025-09-29");
    assertThat(b.get("discount_now").asText()).isEqualTo("0%");
    assertThat(b.get("schedule")).hasSize(2);
    assertThat(b.get("schedule").get(0).get("output").asText()).isEqualTo("2.19");
    assertThat(b.get("schedule").get(0).get("effective_from").asText()).isEqualTo("2025-01-20T00:00:00Z");
    JsonNode w = b.get("windows").get(0);
    assertThat(w.get("start").asText()).isEqualTo("16:30");
    assertThat(w.get("end").asText()).isEqualTo("00:30");
    assertThat(w.get("discount_bp").asInt()).isEqualTo(7500);
    assertThat(w.get("effective_from").asText()).isEqualTo("2025-02-26T16:30:00Z");
    assertThat(w.get("effective_until").asText()).isEqualTo("2025-09-05T16:00:00Z");

    Answer all = call("GET", "/admin/v1/prices", "");
    assertThat(all.status()).isEqualTo(200);
    assertThat(all.body().get("data").findValuesAsText("model")).contains("sim-chat", "sim-reasoner");
  }

  @Test
  void schedules_a_future_change_without_changing_the_price_now() throws Exception {
    Instant tomorrow = Instant.now().plus(Duration.ofDays(1)).truncatedTo(ChronoUnit.SECONDS);
    String body =
        """
        {"input_cache_hit":"0.01","input_cache_miss":"0.1","output":"0.2","effective_from":"%s",
         "windows":[{"start":"16:30","end":"00:30","discount_bp":5000}]}
        """
            .formatted(tomorrow);
    Answer a = call("PUT", "/admin/v1/prices/scheduled-model", body);
    assertThat(a.status()).as(a.body().toString()).isEqualTo(200);
    JsonNode b = a.body();
    // Nothing is in force until tomorrow.
    assertThat(b.get("output").isNull()).isTrue();
    assertThat(b.get("schedule")).hasSize(1);
    assertThat(b.get("schedule").get(0).get("effective_from").asText()).isEqualTo(tomorrow.toString());
    assertThat(b.get("windows").get(0).get("discount_bp").asInt()).isEqualTo(5000);
    assertThat(app.prices().isPriced("scheduled-model")).isFalse();
    assertThat(app.prices().quote("scheduled-model", tomorrow).prices().output().toDecimalString()).isEqualTo("0.20");

    Answer now = call("PUT", "/admin/v1/prices/scheduled-model", "{\"input_cache_hit\":\"1\",\"input_cache_miss\":\"2\",\"output\":\"3.5\"}");
    assertThat(now.status()).as(now.body().toString()).isEqualTo(200);
    assertThat(now.body().get("output").asText()).isEqualTo("3.50");
    assertThat(now.body().get("schedule")).hasSize(2);
    assertThat(now.body().get("windows")).hasSize(1);
    assertThat(call("GET", "/admin/v1/prices/scheduled-model", "").body().get("price_version").asText())
        .isEqualTo(now.body().get("price_version").asText());
  }

  @ParameterizedTest(name = "{1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"input_cache_hit\":\"-0.01\",\"input_cache_miss\":\"1\",\"output\":\"1\"}            | input_cache_hit",
        "{\"input_cache_hit\":\"0.0000000001\",\"input_cache_miss\":\"1\",\"output\":\"1\"}     | input_cache_hit",
        "{\"input_cache_hit\":\"1\",\"input_cache_miss\":0.28,\"output\":\"1\"}                 | input_cache_miss",
        "{\"input_cache_hit\":\"1\",\"input_cache_miss\":\"1\"}                                 | output",
        "{\"input_cache_hit\":\"1\",\"input_cache_miss\":\"1\",\"output\":\"1\",\"effective_from\":\"tomorrow\"} | effective_from",
        "{\"input_cache_hit\":\"1\",\"input_cache_miss\":\"1\",\"output\":\"1\",\"effective_from\":\"2020-01-01T00:00:00Z\"} | effective_from",
        "{\"windows\":[{\"start\":\"16:30\",\"end\":\"16:30\",\"discount_bp\":5000}]}          | windows[0].end",
        "{\"windows\":[{\"start\":\"16:30\",\"end\":\"00:30\",\"discount_bp\":0}]}             | windows[0].discount_bp",
        "{\"windows\":[{\"start\":\"16:30\",\"end\":\"00:30\",\"discount_bp\":10001}]}         | windows[0].discount_bp",
        "{\"windows\":[{\"start\":\"25:00\",\"end\":\"00:30\",\"discount_bp\":100}]}           | windows[0].start",
        "{\"windows\":[{\"start\":\"16:30\",\"end\":\"00:30\",\"discount_bp\":100,\"effective_from\":\"2026-02-01T00:00:00Z\",\"effective_until\":\"2026-01-01T00:00:00Z\"}]} | windows[0].effective_until",
        "{\"outptu\":\"1\"}                                                                     | outptu",
      })
  void refuses_an_invalid_change_with_a_400_naming_the_field(String body, String field) throws Exception {
    Answer a = call("PUT", "/admin/v1/prices/sim-chat", body);
    assertThat(a.status()).as(a.body().toString()).isEqualTo(400);
    assertThat(a.body().get("error").get("code").asText()).isEqualTo("invalid_request_error");
    assertThat(a.body().get("error").get("param").asText()).isEqualTo(field);
    assertThat(app.prices().quoteNow("sim-chat").prices().output().toDecimalString()).isEqualTo("0.42");
  }

  @Test
  void prices_a_model_whose_name_has_slashes_as_vllm_names_do() throws Exception {
    String path = "/admin/v1/prices/meta-llama/Llama-3.1-8B-Instruct";
    Answer put = call("PUT", path, "{\"input_cache_hit\":\"0\",\"input_cache_miss\":\"0.05\",\"output\":\"0.08\"}");
    assertThat(put.status()).as(put.body().toString()).isEqualTo(200);
    assertThat(put.body().get("model").asText()).isEqualTo("meta-llama/Llama-3.1-8B-Instruct");
    assertThat(call("GET", path, "").body().get("output").asText()).isEqualTo("0.08");
    assertThat(app.prices().isPriced("meta-llama/Llama-3.1-8B-Instruct")).isTrue();
  }

  @Test
  void an_unknown_model_is_a_404_and_a_wrong_token_a_401() throws Exception {
    Answer missing = call("GET", "/admin/v1/prices/no-such-model", "");
    assertThat(missing.status()).isEqualTo(404);
    assertThat(missing.body().get("error").get("message").asText()).contains("no-such-model");
    assertThat(call("GET", "/admin/v1/prices", "", "wrong-token").status()).isEqualTo(401);
    assertThat(call("PUT", "/admin/v1/prices/sim-chat", "{\"output\":\"1\"}", "wrong-token").status()).isEqualTo(401);
    assertThat(call("DELETE", "/admin/v1/prices/sim-chat", "").status()).isEqualTo(405);
  }

  @Test
  void formats_discounts_as_percentages() {
    assertThat(AdminPriceRoutes.percent(5000)).isEqualTo("50%");
    assertThat(AdminPriceRoutes.percent(7500)).isEqualTo("75%");
    assertThat(AdminPriceRoutes.percent(1250)).isEqualTo("12.5%");
    assertThat(AdminPriceRoutes.percent(1)).isEqualTo("0.01%");
    assertThat(AdminPriceRoutes.percent(0)).isEqualTo("0%");
  }
}
