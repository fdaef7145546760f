package dev.jevons.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.accounts.Account;
import dev.jevons.billing.StripeSignature;
import dev.jevons.cli.JevonsApp;
import dev.jevons.config.ConfigLoader;
import dev.jevons.governor.DemandHour;
import dev.jevons.store.Database;
import dev.jevons.store.SqlGovernorStore;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gates end to end: status, overrides, enforcement on redemption and sign-up, never on payments. */
class GovernorHttpTest {
  static final String SECRET = "whsec_test_governor_0123456789";
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
        .override("signups.enabled", true)
        .override("signups.grant", "0.50")
        .override("governor.top_ups_message", "Top-ups are paused while we add GPUs.")
        .load());
  }

  @AfterAll
  static void stop() {
    app.close();
  }

  @AfterEach
  void handBackToThePolicy() throws Exception {
    for (String gate : new String[] {"top_ups", "signups"}) {
      override(gate, "open", "reset between tests");
      override(gate, "auto", "reset between tests");
    }
  }

  record Customer(String accountId, String key) {}

  static Customer customer(String name) {
    Account a = app.accounts().createAccount(name);
    return new Customer(a.id(), app.accounts().issueKey(a.id(), "k", Set.of(), null).secret());
  }

  static HttpResponse<String> post(String path, @Nullable String bearer, String body, String... headers) throws Exception {
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

  static HttpResponse<String> get(String path, @Nullable String bearer) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(app.baseUrl() + path));
    if (bearer != null) {
      b.header("Authorization", "Bearer " + bearer);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> override(String gate, String state, String reason) throws Exception {
    HttpResponse<String> res = post("/admin/v1/governor/override", app.adminToken(),
        "{\"gate\":\"" + gate + "\",\"state\":\"" + state + "\",\"reason\":\"" + reason + "\"}");
    assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
    return res;
  }

  static JsonNode gate(String name) throws Exception {
    HttpResponse<String> res = get("/v1/status", null);
    assertThat(res.statusCode()).isEqualTo(200);
    for (JsonNode g : json.readTree(res.body()).get("gates")) {
      if (g.get("gate").asText().equals(name)) {
        return g;
      }
    }
    throw new AssertionError("no gate " + name + " in " + res.body());
  }

  static String code(String amount) throws Exception {
    HttpResponse<String> res = post("/admin/v1/redemption-codes", app.adminToken(), "{\"amount\":\"" + amount + "\",\"count\":1}");
    assertThat(res.statusCode()).as(res.body()).isEqualTo(201);
    return json.readTree(res.body()).get("data").get(0).asText();
  }

  static BigDecimal balance(Customer c, String field) throws Exception {
    HttpResponse<String> res = get("/user/balance", c.key());
    assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
    return new BigDecimal(json.readTree(res.body()).get("balance_infos").get(0).get(field).asText());
  }

  @Test
  void the_public_status_shows_both_gates_open_without_any_key() throws Exception {
    JsonNode topUps = gate("top_ups");
    assertThat(topUps.get("state").asText()).isEqualTo("open");
    assertThat(topUps.get("mode").asText()).isEqualTo("auto");
    assertThat(topUps.get("message").isNull()).isTrue();
    assertThat(gate("signups").get("state").asText()).isEqualTo("open");
  }

  @Test
  void a_closed_top_up_gate_refuses_redemption_but_keeps_balances_working_and_credits_payments() throws Exception {
    Customer alice = customer("alice");
    String code = code("5.00");
    override("top_ups", "closed", "promotion rush");

    HttpResponse<String> refused = post("/v1/top-ups/redeem", alice.key(), "{\"code\":\"" + code + "\"}");
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(refused.headers().firstValue("Retry-After")).hasValue("3600");
    JsonNode error = json.readTree(refused.body()).get("error");
    assertThat(error.get("code").asText()).isEqualTo("recharge_suspended");
    assertThat(error.get("message").asText()).isEqualTo("Top-ups are paused while we add GPUs.");
    assertThat(balance(alice, "topped_up_balance")).isZero();

    // A payment already made is credited, gate or no gate.
    String event = "{\"id\":\"evt_gov_1\",\"object\":\"event\",\"type\":\"checkout.session.completed\",\"data\":{\"object\":{"
        + "\"id\":\"cs_1\",\"object\":\"checkout.session\",\"amount_total\":700,\"currency\":\"usd\",\"payment_status\":\"paid\","
        + "\"metadata\":{\"jevons_account_id\":\"" + alice.accountId() + "\"}}}}";
    HttpResponse<String> paid = post("/webhooks/stripe", null, event,
        "Stripe-Signature", signer.header(System.currentTimeMillis() / 1000, event.getBytes(StandardCharsets.UTF_8)));
    assertThat(paid.statusCode()).as(paid.body()).isEqualTo(200);
    assertThat(balance(alice, "topped_up_balance")).isEqualByComparingTo("7.00");

    // The public status says why and what customers are told.
    JsonNode status = gate("top_ups");
    assertThat(status.get("state").asText()).isEqualTo("closed");
    assertThat(status.get("mode").asText()).isEqualTo("closed");
    assertThat(status.get("reason").asText()).isEqualTo("forced closed by admin: promotion rush");
    assertThat(status.get("message").asText()).isEqualTo("Top-ups are paused while we add GPUs.");
    assertThat(status.get("retry_after_seconds").asLong()).isEqualTo(3600);

    // The refused code was not used up: it works once the gate reopens.
    override("top_ups", "open", "capacity added");
    HttpResponse<String> redeemed = post("/v1/top-ups/redeem", alice.key(), "{\"code\":\"" + code + "\"}");
    assertThat(redeemed.statusCode()).as(redeemed.body()).isEqualTo(200);
    assertThat(balance(alice, "topped_up_balance")).isEqualByComparingTo("12.00");
  }

  @Test
  void every_override_and_transition_is_in_the_audit_log() throws Exception {
    override("signups", "closed", "invite only week");
    override("signups", "auto", "back to normal");
    HttpResponse<String> res = get("/admin/v1/governor/events?gate=signups&limit=3", app.adminToken());
    assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
    JsonNode events = json.readTree(res.body()).get("data");
    assertThat(events).hasSize(3);
    // Newest first: the auto override, then the forced close's transition, then its override.
    assertThat(events.get(0).get("kind").asText()).isEqualTo("override");
    assertThat(events.get(0).get("mode").asText()).isEqualTo("auto");
    assertThat(events.get(0).get("reason").asText()).isEqualTo("back to normal");
    assertThat(events.get(1).get("kind").asText()).isEqualTo("transition");
    assertThat(events.get(1).get("state").asText()).isEqualTo("closed");
    assertThat(events.get(2).get("reason").asText()).isEqualTo("invite only week");
    assertThat(events.get(2).get("actor").asText()).isEqualTo("admin");
  }

  @Test
  void self_serve_sign_up_gives_a_working_key_and_the_grant_until_the_gate_closes() throws Exception {
    HttpResponse<String> created = post("/v1/signups", null, "{\"name\":\"newcomer\"}");
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    JsonNode body = json.readTree(created.body());
    String key = body.get("api_key").get("key").asText();
    assertThat(key).startsWith("sk-");
    assertThat(body.get("grant").get("amount").asText()).isEqualTo("0.50");
    Customer newcomer = new Customer(body.get("account").get("id").asText(), key);
    assertThat(balance(newcomer, "granted_balance")).isEqualByComparingTo("0.50");
    assertThat(get("/v1/models", key).statusCode()).isEqualTo(200);

    override("signups", "closed", "capacity");
    HttpResponse<String> refused = post("/v1/signups", null, "{\"name\":\"latecomer\"}");
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(json.readTree(refused.body()).get("error").get("code").asText()).isEqualTo("signups_suspended");
    assertThat(refused.headers().firstValue("Retry-After")).isPresent();
  }

  @Test
  void an_off_peak_window_is_proposed_from_the_history_and_applied_with_one_call() throws Exception {
    HttpResponse<String> tooEarly = get("/admin/v1/governor/proposals", app.adminToken());
    assertThat(tooEarly.statusCode()).as(tooEarly.body()).isEqualTo(409);
    assertThat(json.readTree(tooEarly.body()).get("error").get("message").asText()).contains("Not enough demand history");

    // Three days of history, quiet from 18:00 to 02:00 UTC (a busy Asian daytime), busiest at 06:00.
    try (Database db = Database.open("jdbc:sqlite:" + data.resolve("jevons.db"))) {
      SqlGovernorStore store = new SqlGovernorStore(db);
      Instant today = Instant.now().truncatedTo(ChronoUnit.DAYS);
      for (int d = 4; d >= 2; d--) {
        for (int h = 0; h < 24; h++) {
          boolean quiet = h >= 18 || h < 2;
          long requests = quiet ? 100 : (h == 6 ? 1500 : 1000);
          store.addDemand(new DemandHour(today.minus(Duration.ofDays(d)).plus(Duration.ofHours(h)), requests, 0, requests * 20.0, 36_000));
        }
      }
    }
    HttpResponse<String> res = get("/admin/v1/governor/proposals", app.adminToken());
    assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
    JsonNode p = json.readTree(res.body());
    assertThat(p.get("start").asText()).isEqualTo("18:00");
    assertThat(p.get("end").asText()).isEqualTo("02:00");
    assertThat(p.get("discount_bp").asInt()).isBetween(500, 7500);
    assertThat(p.get("expected_shift").asDouble()).isGreaterThanOrEqualTo(0.10);
    assertThat(p.get("evidence").get("peak_hour").asText()).isEqualTo("06:00");
    assertThat(p.get("evidence").get("hourly")).hasSize(24);
    assertThat(p.get("summary").asText()).contains("18:00-02:00 UTC");

    HttpResponse<String> applied = post("/admin/v1/governor/proposals/apply", app.adminToken(), p.get("apply").toString());
    assertThat(applied.statusCode()).as(applied.body()).isEqualTo(200);
    HttpResponse<String> chat = get("/admin/v1/prices/sim-chat", app.adminToken());
    JsonNode windows = json.readTree(chat.body()).get("windows");
    assertThat(windows).anySatisfy(w -> {
      assertThat(w.get("start").asText()).isEqualTo("18:00");
      assertThat(w.get("end").asText()).isEqualTo("02:00");
      assertThat(w.get("discount_bp").asInt()).isEqualTo(p.get("discount_bp").asInt());
    });

    HttpResponse<String> unknownModel = post("/admin/v1/governor/proposals/apply", app.adminToken(),
        "{\"start\":\"18:00\",\"end\":\"02:00\",\"discount_bp\":5000,\"models\":[\"nope\"]}");
    assertThat(unknownModel.statusCode()).isEqualTo(400);
    assertThat(json.readTree(unknownModel.body()).get("error").get("param").asText()).isEqualTo("models");
    HttpResponse<String> badHours = get("/admin/v1/governor/proposals?hours=30", app.adminToken());
    assertThat(badHours.statusCode()).isEqualTo(400);
  }

  @Test
  void an_operator_sets_an_accounts_tier_and_a_bad_band_is_named() throws Exception {
    Customer c = customer("tiered");
    HttpRequest patch = HttpRequest.newBuilder(URI.create(app.baseUrl() + "/admin/v1/accounts/" + c.accountId()))
        .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"band\":0,\"weight\":3}"))
        .header("Authorization", "Bearer " + app.adminToken())
        .build();
    HttpResponse<String> res = http.send(patch, HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
    assertThat(json.readTree(res.body()).get("band").asInt()).isZero();
    assertThat(json.readTree(res.body()).get("weight").asInt()).isEqualTo(3);
    assertThat(json.readTree(res.body()).get("status").asText()).isEqualTo("active");
    HttpRequest bad = HttpRequest.newBuilder(URI.create(app.baseUrl() + "/admin/v1/accounts/" + c.accountId()))
        .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"band\":7}"))
        .header("Authorization", "Bearer " + app.adminToken())
        .build();
    HttpResponse<String> refused = http.send(bad, HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(json.readTree(refused.body()).get("error").get("param").asText()).isEqualTo("band");
  }

  @Test
  void the_admin_api_names_what_is_wrong_with_an_override() throws Exception {
    HttpResponse<String> badGate = post("/admin/v1/governor/override", app.adminToken(), "{\"gate\":\"payments\",\"state\":\"closed\",\"reason\":\"x\"}");
    assertThat(badGate.statusCode()).isEqualTo(400);
    assertThat(json.readTree(badGate.body()).get("error").get("param").asText()).isEqualTo("gate");
    HttpResponse<String> badState = post("/admin/v1/governor/override", app.adminToken(), "{\"gate\":\"top_ups\",\"state\":\"shut\",\"reason\":\"x\"}");
    assertThat(json.readTree(badState.body()).get("error").get("param").asText()).isEqualTo("state");
    HttpResponse<String> noReason = post("/admin/v1/governor/override", app.adminToken(), "{\"gate\":\"top_ups\",\"state\":\"closed\"}");
    assertThat(noReason.statusCode()).isEqualTo(400);
    assertThat(json.readTree(noReason.body()).get("error").get("param").asText()).isEqualTo("reason");
    assertThat(post("/admin/v1/governor/override", "wrong-token-0123456789", "{}").statusCode()).isEqualTo(401);
    assertThat(get("/admin/v1/governor", null).statusCode()).isEqualTo(401);
    assertThat(gate("top_ups").get("state").asText()).isEqualTo("open");
  }

  @Test
  void the_admin_view_and_metrics_show_the_signals_and_gate_states() throws Exception {
    override("top_ups", "closed", "metrics check");
    HttpResponse<String> view = get("/admin/v1/governor", app.adminToken());
    assertThat(view.statusCode()).isEqualTo(200);
    JsonNode body = json.readTree(view.body());
    assertThat(body.get("automatic").asBoolean()).isTrue();
    assertThat(body.get("policy").get("close").get("queue_wait_p95_ms").asDouble()).isEqualTo(30_000);
    String metrics = get("/metrics", null).body();
    assertThat(metrics).contains("jevons_governor_gate_open{gate=\"top_ups\"} 0.0");
    assertThat(metrics).contains("jevons_governor_gate_open{gate=\"signups\"} 1.0");
    assertThat(metrics).contains("jevons_governor_gate_forced{gate=\"top_ups\"} 1.0");
  }
}
