package dev.jevons.api;

import dev.jevons.TestApps;
import dev.jevons.TestFunds;
import static dev.jevons.api.ApiClient.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jevons.accounts.Account;
import dev.jevons.accounts.AccountStatus;
import dev.jevons.accounts.IssuedKey;
import dev.jevons.cli.JevonsApp;
import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every documented rejection arrives with its status, its stable code and the OpenAI error shape,
 * and says specifically what was wrong.
 */
class ErrorResponsesTest {
  static final int MAX_BODY_BYTES = 4096;
  static final String CHAT = "/v1/chat/completions";
  static final String VALID_CHAT = "{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  @TempDir static Path tmp;
  static JevonsApp app;
  static ApiClient api;
  static Account account;
  static String key;

  @BeforeAll
  static void start() {
    app =
        JevonsApp.start(
            TestApps.instant(tmp)
                .override("server.max_body_bytes", MAX_BODY_BYTES)
                .load());
    api = new ApiClient(app.port());
    account = app.accounts().createAccount("errors");
    TestFunds.fund(app, account.id());
    key = app.accounts().issueKey(account.id(), "main", Set.of(), null).secret();
  }

  @AfterAll
  static void stop() {
    if (app != null) {
      app.close();
    }
  }

  private static HttpResponse<String> chat(String body) {
    return api.post(CHAT, key, body);
  }

  private static JsonNode invalid(HttpResponse<String> res, String param) {
    JsonNode e = assertError(res, 400, "invalid_request_error");
    assertThat(e.get("type").asText()).isEqualTo("invalid_request_error");
    if (param == null) {
      assertThat(e.get("param").isNull()).as(res.body()).isTrue();
    } else {
      assertThat(e.get("param").asText()).as(res.body()).isEqualTo(param);
      assertThat(e.get("message").asText()).as(res.body()).contains(param);
    }
    return e;
  }

  @Test
  void a_valid_request_succeeds_so_the_rejections_below_are_about_the_input() {
    assertThat(chat(VALID_CHAT).statusCode()).isEqualTo(200);
  }

  @Test
  void rejects_malformed_json_with_its_position() {
    JsonNode e = invalid(chat("{\"model\":\"sim-chat\",\"messages\":[}"), null);
    assertThat(e.get("message").asText()).contains("not valid JSON").contains("line 1");
  }

  @Test
  void rejects_a_truncated_body_saying_it_ends_early() {
    JsonNode e = invalid(chat("{\"model\":\"sim-chat\",\"messages\":["), null);
    assertThat(e.get("message").asText()).contains("not valid JSON");
  }

  @Test
  void rejects_an_empty_body() {
    assertThat(invalid(chat(""), null).get("message").asText()).contains("empty");
  }

  @Test
  void rejects_a_body_that_is_not_an_object() {
    for (String body : new String[] {"[]", "\"hello\"", "42", "null", "true"}) {
      assertThat(invalid(chat(body), null).get("message").asText()).as(body).contains("JSON object");
    }
  }

