package dev.jevons.cli;

import dev.jevons.TestApps;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.billing.CreditKind;
import dev.jevons.billing.Money;
import dev.jevons.billing.SettleResult;
import dev.jevons.billing.UsageRecord;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminUsageCommandTest {
  static final Instant T = Instant.parse("2026-03-01T12:00:00Z");
  @TempDir static Path data;
  @TempDir Path dir;
  static JevonsApp app;
  static String account;
  /** The account's records in the range, in the order they are listed. */
  static final List<String> expectedIds = new ArrayList<>();
  static long expectedCostNanos;
  final AdminCli cli = new AdminCli();
  final java.io.ByteArrayOutputStream out = cli.out;
  final java.io.ByteArrayOutputStream err = cli.err;

  @BeforeAll
  static void start() throws Exception {
    app = JevonsApp.start(TestApps.instant(data).load());
    account = app.accounts().createAccount("exported").id();
    String other = app.accounts().createAccount("someone else").id();
    // Three records in one millisecond, two in the next: pages of two split both groups.
    record(account, "req-a3", T, 300);
    record(account, "req-a1", T, 100);
    record(account, "req-a2", T, 200);
    record(account, "req-b2", T.plusMillis(1), 500);
    record(account, "req-b1", T.plusMillis(1), 400);
    record(account, "req-late", T.plusSeconds(3600), 999);
    record(other, "req-other", T, 700);
    expectedIds.addAll(List.of("req-a1", "req-a2", "req-a3", "req-b1", "req-b2"));
    expectedCostNanos = 100 + 200 + 300 + 400 + 500;
  }

  static void record(String accountId, String requestId, Instant at, long costNanos) throws Exception {
    app.ledger().credit("fund-" + requestId, accountId, CreditKind.TOPPED_UP, 1_000_000, null).get(10, TimeUnit.SECONDS);
    app.ledger().reserve(requestId, accountId, 1_000, Duration.ofMinutes(5)).get(10, TimeUnit.SECONDS);
    UsageRecord usage = new UsageRecord(requestId, accountId, "key_1", "sim-chat", "pv_test", 0, 10, 5, 0, "ok", at.toEpochMilli(), 12, 3);
    SettleResult r = app.ledger().post(requestId, costNanos, usage).get(10, TimeUnit.SECONDS);
    assertThat(r.status()).isEqualTo(SettleResult.Status.POSTED);
  }

  @AfterAll
  static void stop() {
    app.close();
  }

  int admin(String... args) {
    return cli.run(app, args);
  }

  @Test
  void exports_every_record_of_the_range_once_as_csv_across_pages() throws Exception {
    Path file = dir.resolve("usage.csv");
    int code = admin("usage", "export", "--account", account, "--from", "2026-03-01", "--to", "2026-03-01T12:30:00Z",
        "--format", "csv", "--out", file.toString(), "--page-size", "2");
    assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
    List<String> lines = Files.readAllLines(file);
    assertThat(lines.get(0)).startsWith("id,created_at,model");
    List<String> ids = lines.subList(1, lines.size()).stream().map(l -> l.substring(0, l.indexOf(','))).toList();
    assertThat(ids).containsExactlyElementsOf(expectedIds);
    int costColumn = List.of(lines.get(0).split(",")).indexOf("cost");
    long sum = lines.subList(1, lines.size()).stream().mapToLong(l -> Money.parse(l.split(",")[costColumn]).nanos()).sum();
    assertThat(sum).isEqualTo(expectedCostNanos);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("exported 5 usage records");
    try (var listing = Files.list(dir)) {
      assertThat(listing.map(p -> p.getFileName().toString()).toList()).containsExactly("usage.csv");
    }
  }

  @Test
  void exports_json_to_standard_output() throws Exception {
    int code = admin("usage", "export", "--account", account, "--from", T.minusSeconds(1).toString(), "--to", T.plusSeconds(60).toString(),
        "--format", "json", "--page-size", "3");
    assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
    JsonNode root = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
    List<String> ids = new ArrayList<>();
    long sum = 0;
    for (JsonNode r : root.get("data")) {
      ids.add(r.get("id").asText());
      sum += Money.parse(r.get("cost").asText()).nanos();
    }
    assertThat(ids).containsExactlyElementsOf(expectedIds);
    assertThat(sum).isEqualTo(expectedCostNanos);
    assertThat(root.get("has_more").asBoolean()).isFalse();
  }

  @Test
  void an_unknown_account_fails_with_the_apis_message_and_leaves_no_file() throws Exception {
    Path file = dir.resolve("none.csv");
    assertThat(admin("usage", "export", "--account", "acct_missing", "--out", file.toString())).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("HTTP 404");
    try (var listing = Files.list(dir)) {
      assertThat(listing.toList()).isEmpty();
    }
  }

  @Test
  void an_unknown_format_is_a_usage_error() {
    assertThat(admin("usage", "export", "--account", account, "--format", "xml")).isEqualTo(2);
  }

  @Test
  void the_usage_api_refuses_a_cursor_that_is_not_one_of_the_accounts_records() throws Exception {
    HttpResponse<String> res = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(app.baseUrl() + "/admin/v1/accounts/" + account + "/usage?from=2026-01-01&after=req-other"))
            .header("Authorization", "Bearer " + app.adminToken())
            .build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(res.statusCode()).isEqualTo(400);
    assertThat(res.body()).contains("\"param\":\"after\"");
  }
}
