package dev.jevons.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.CompletionUsage;
import dev.jevons.accounts.Account;
import dev.jevons.billing.Money;
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
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Prepaid billing through the whole pipeline, as a customer and an operator see it. */
class BillingEndToEndTest {
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  static final ObjectMapper json = new ObjectMapper();
  @TempDir static Path data;
  static JevonsApp app;

  @BeforeAll
  static void start() {
    app = JevonsApp.start(new ConfigLoader().override("server.port", 0).override("data_dir", data.toString()).override("sim.profile", "small").load());
  }

  @AfterAll
  static void stop() {
    app.close();
  }

  record Customer(String accountId, String key) {}

  static Customer customer(String name, String topUp) throws Exception {
    Account a = app.accounts().createAccount(name);
    if (topUp != null) {
      HttpResponse<String> credited = admin("POST", "/admin/v1/accounts/" + a.id() + "/credits",
          "{\"amount\":\"" + topUp + "\",\"kind\":\"topped_up\",\"idempotency_key\":\"seed-" + a.id() + "\"}");
      assertThat(credited.statusCode()).as(credited.body()).isEqualTo(201);
    }
    return new Customer(a.id(), app.accounts().issueKey(a.id(), "k", Set.of(), null).secret());
  }

  static HttpResponse<String> admin(String method, String path, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + path))
            .header("Authorization", "Bearer " + app.adminToken())
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode balance(Customer c) throws Exception {
    HttpResponse<String> res = http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/user/balance")).header("Authorization", "Bearer " + c.key()).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(200);
    return json.readTree(res.body()).get("balance_infos").get(0);
  }

  static long nanos(JsonNode info, String field) {
    return Money.parse(info.get(field).asText()).nanos();
  }

  static OpenAIClient sdk(Customer c) {
    return OpenAIOkHttpClient.builder().apiKey(c.key()).baseUrl(app.baseUrl() + "/v1").maxRetries(0).build();
  }

  static long costOf(CompletionUsage u) {
    long cached = u.promptTokensDetails().flatMap(d -> d.cachedTokens()).orElse(0L);
    return app.prices().quoteNow("sim-chat").cost(cached, u.promptTokens() - cached, u.completionTokens()).nanos();
  }

  @Test
  void refuses_with_402_before_any_upstream_work_when_the_balance_cannot_cover_the_hold() throws Exception {
    Customer broke = customer("broke", null);
    HttpResponse<String> res = http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + broke.key())
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(402);
    assertThat(res.body()).contains("\"code\":\"insufficient_balance\"").contains("available balance is 0.00 USD");
    JsonNode b = balance(broke);
    assertThat(b.get("total_balance").asText()).isEqualTo("0.00");
    assertThat(b.get("reserved_balance").asText()).isEqualTo("0.00");
  }

  @Test
  void the_balance_moves_by_exactly_the_cost_of_the_usage_the_client_saw() throws Exception {
    Customer c = customer("exact", "1.00");
    OpenAIClient client = sdk(c);
    CompletionUsage u1 = client.chat().completions()
        .create(ChatCompletionCreateParams.builder().model("sim-chat").addUserMessage("Price me exactly").maxCompletionTokens(7).build())
        .usage().orElseThrow();
    CompletionUsage u2 = null;
    List<ChatCompletionChunk> chunks = new ArrayList<>();
    try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(
        ChatCompletionCreateParams.builder().model("sim-chat").addUserMessage("And the stream").maxCompletionTokens(5)
            .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
      s.stream().forEach(chunks::add);
    }
    u2 = chunks.get(chunks.size() - 1).usage().orElseThrow();
    client.close();
    long expected = Money.parse("1.00").nanos() - costOf(u1) - costOf(u2);
    JsonNode b = balance(c);
    assertThat(nanos(b, "total_balance")).isEqualTo(expected);
    assertThat(nanos(b, "topped_up_balance")).isEqualTo(expected);
    assertThat(b.get("reserved_balance").asText()).isEqualTo("0.00");
  }

  @Test
  void a_stream_the_client_abandons_is_charged_for_the_tokens_delivered_only() throws Exception {
    Customer c = customer("abandons", "1.00");
    HttpResponse<InputStream> res = http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + c.key())
            .POST(HttpRequest.BodyPublishers.ofString(
                "{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"go on\"}],\"max_tokens\":4000,\"ignore_eos\":true,\"stream\":true}"))
            .build(),
        HttpResponse.BodyHandlers.ofInputStream());
    BufferedReader reader = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8));
    int read = 0;
    while (read < 5) {
      String line = reader.readLine();
      if (line != null && line.startsWith("data: ") && line.contains("\"content\":\"") && !line.contains("\"content\":\"\"")) {
        read++;
      }
    }
    JsonNode during = balance(c);
    assertThat(nanos(during, "reserved_balance")).as("the hold covers 4000 output tokens").isPositive();
    res.body().close();
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    JsonNode after = balance(c);
    while (nanos(after, "reserved_balance") != 0 && System.nanoTime() < deadline) {
      Thread.sleep(50);
      after = balance(c);
    }
    assertThat(after.get("reserved_balance").asText()).isEqualTo("0.00");
    long charged = Money.parse("1.00").nanos() - nanos(after, "total_balance");
    var quote = app.prices().quoteNow("sim-chat");
    long outputPrice = quote.cost(0, 0, 1).nanos();
    // At least the five tokens the client read, and nowhere near the 4,000 the hold allowed.
    assertThat(charged).isGreaterThanOrEqualTo(5 * outputPrice).isLessThan(quote.cost(0, 0, 100).nanos());
  }

  @Test
  void an_operator_credit_is_applied_once_per_idempotency_key() throws Exception {
    Customer c = customer("credited", null);
    String body = "{\"amount\":\"2.500000001\",\"kind\":\"topped_up\",\"idempotency_key\":\"invoice-42\"}";
    assertThat(admin("POST", "/admin/v1/accounts/" + c.accountId() + "/credits", body).statusCode()).isEqualTo(201);
    HttpResponse<String> replay = admin("POST", "/admin/v1/accounts/" + c.accountId() + "/credits", body);
    assertThat(replay.statusCode()).isEqualTo(201);
    assertThat(balance(c).get("total_balance").asText()).isEqualTo("2.500000001");
    HttpResponse<String> bad = admin("POST", "/admin/v1/accounts/" + c.accountId() + "/credits", "{\"amount\":\"1e3\",\"idempotency_key\":\"x\"}");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("\"param\":\"amount\"");
    HttpResponse<String> grant = admin("POST", "/admin/v1/accounts/" + c.accountId() + "/credits",
        "{\"amount\":\"1.00\",\"kind\":\"granted\",\"expires_at\":\"2099-01-01T00:00:00Z\",\"idempotency_key\":\"promo-1\"}");
    assertThat(grant.statusCode()).isEqualTo(201);
    JsonNode b = balance(c);
    assertThat(b.get("granted_balance").asText()).isEqualTo("1.00");
    assertThat(b.get("total_balance").asText()).isEqualTo("3.500000001");
  }

  @Test
  void usage_records_add_up_exactly_to_the_debits_in_json_and_csv() throws Exception {
    Customer c = customer("records", "1.00");
    OpenAIClient client = sdk(c);
    for (int i = 0; i < 3; i++) {
      client.chat().completions().create(ChatCompletionCreateParams.builder().model("sim-chat").addUserMessage("record " + i).maxCompletionTokens(4).build());
    }
    client.close();
    HttpResponse<String> res = http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/usage?from=2020-01-01")).header("Authorization", "Bearer " + c.key()).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
    JsonNode data = json.readTree(res.body()).get("data");
    assertThat(data).hasSize(3);
    long sum = 0;
    for (JsonNode r : data) {
      assertThat(r.get("model").asText()).isEqualTo("sim-chat");
      assertThat(r.get("completion_tokens").asLong()).isEqualTo(4);
      assertThat(r.get("outcome").asText()).isEqualTo("ok");
      sum += Money.parse(r.get("cost").asText()).nanos();
    }
    long debited = Money.parse("1.00").nanos() - nanos(balance(c), "total_balance");
    assertThat(sum).isEqualTo(debited).isPositive();

    HttpResponse<String> csv = http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/usage?from=2020-01-01"))
            .header("Authorization", "Bearer " + c.key()).header("Accept", "text/csv").build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(csv.headers().firstValue("Content-Type").orElse("")).startsWith("text/csv");
    assertThat(csv.body().lines().toList()).hasSize(4).first().asString().startsWith("id,created_at,model");
    HttpResponse<String> adminView = admin("GET", "/admin/v1/accounts/" + c.accountId() + "/usage?from=2020-01-01", null);
    assertThat(json.readTree(adminView.body()).get("data")).hasSize(3);
    HttpResponse<String> bad = http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/usage?from=yesterday")).header("Authorization", "Bearer " + c.key()).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("\"param\":\"from\"");
  }
}
