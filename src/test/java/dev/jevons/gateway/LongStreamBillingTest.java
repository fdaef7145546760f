package dev.jevons.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.accounts.Account;
import dev.jevons.billing.CreditKind;
import dev.jevons.billing.CreditLimitResult;
import dev.jevons.billing.Money;
import dev.jevons.billing.Quote;
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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streams that outgrow their first hold, end to end over HTTP against the built-in simulator:
 * holds grow while funds last, a stream the balance cannot pay for ends with an
 * {@code insufficient_balance} event, and the balance never goes below the credit limit.
 */
class LongStreamBillingTest {
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  static final ObjectMapper json = new ObjectMapper();
  /** Output tokens a request without max_tokens may produce here; the hold starts at 16 and grows by 16. */
  static final int BUDGET = 300;
  @TempDir static Path data;
  static JevonsApp app;

  @BeforeAll
  static void start() {
    app = JevonsApp.start(new ConfigLoader()
        .override("server.port", 0)
        .override("data_dir", data.toString())
        .override("sim.profile", "small")
        .override("sim.time_scale", 20)
        .override("scheduler.default_max_output_tokens", BUDGET)
        .override("billing.stream_initial_hold_tokens", 16)
        .override("billing.stream_extension_tokens", 16)
        .load());
  }

  @AfterAll
  static void stop() {
    app.close();
  }

  record Customer(String accountId, String key) {}

  static Customer customer(String name, long toppedUpNanos) throws Exception {
    Account a = app.accounts().createAccount(name);
    app.ledger().credit("seed-" + a.id(), a.id(), CreditKind.TOPPED_UP, toppedUpNanos, null).get(30, TimeUnit.SECONDS);
    return new Customer(a.id(), app.accounts().issueKey(a.id(), "k", Set.of(), null).secret());
  }

  /** What a client saw of one stream, in order. */
  record Seen(int status, int contentChunks, List<String> errorCodes, JsonNode usage, boolean doneLast, List<String> kinds) {}

