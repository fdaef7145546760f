package dev.jevons.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.accounts.Account;
import dev.jevons.billing.StripeSignature;
import dev.jevons.billing.TopUpStore;
import dev.jevons.cli.JevonsApp;
import dev.jevons.config.ConfigLoader;
import dev.jevons.store.Database;
import dev.jevons.store.SqlTopUpStore;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Redemption codes and the Stripe webhook over real HTTP against the whole app. */
class TopUpsHttpTest {
  static final String SECRET = "whsec_test_0123456789abcdef";
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  static final ObjectMapper json = new ObjectMapper();
  static final StripeSignature signer = new StripeSignature(SECRET, Clock.systemUTC(), StripeSignature.DEFAULT_TOLERANCE);
  @TempDir static Path data;
  static JevonsApp app;

  @BeforeAll
  static void start() {
    app = JevonsApp.start(new ConfigLoader()
        .override("server.port", 0)
        .override("data_dir", data.toString())
        .override("sim.profile", "small")
        .override("sim.replicas", 1)
        .override("stripe.webhook_secret", SECRET)
        .load());
  }

  @AfterAll
  static void stop() {
    app.close();
  }

  record Customer(String accountId, String key) {}

  static Customer customer(String name) {
    Account a = app.accounts().createAccount(name);
    return new Customer(a.id(), app.accounts().issueKey(a.id(), "k", Set.of(), null).secret());
  }

  static HttpResponse<String> send(String path, String bearer, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(app.baseUrl() + path))
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/json");
    if (bearer != null) {
      b.header("Authorization", "Bearer " + bearer);
    }
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static List<String> codes(String amount, int count) throws Exception {
    HttpResponse<String> res = send("/admin/v1/redemption-codes", app.adminToken(), "{\"amount\":\"" + amount + "\",\"count\":" + count + "}");
    assertThat(res.statusCode()).as(res.body()).isEqualTo(201);
    List<String> out = new ArrayList<>();
    json.readTree(res.body()).get("data").forEach(n -> out.add(n.asText()));
    assertThat(out).hasSize(count).allMatch(c -> c.matches("JVN(-[A-HJ-NP-Z2-9]{4}){4}"));
    return out;
  }

  static HttpResponse<String> redeem(Customer c, String code) throws Exception {
    return send("/v1/top-ups/redeem", c.key(), "{\"code\":\"" + code + "\"}");
  }

  static BigDecimal toppedUp(Customer c) throws Exception {
    HttpResponse<String> res = http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/user/balance")).header("Authorization", "Bearer " + c.key()).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(200);
    return new BigDecimal(json.readTree(res.body()).get("balance_infos").get(0).get("topped_up_balance").asText());
  }

  static JsonNode error(HttpResponse<String> res) throws Exception {
    return json.readTree(res.body()).get("error");
  }

  // ------------------------------------------------------------------ codes

  @Test
  void a_code_credits_once_and_a_reused_code_is_refused() throws Exception {
    Customer alice = customer("alice");
    Customer bob = customer("bob");
    String code = codes("12.50", 2).get(0);

    HttpResponse<String> first = redeem(alice, code.toLowerCase());
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    JsonNode body = json.readTree(first.body());
    assertThat(new BigDecimal(body.get("amount").asText())).isEqualByComparingTo("12.5");
    assertThat(new BigDecimal(body.get("balance").get("balance_infos").get(0).get("topped_up_balance").asText())).isEqualByComparingTo("12.5");

    for (Customer c : List.of(alice, bob)) {
      HttpResponse<String> again = redeem(c, code);
      assertThat(again.statusCode()).isEqualTo(400);
      assertThat(error(again).get("type").asText()).isEqualTo("invalid_request_error");
      assertThat(error(again).get("message").asText()).containsIgnoringCase("already redeemed");
    }
    assertThat(toppedUp(alice)).isEqualByComparingTo("12.500000000");
    assertThat(toppedUp(bob)).isEqualByComparingTo("0.000000000");
  }

  @Test
  void an_unknown_or_malformed_code_is_refused_naming_it() throws Exception {
    Customer c = customer("carol");
    for (String code : List.of("JVN-AAAA-BBBB-CCCC-DDDD", "not a code")) {
      HttpResponse<String> res = redeem(c, code);
      assertThat(res.statusCode()).isEqualTo(400);
      assertThat(error(res).get("message").asText()).contains(code).contains("unknown");
    }
    assertThat(toppedUp(c)).isEqualByComparingTo("0.000000000");
  }

