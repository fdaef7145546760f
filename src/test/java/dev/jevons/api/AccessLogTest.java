package dev.jevons.api;

import dev.jevons.TestApps;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.jevons.TestFunds;
import dev.jevons.accounts.Account;
import dev.jevons.cli.JevonsApp;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * One access-log line per request, naming what happened to it, with neither the API key's secret
 * nor the prompt in it.
 */
class AccessLogTest {
  static final String CHAT = "/v1/chat/completions";
  static final String PROMPT = "a-prompt-that-must-not-be-logged";

  @TempDir static Path tmp;
  static JevonsApp app;
  static ApiClient api;
  static String key;
  static final ListAppender<ILoggingEvent> lines = new ListAppender<>();

  @BeforeAll
  static void start() {
    app =
        JevonsApp.start(
            TestApps.instant(tmp)
                .load());
    api = new ApiClient(app.port());
    Account account = app.accounts().createAccount("logged");
    TestFunds.fund(app, account.id());
    key = app.accounts().issueKey(account.id(), "main", Set.of("sim-chat"), null).secret();
    // Tests log at WARN (logback-test.xml); this one listens to the access log alone.
    Logger access = (Logger) LoggerFactory.getLogger("jevons.access");
    access.setLevel(Level.INFO);
    access.setAdditive(false);
    lines.start();
    access.addAppender(lines);
  }

  @AfterAll
  static void stop() {
    Logger access = (Logger) LoggerFactory.getLogger("jevons.access");
    access.detachAppender(lines);
    lines.stop();
    access.setLevel(null);
    access.setAdditive(true);
    if (app != null) {
      app.close();
    }
  }

  private static String chat(String model) {
    return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + PROMPT + "\"}],\"max_tokens\":4}";
  }

  /**
   * The one line logged for the response's request id. It is written after the response is sent,
   * so it may arrive a moment after the client has the answer.
   */
  private static String lineOf(HttpResponse<String> res) throws InterruptedException {
    String id = res.headers().firstValue("x-request-id").orElseThrow();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    List<String> found;
    do {
      Thread.sleep(5);
      synchronized (lines) { // ListAppender appends holding its own monitor
        found = lines.list.stream().map(ILoggingEvent::getFormattedMessage).filter(l -> l.startsWith(id + " ")).toList();
      }
    } while (found.isEmpty() && System.nanoTime() < deadline);
    assertThat(found).as("access-log lines of %s", id).hasSize(1);
    String line = found.get(0);
    assertThat(line).doesNotContain(PROMPT).doesNotContain(key);
    return line;
  }

  @Test
  void aServedRequestIsLoggedOkWithItsModelUpstreamAndTokens() throws InterruptedException {
    HttpResponse<String> res = api.post(CHAT, key, chat("sim-chat"));
    assertThat(res.statusCode()).as(res.body()).isEqualTo(200);
    String line = lineOf(res);
    assertThat(line)
        .contains("POST " + CHAT + " 200 ")
        .contains(" key=" + key.substring(0, 11))
        .contains(" model=sim-chat ")
        .contains(" attempts=1 ")
        .contains(" completion=4 ")
        .endsWith(" outcome=ok");
    assertThat(line).doesNotContain("upstream=- ");
  }

  @Test
  void aRefusedRequestIsLoggedWithItsErrorCodeNotOk() throws InterruptedException {
    HttpResponse<String> res = api.post(CHAT, key, chat("sim-reasoner"));
    assertThat(res.statusCode()).as(res.body()).isEqualTo(403);
    assertThat(lineOf(res)).contains(" 403 ").contains(" upstream=- attempts=0 ").endsWith(" outcome=model_not_allowed");
  }

  @Test
  void aBadKeyIsLoggedWithoutTheKey() throws InterruptedException {
    HttpResponse<String> res = api.post(CHAT, key + "x", chat("sim-chat"));
    assertThat(res.statusCode()).as(res.body()).isEqualTo(401);
    assertThat(lineOf(res)).contains(" 401 ").contains(" key=- ").endsWith(" outcome=invalid_api_key");
  }

  @Test
  void malformedJsonIsLoggedAsAnInvalidRequest() throws InterruptedException {
    HttpResponse<String> res = api.post(CHAT, key, "{\"model\":");
    assertThat(res.statusCode()).as(res.body()).isEqualTo(400);
    assertThat(lineOf(res)).contains(" 400 ").endsWith(" outcome=invalid_request_error");
  }
}
