package dev.jevons.gateway;

import dev.jevons.TestApps;
import dev.jevons.TestFunds;
import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.accounts.Account;
import dev.jevons.cli.JevonsApp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RateLimitHttpTest {
  static final HttpClient http = HttpClient.newHttpClient();
  @TempDir static Path data;
  static JevonsApp app;

  @BeforeAll
  static void start() {
    app =
        JevonsApp.start(
            TestApps.instant(data)
                .override("rate_limits.key_rpm", 2)
                .override("rate_limits.account_tpm", 100_000)
                .load());
  }

  @AfterAll
  static void stop() {
    app.close();
  }

  static String key() {
    Account a = app.accounts().createAccount("limited");
    TestFunds.fund(app, a.id());
    return app.accounts().issueKey(a.id(), "k", Set.of(), null).secret();
  }

  static HttpResponse<String> chat(String key, int maxTokens) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + key)
            .POST(HttpRequest.BodyPublishers.ofString(
                "{\"model\":\"sim-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":" + maxTokens + "}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void every_answer_carries_openai_rate_limit_headers_and_the_third_request_a_minute_is_refused() throws Exception {
    String key = key();
    HttpResponse<String> first = chat(key, 4);
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.headers().firstValue("x-ratelimit-limit-requests")).contains("2");
    assertThat(first.headers().firstValue("x-ratelimit-remaining-requests")).contains("1");
    assertThat(first.headers().firstValue("x-ratelimit-limit-tokens")).contains("100000");
    assertThat(first.headers().firstValue("x-ratelimit-reset-requests")).isPresent();
    assertThat(chat(key, 4).statusCode()).isEqualTo(200);
    HttpResponse<String> third = chat(key, 4);
    assertThat(third.statusCode()).isEqualTo(429);
    assertThat(third.body()).contains("\"code\":\"rate_limit_exceeded\"").contains("requests per minute");
    assertThat(Long.parseLong(third.headers().firstValue("Retry-After").orElseThrow())).isBetween(1L, 60L);
    assertThat(third.headers().firstValue("x-ratelimit-remaining-requests")).contains("0");
  }

  @Test
  void a_request_larger_than_the_token_limit_is_refused_naming_it() throws Exception {
    HttpResponse<String> res = chat(key(), 200_000);
    assertThat(res.statusCode()).isEqualTo(429);
    assertThat(res.body()).contains("tokens per minute");
  }
}