  @Test
  void a_code_cannot_be_created_already_expired() throws Exception {
    HttpResponse<String> res = send("/admin/v1/redemption-codes", app.adminToken(),
        "{\"amount\":\"1.00\",\"count\":1,\"expires_at\":\"2020-01-01T00:00:00Z\"}");
    assertThat(res.statusCode()).isEqualTo(400);
    assertThat(error(res).get("message").asText()).contains("passed");
  }

  @Test
  void an_expired_code_is_refused_at_redeem_time_with_its_expiry_and_credits_nothing() throws Exception {
    // A code issued earlier whose expiry has since passed: written into the app's own store, since
    // the API refuses to create one already expired (RedemptionCodeExpiryTest covers the instant
    // of expiry on a fake clock).
    String code = "JVN-EXPD-AAAA-BBBB-CCCC";
    long expiredAt = Instant.parse("2026-01-01T00:00:00Z").toEpochMilli();
    try (Database db = Database.open("jdbc:sqlite:" + data.resolve("jevons.db"))) {
      String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(code.getBytes(StandardCharsets.UTF_8)));
      new SqlTopUpStore(db).insertCodes(List.of(new TopUpStore.CodeRow(hash, 1_000_000_000L, expiredAt - 86_400_000L, expiredAt, null, null)));
    }
    Customer dave = customer("dave");
    HttpResponse<String> res = redeem(dave, code.toLowerCase());
    assertThat(res.statusCode()).isEqualTo(400);
    assertThat(error(res).get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error(res).get("message").asText())
        .isEqualTo("The redemption code '" + code.toLowerCase() + "' expired at 2026-01-01T00:00:00Z.");
    assertThat(toppedUp(dave)).isEqualByComparingTo("0");
  }

  @Test
  void eight_threads_redeeming_one_code_credit_it_exactly_once() throws Exception {
    Customer dave = customer("dave");
    String code = codes("3.00", 1).get(0);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<Integer>> statuses = new ArrayList<>();
    try {
      for (int i = 0; i < 8; i++) {
        Callable<Integer> task = () -> {
          go.await();
          return redeem(dave, code).statusCode();
        };
        statuses.add(pool.submit(task));
      }
      go.countDown();
      int ok = 0;
      for (Future<Integer> f : statuses) {
        int s = f.get();
        assertThat(s).isIn(200, 400);
        ok += s == 200 ? 1 : 0;
      }
      assertThat(ok).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
    assertThat(toppedUp(dave)).isEqualByComparingTo("3.000000000");
  }

  @Test
  void creating_codes_needs_the_admin_token_and_a_count_in_range() throws Exception {
    assertThat(send("/admin/v1/redemption-codes", "sk-wrong", "{\"amount\":\"1\",\"count\":1}").statusCode()).isEqualTo(401);
    for (String count : List.of("0", "10001", "1.5", "\"3\"")) {
      HttpResponse<String> res = send("/admin/v1/redemption-codes", app.adminToken(), "{\"amount\":\"1.00\",\"count\":" + count + "}");
      assertThat(res.statusCode()).as(count).isEqualTo(400);
    }
  }

  // ------------------------------------------------------------------ webhook

  static String checkout(String eventId, String accountId, long cents, String paymentStatus, String currency) {
    return "{\"id\":\"" + eventId + "\",\"object\":\"event\",\"type\":\"checkout.session.completed\",\"data\":{\"object\":{"
        + "\"id\":\"cs_test_1\",\"object\":\"checkout.session\",\"amount_total\":" + cents + ",\"currency\":\"" + currency + "\","
        + "\"payment_status\":\"" + paymentStatus + "\",\"metadata\":{\"jevons_account_id\":\"" + accountId + "\"}}}}";
  }

  static HttpResponse<String> deliver(String body, long timestamp) throws Exception {
    return send("/webhooks/stripe", null, body, "Stripe-Signature", signer.header(timestamp, body.getBytes(StandardCharsets.UTF_8)));
  }

  static long now() {
    return System.currentTimeMillis() / 1000;
  }

  @Test
  void a_paid_checkout_credits_amount_total_once_however_often_it_is_delivered() throws Exception {
    Customer erin = customer("erin");
    String event = checkout("evt_paid_1", erin.accountId(), 1999, "paid", "usd");
    HttpResponse<String> first = deliver(event, now());
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    assertThat(toppedUp(erin)).isEqualByComparingTo("19.990000000");

    // A replay of the same delivery, and a redelivery signed later, change nothing.
    assertThat(deliver(event, now()).statusCode()).isEqualTo(200);
    assertThat(deliver(event, now() - 100).statusCode()).isEqualTo(200);
    assertThat(toppedUp(erin)).isEqualByComparingTo("19.990000000");

    // Out of order: an older event arriving after a newer one still credits, once.
    String older = checkout("evt_paid_0", erin.accountId(), 1, "paid", "usd");
    assertThat(deliver(older, now()).statusCode()).isEqualTo(200);
    assertThat(deliver(older, now()).statusCode()).isEqualTo(200);
    assertThat(toppedUp(erin)).isEqualByComparingTo("20.000000000");
  }

  @Test
  void a_bad_signature_is_refused_and_credits_nothing() throws Exception {
    Customer f = customer("frank");
    String event = checkout("evt_bad_sig", f.accountId(), 500, "paid", "usd");
    StripeSignature wrong = new StripeSignature("whsec_some_other_secret", Clock.systemUTC(), StripeSignature.DEFAULT_TOLERANCE);
    List<String> headers = List.of(
        wrong.header(now(), event.getBytes(StandardCharsets.UTF_8)),
        signer.header(now(), (event + " ").getBytes(StandardCharsets.UTF_8)),
        "t=" + now(),
        "garbage");
    for (String h : headers) {
      HttpResponse<String> res = send("/webhooks/stripe", null, event, "Stripe-Signature", h);
      assertThat(res.statusCode()).as(h).isEqualTo(400);
      assertThat(error(res).get("message").asText()).containsIgnoringCase("Stripe-Signature");
    }
    HttpResponse<String> none = send("/webhooks/stripe", null, event);
    assertThat(none.statusCode()).isEqualTo(400);
    assertThat(toppedUp(f)).isEqualByComparingTo("0.000000000");
  }

  @Test
  void a_stale_timestamp_is_refused_even_with_a_valid_signature() throws Exception {
    Customer g = customer("grace");
    String event = checkout("evt_stale", g.accountId(), 500, "paid", "usd");
    HttpResponse<String> res = deliver(event, now() - 301 - 5);
    assertThat(res.statusCode()).isEqualTo(400);
    assertThat(error(res).get("message").asText()).contains("tolerance");
    assertThat(toppedUp(g)).isEqualByComparingTo("0.000000000");
    // The same event, freshly signed, is then credited: a refused delivery left no trace.
    assertThat(deliver(event, now()).statusCode()).isEqualTo(200);
    assertThat(toppedUp(g)).isEqualByComparingTo("5.000000000");
  }

  @Test
  void a_malformed_body_or_unknown_account_or_foreign_currency_is_a_clear_400() throws Exception {
    Customer h = customer("heidi");
    for (String body : List.of("{not json", "[]", "{\"type\":\"checkout.session.completed\"}",
        checkout("evt_eur", h.accountId(), 100, "paid", "eur"),
        "{\"id\":\"evt_no_amount\",\"type\":\"checkout.session.completed\",\"data\":{\"object\":{\"payment_status\":\"paid\",\"currency\":\"usd\",\"metadata\":{\"jevons_account_id\":\"" + h.accountId() + "\"}}}}")) {
      HttpResponse<String> res = deliver(body, now());
      assertThat(res.statusCode()).as(body).isEqualTo(400);
      assertThat(error(res).get("type").asText()).isEqualTo("invalid_request_error");
    }
    HttpResponse<String> unknown = deliver(checkout("evt_nobody", "acct_nobody", 100, "paid", "usd"), now());
    assertThat(unknown.statusCode()).isEqualTo(400);
    assertThat(error(unknown).get("message").asText()).contains("acct_nobody");
    assertThat(toppedUp(h)).isEqualByComparingTo("0.000000000");
  }

  @Test
  void an_unpaid_session_and_other_event_types_are_acknowledged_and_ignored() throws Exception {
    Customer i = customer("ivan");
    HttpResponse<String> unpaid = deliver(checkout("evt_unpaid", i.accountId(), 700, "unpaid", "usd"), now());
    assertThat(unpaid.statusCode()).isEqualTo(200);
    assertThat(json.readTree(unpaid.body()).get("outcome").asText()).isEqualTo("ignored");
    String other = "{\"id\":\"evt_other\",\"type\":\"payment_intent.created\",\"data\":{\"object\":{}}}";
    assertThat(deliver(other, now()).statusCode()).isEqualTo(200);
    assertThat(toppedUp(i)).isEqualByComparingTo("0.000000000");
  }
}