  @Test
  void rejects_a_string_stream_naming_the_parameter() {
    invalid(chat("{\"model\":\"sim-chat\",\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), "stream");
  }

  @Test
  void rejects_a_string_max_tokens_naming_the_parameter() {
    invalid(chat("{\"model\":\"sim-chat\",\"max_tokens\":\"10\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), "max_tokens");
  }

  @Test
  void rejects_a_fractional_max_tokens_naming_the_parameter() {
    invalid(chat("{\"model\":\"sim-chat\",\"max_tokens\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), "max_tokens");
  }

  @Test
  void rejects_messages_given_as_an_object_naming_the_parameter() {
    invalid(chat("{\"model\":\"sim-chat\",\"messages\":{}}"), "messages");
  }

  @Test
  void rejects_a_missing_messages_naming_the_parameter() {
    JsonNode e = invalid(chat("{\"model\":\"sim-chat\"}"), "messages");
    assertThat(e.get("message").asText()).contains("Missing required parameter");
  }

  @Test
  void rejects_a_missing_model_naming_the_parameter() {
    invalid(chat("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), "model");
  }

  @Test
  void rejects_a_message_without_role_naming_its_index() {
    invalid(chat("{\"model\":\"sim-chat\",\"messages\":[{\"content\":\"hi\"}]}"), "messages[0].role");
  }

  @Test
  void rejects_a_missing_prompt_on_completions_naming_the_parameter() {
    invalid(api.post("/v1/completions", key, "{\"model\":\"sim-chat\"}"), "prompt");
  }

  @Test
  void rejects_negative_max_tokens_naming_the_parameter() {
    JsonNode e = invalid(chat("{\"model\":\"sim-chat\",\"max_tokens\":-5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), "max_tokens");
    assertThat(e.get("message").asText()).contains("-5");
  }

  @Test
  void rejects_zero_max_tokens_naming_the_parameter() {
    invalid(chat("{\"model\":\"sim-chat\",\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), "max_tokens");
  }

  @Test
  void rejects_a_max_tokens_beyond_a_long_naming_the_parameter() {
    invalid(
        chat("{\"model\":\"sim-chat\",\"max_tokens\":99999999999999999999999,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
        "max_tokens");
  }

  @Test
  void rejects_stream_options_without_stream() {
    invalid(
        chat("{\"model\":\"sim-chat\",\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
        "stream_options");
  }

  @Test
  void rejects_min_tokens_above_max_tokens_as_invalid_parameters() {
    JsonNode e =
        assertError(
            chat("{\"model\":\"sim-chat\",\"max_tokens\":5,\"min_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
            422,
            "invalid_parameters");
    assertThat(e.get("param").asText()).isEqualTo("min_tokens");
    assertThat(e.get("message").asText()).contains("min_tokens").contains("max_tokens").contains("10").contains("5");
  }

  @Test
  void rejects_out_of_range_temperature_naming_the_range() {
    JsonNode e = invalid(chat("{\"model\":\"sim-chat\",\"temperature\":7,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), "temperature");
    assertThat(e.get("message").asText()).contains("between 0 and 2");
  }

  @Test
  void rejects_invalid_utf8_inside_a_json_string() {
    byte[] prefix = "{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"".getBytes(StandardCharsets.US_ASCII);
    byte[] suffix = "\"}]}".getBytes(StandardCharsets.US_ASCII);
    byte[] body = Arrays.copyOf(prefix, prefix.length + 3 + suffix.length);
    body[prefix.length] = (byte) 0xff;
    body[prefix.length + 1] = (byte) 0xfe;
    body[prefix.length + 2] = (byte) 0xc3;
    System.arraycopy(suffix, 0, body, prefix.length + 3, suffix.length);
    JsonNode e = invalid(api.post(CHAT, key, body), null);
    assertThat(e.get("message").asText()).contains("UTF-8");
  }

  @Test
  void rejects_trailing_garbage_after_the_object() {
    invalid(chat(VALID_CHAT + " {\"x\":1}"), null);
    invalid(chat(VALID_CHAT + "garbage"), null);
  }

  @Test
  void rejects_duplicate_keys_naming_the_key() {
    JsonNode e = invalid(chat("{\"model\":\"sim-chat\",\"model\":\"sim-reasoner\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), null);
    assertThat(e.get("message").asText()).contains("model");
  }

  @Test
  void rejects_a_missing_api_key() {
    JsonNode e = assertError(api.post(CHAT, null, VALID_CHAT), 401, "invalid_api_key");
    assertThat(e.get("message").asText()).contains("Authorization");
    assertThat(e.get("type").asText()).isEqualTo("authentication_error");
  }

  @Test
  void rejects_a_non_bearer_authorization_header() {
    HttpResponse<String> res =
        api.send(api.request(CHAT).header("Authorization", "Basic dXNlcjpwYXNz").POST(HttpRequest.BodyPublishers.ofString(VALID_CHAT)).build());
    assertError(res, 401, "invalid_api_key");
  }

  @Test
  void rejects_a_wrong_api_key_without_echoing_it() {
    String wrong = "sk-thisisnotakeythisisnotakeythisisnotakeyabc";
    JsonNode e = assertError(api.post(CHAT, wrong, VALID_CHAT), 401, "invalid_api_key");
    assertThat(e.get("message").asText()).doesNotContain(wrong);
  }

  @Test
  void rejects_an_absurdly_long_api_key() {
    assertError(api.post(CHAT, "sk-" + "x".repeat(5000), VALID_CHAT), 401, "invalid_api_key");
  }

  @Test
  void rejects_a_revoked_key() {
    IssuedKey k = app.accounts().issueKey(account.id(), "revoked", Set.of(), null);
    app.accounts().revokeKey(k.key().id());
    assertError(api.post(CHAT, k.secret(), VALID_CHAT), 401, "invalid_api_key");
  }

  @Test
  void rejects_an_expired_key() throws Exception {
    IssuedKey k = app.accounts().issueKey(account.id(), "expired", Set.of(), null);
    // Accounts refuses to issue an already expired key, so the test ages it in the store.
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + tmp.resolve("jevons.db"));
        PreparedStatement ps = c.prepareStatement("UPDATE api_keys SET expires_at = ? WHERE id = ?")) {
      ps.setLong(1, 1_000L);
      ps.setString(2, k.key().id());
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
    assertError(api.post(CHAT, k.secret(), VALID_CHAT), 401, "invalid_api_key");
  }

  @Test
  void rejects_a_key_of_a_suspended_account() {
    Account suspended = app.accounts().createAccount("suspended");
    TestFunds.fund(app, suspended.id());
    String secret = app.accounts().issueKey(suspended.id(), "k", Set.of(), null).secret();
    assertThat(api.post(CHAT, secret, VALID_CHAT).statusCode()).isEqualTo(200);
    app.accounts().setStatus(suspended.id(), AccountStatus.SUSPENDED);
    assertError(api.post(CHAT, secret, VALID_CHAT), 401, "invalid_api_key");
  }

  @Test
  void rejects_a_model_outside_the_keys_allow_list() {
    String limited = app.accounts().issueKey(account.id(), "limited", Set.of("sim-chat"), null).secret();
    assertThat(api.post(CHAT, limited, VALID_CHAT).statusCode()).isEqualTo(200);
    JsonNode e =
        assertError(
            api.post(CHAT, limited, "{\"model\":\"sim-reasoner\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
            403,
            "model_not_allowed");
    assertThat(e.get("param").asText()).isEqualTo("model");
    assertThat(e.get("message").asText()).contains("sim-reasoner").contains("sim-chat");
  }

  @Test
  void rejects_an_unknown_model_naming_it() {
    JsonNode e = assertError(chat("{\"model\":\"gpt-17\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 404, "model_not_found");
    assertThat(e.get("param").asText()).isEqualTo("model");
    assertThat(e.get("message").asText()).contains("gpt-17").contains("sim-chat");
  }

  @Test
  void rejects_an_unknown_model_id_on_the_models_route() {
    assertError(api.get("/v1/models/gpt-17", key), 404, "model_not_found");
  }

  @Test
  void rejects_an_unknown_path() {
    JsonNode e = assertError(api.get("/v2/nothing-here", key), 404, "not_found");
    assertThat(e.get("message").asText()).contains("/v2/nothing-here");
  }

  @Test
  void rejects_a_wrong_method_on_a_known_path() {
    JsonNode e = assertError(api.get(CHAT, key), 405, "method_not_allowed");
    assertThat(e.get("message").asText()).contains("GET").contains(CHAT);
    assertError(api.send(api.request("/v1/models").DELETE().build()), 405, "method_not_allowed");
  }

  @Test
  void rejects_a_declared_body_over_the_limit_naming_the_limit() {
    byte[] big = new byte[MAX_BODY_BYTES * 4];
    Arrays.fill(big, (byte) ' ');
    JsonNode e = assertError(api.post(CHAT, key, big), 413, "request_too_large");
    assertThat(e.get("message").asText()).contains(Integer.toString(MAX_BODY_BYTES));
  }

  @Test
  void rejects_a_chunked_body_over_the_limit_naming_the_limit() {
    byte[] big = new byte[MAX_BODY_BYTES * 4];
    Arrays.fill(big, (byte) ' ');
    HttpRequest req =
        api.request(CHAT)
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big)))
            .build();
    JsonNode e = assertError(api.send(req), 413, "request_too_large");
    assertThat(e.get("message").asText()).contains(Integer.toString(MAX_BODY_BYTES));
    // The rejected connection must not poison the client's pool with half a body.
    assertThat(chat(VALID_CHAT).statusCode()).isEqualTo(200);
  }

  @Test
  void accepts_a_chunked_body_under_the_limit() {
    byte[] body = VALID_CHAT.getBytes(StandardCharsets.UTF_8);
    HttpRequest req =
        api.request(CHAT)
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body)))
            .build();
    assertThat(api.send(req).statusCode()).isEqualTo(200);
  }

  @Test
  void rejects_admin_calls_without_the_admin_token() {
    JsonNode e = assertError(api.post("/admin/v1/accounts", null, "{\"name\":\"x\"}"), 401, "invalid_api_key");
    assertThat(e.get("message").asText()).contains("admin token");
    assertError(api.get("/admin/v1/accounts", null), 401, "invalid_api_key");
  }

  @Test
  void rejects_admin_calls_with_a_wrong_admin_token() {
    assertError(api.post("/admin/v1/accounts", "not-the-token", "{\"name\":\"x\"}"), 401, "invalid_api_key");
    // A customer's API key is not an admin token.
    assertError(api.get("/admin/v1/accounts", key), 401, "invalid_api_key");
  }

  @Test
  void rejects_admin_bodies_that_are_not_json_objects() {
    String admin = app.adminToken();
    invalid(api.post("/admin/v1/accounts", admin, "{\"name\":"), null);
    invalid(api.post("/admin/v1/accounts", admin, "[\"name\"]"), null);
  }

  @Test
  void rejects_an_admin_account_without_a_usable_name() {
    String admin = app.adminToken();
    invalid(api.post("/admin/v1/accounts", admin, "{}"), "name");
    invalid(api.post("/admin/v1/accounts", admin, "{\"name\":42}"), "name");
    JsonNode e = assertError(api.post("/admin/v1/accounts", admin, "{\"name\":\"   \"}"), 400, "invalid_request_error");
    assertThat(e.get("message").asText()).contains("name");
  }

  @Test
  void rejects_admin_key_requests_with_bad_fields_naming_them() {
    String admin = app.adminToken();
    String path = "/admin/v1/accounts/" + account.id() + "/keys";
    invalid(api.post(path, admin, "{\"models\":\"sim-chat\"}"), "models");
    invalid(api.post(path, admin, "{\"expires_at\":\"tomorrow\"}"), "expires_at");
    JsonNode e = assertError(api.post(path, admin, "{\"expires_at\":\"2001-01-01T00:00:00Z\"}"), 400, "invalid_request_error");
    assertThat(e.get("message").asText()).contains("expiry");
  }

  @Test
  void rejects_admin_values_outside_what_the_store_can_hold() {
    String admin = app.adminToken();
    String path = "/admin/v1/accounts/" + account.id() + "/keys";
    invalid(api.post(path, admin, "{\"expires_at\":99999999999999999}"), "expires_at");
    invalid(api.post(path, admin, "{\"expires_at\":\"+999999999-12-31T23:59:59Z\"}"), "expires_at");
    assertError(api.post(path, admin, "{\"name\":\"" + "n".repeat(300) + "\"}"), 400, "invalid_request_error");
    assertError(api.post("/admin/v1/accounts", admin, "{\"name\":\"a\\u0000b\"}"), 400, "invalid_request_error");
  }

  @Test
  void rejects_bad_admin_paging_parameters() {
    invalid(api.get("/admin/v1/accounts?limit=abc", app.adminToken()), "limit");
    invalid(api.get("/admin/v1/accounts?limit=0", app.adminToken()), "limit");
  }

  @Test
  void rejects_a_bad_account_status() {
    HttpRequest req =
        api.request("/admin/v1/accounts/" + account.id())
            .header("Authorization", "Bearer " + app.adminToken())
            .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"status\":\"frozen\"}"))
            .build();
    assertThat(invalid(api.send(req), "status").get("message").asText()).contains("frozen");
  }

  @Test
  void answers_not_found_for_an_unknown_account() {
    String admin = app.adminToken();
    JsonNode e = assertError(api.get("/admin/v1/accounts/acct_nope", admin), 404, "not_found");
    assertThat(e.get("message").asText()).contains("acct_nope");
    assertError(api.get("/admin/v1/accounts/acct_nope/keys", admin), 404, "not_found");
    assertError(api.post("/admin/v1/accounts/acct_nope/keys", admin, "{\"name\":\"k\"}"), 404, "not_found");
    HttpRequest patch =
        api.request("/admin/v1/accounts/acct_nope")
            .header("Authorization", "Bearer " + admin)
            .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"status\":\"suspended\"}"))
            .build();
    assertError(api.send(patch), 404, "not_found");
    HttpRequest delete =
        api.request("/admin/v1/keys/key_nope").header("Authorization", "Bearer " + admin).DELETE().build();
    assertError(api.send(delete), 404, "not_found");
  }

  @Test
  void stays_healthy_after_all_the_rejections() {
    assertThat(api.get("/health", null).statusCode()).isEqualTo(200);
  }
}