  static Seen stream(Customer c, String body) throws Exception {
    HttpResponse<InputStream> res = http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(60))
            .header("Authorization", "Bearer " + c.key())
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofInputStream());
    int contents = 0;
    List<String> errors = new ArrayList<>();
    List<String> kinds = new ArrayList<>();
    JsonNode usage = null;
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
      if (res.statusCode() != 200) {
        return new Seen(res.statusCode(), 0, List.of(json.readTree(reader).path("error").path("code").asText()), null, false, kinds);
      }
      for (String line = reader.readLine(); line != null; line = reader.readLine()) {
        if (!line.startsWith("data: ")) {
          continue;
        }
        String payload = line.substring(6);
        if (payload.equals("[DONE]")) {
          kinds.add("done");
          continue;
        }
        JsonNode event = json.readTree(payload);
        if (event.has("error")) {
          errors.add(event.get("error").get("code").asText());
          kinds.add("error");
        } else if (event.path("usage").isObject()) {
          usage = event.get("usage");
          kinds.add("usage");
        } else if (!event.path("choices").path(0).path("delta").path("content").asText("").isEmpty()) {
          contents++;
          if (kinds.isEmpty() || !kinds.get(kinds.size() - 1).equals("content")) {
            kinds.add("content");
          }
        }
      }
    }
    return new Seen(200, contents, errors, usage, !kinds.isEmpty() && kinds.get(kinds.size() - 1).equals("done"), kinds);
  }

  static String longStream(String prompt) {
    return "{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}],\"ignore_eos\":true,"
        + "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
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

  static long costOf(JsonNode usage) {
    Quote q = app.prices().quoteNow("sim-chat");
    long cached = usage.path("prompt_tokens_details").path("cached_tokens").asLong(0);
    return q.cost(cached, usage.get("prompt_tokens").asLong() - cached, usage.get("completion_tokens").asLong()).nanos();
  }

  static double metric(String text, String name) {
    double sum = 0;
    Matcher m = Pattern.compile("(?m)^" + name + "(?:\\{[^}]*})? ([0-9.eE+]+)").matcher(text);
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
    }
    return sum;
  }

  static String get(String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  /** Waits until the account holds nothing (a settlement commits just before [DONE]; this is belt and braces). */
  static JsonNode settledBalance(Customer c) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    JsonNode b = balance(c);
    while (nanos(b, "reserved_balance") != 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
      b = balance(c);
    }
    return b;
  }

  @Test
  void a_stream_without_max_tokens_grows_its_hold_to_the_end_and_pays_exactly_what_the_client_saw() throws Exception {
    Customer c = customer("grows", Money.parse("1.00").nanos());
    double extensionsBefore = metric(get(app.baseUrl() + "/metrics"), "jevons_billing_hold_extensions_total");
    Seen seen = stream(c, longStream("tell me everything"));
    assertThat(seen.errorCodes()).isEmpty();
    assertThat(seen.kinds()).containsExactly("content", "usage", "done");
    assertThat(seen.contentChunks()).isEqualTo(BUDGET);
    assertThat(seen.usage().get("completion_tokens").asInt()).isEqualTo(BUDGET);
    JsonNode after = settledBalance(c);
    assertThat(after.get("reserved_balance").asText()).isEqualTo("0.00");
    assertThat(nanos(after, "total_balance")).isEqualTo(Money.parse("1.00").nanos() - costOf(seen.usage()));
    // 16 tokens held at the start, 16 more per extension, up to the 300-token budget. The counter
    // is updated just after the stream's last byte, so it is polled.
    int expected = (BUDGET - 16) / 16;
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    double extensions = metric(get(app.baseUrl() + "/metrics"), "jevons_billing_hold_extensions_total") - extensionsBefore;
    while (extensions < expected && System.nanoTime() < deadline) {
      Thread.sleep(20);
      extensions = metric(get(app.baseUrl() + "/metrics"), "jevons_billing_hold_extensions_total") - extensionsBefore;
    }
    assertThat(extensions).isGreaterThanOrEqualTo(expected);
  }

  @Test
  void a_stream_the_balance_cannot_pay_for_ends_with_insufficient_balance_and_is_charged_what_it_delivered() throws Exception {
    long start = 50_000; // $0.00005: the prompt and roughly 90 output tokens of sim-chat at $0.42/1M
    Customer c = customer("runs-dry", start);
    double cancelledBefore = simCancellations();
    String body = longStream("go on and on");
    Seen seen = stream(c, body);
    assertThat(seen.status()).isEqualTo(200);
    assertThat(seen.kinds()).as("content, then the error, then usage, then [DONE]").containsExactly("content", "error", "usage", "done");
    assertThat(seen.errorCodes()).containsExactly("insufficient_balance");
    assertThat(seen.contentChunks()).as("the hold grew past its first 16 tokens").isGreaterThan(16).isLessThan(BUDGET);
    assertThat(seen.usage().get("completion_tokens").asInt()).isEqualTo(seen.contentChunks());
    JsonNode after = settledBalance(c);
    assertThat(after.get("reserved_balance").asText()).isEqualTo("0.00");
    assertThat(nanos(after, "total_balance")).isEqualTo(start - costOf(seen.usage())).isNotNegative();
    // The hold took all but less than one output token's worth; what is left beyond that is the
    // difference between the prompt's upper bound, held, and its estimate, charged.
    long promptBound = CompletionRequest.parse(Endpoint.CHAT, body.getBytes(StandardCharsets.UTF_8), json).promptTokensUpperBound();
    assertThat(nanos(after, "total_balance")).isLessThan(app.prices().quoteNow("sim-chat").cost(0, promptBound, 1).nanos());
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (simCancellations() <= cancelledBefore && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(simCancellations()).as("the upstream generation was cancelled").isGreaterThan(cancelledBefore);
  }

  @Test
  void a_stream_may_spend_into_the_credit_limit_but_never_below_it() throws Exception {
    long start = 50_000;
    long creditLimit = 30_000;
    Customer c = customer("overdraft", start);
    CreditLimitResult limit = app.ledger().setCreditLimit("limit-" + c.accountId(), c.accountId(), creditLimit).get(30, TimeUnit.SECONDS);
    assertThat(limit.status()).isEqualTo(CreditLimitResult.Status.APPLIED);
    Seen seen = stream(c, longStream("overdraw"));
    assertThat(seen.errorCodes()).containsExactly("insufficient_balance");
    JsonNode after = settledBalance(c);
    long total = nanos(after, "total_balance");
    assertThat(total).isEqualTo(start - costOf(seen.usage()));
    assertThat(total).as("spent into the overdraft").isNegative().isGreaterThanOrEqualTo(-creditLimit);
  }

  @Test
  void concurrent_streams_of_one_account_share_what_is_left_and_never_overspend() throws Exception {
    long start = 100_000;
    Customer c = customer("shares", start);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<Seen>> streams = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      String prompt = "share " + i;
      streams.add(pool.submit(() -> stream(c, longStream(prompt))));
    }
    long costs = 0;
    int cut = 0;
    for (Future<Seen> f : streams) {
      Seen seen = f.get(60, TimeUnit.SECONDS);
      assertThat(seen.status()).isEqualTo(200);
      assertThat(seen.doneLast()).isTrue();
      assertThat(seen.usage().get("completion_tokens").asInt()).isEqualTo(seen.contentChunks());
      cut += seen.errorCodes().contains("insufficient_balance") ? 1 : 0;
      costs += costOf(seen.usage());
    }
    pool.shutdown();
    assertThat(cut).as("$0.0001 cannot pay for four 300-token answers").isPositive();
    JsonNode after = settledBalance(c);
    assertThat(after.get("reserved_balance").asText()).isEqualTo("0.00");
    assertThat(nanos(after, "total_balance")).isEqualTo(start - costs).isNotNegative();
  }

  @Test
  void a_non_streaming_request_holds_its_whole_budget_and_is_told_a_stream_would_start() throws Exception {
    Customer c = customer("not-streaming", 50_000);
    HttpResponse<String> res = http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + c.key())
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"all at once\"}]}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(402);
    assertThat(res.body()).contains("\"code\":\"insufficient_balance\"").contains(BUDGET + " output tokens").contains("stream the answer");
    assertThat(nanos(balance(c), "total_balance")).isEqualTo(50_000);
  }

  @Test
  void a_stream_that_cannot_pay_for_its_first_hold_is_refused_with_402() throws Exception {
    Customer c = customer("too-poor", 1_000);
    Seen seen = stream(c, longStream("anything"));
    assertThat(seen.status()).isEqualTo(402);
    assertThat(seen.errorCodes()).containsExactly("insufficient_balance");
  }

  static double simCancellations() throws Exception {
    double sum = 0;
    for (URI u : app.fleet().baseUrls()) {
      sum += metric(get(u.toString().replaceAll("/v1/?$", "") + "/metrics"), "jevons_sim_requests_cancelled_total");
    }
    return sum;
  }
}
