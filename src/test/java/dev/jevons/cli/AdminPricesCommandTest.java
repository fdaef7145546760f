package dev.jevons.cli;

import dev.jevons.TestApps;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminPricesCommandTest {
  @TempDir static Path data;
  static JevonsApp app;
  final AdminCli cli = new AdminCli();
  final java.io.ByteArrayOutputStream out = cli.out;
  final java.io.ByteArrayOutputStream err = cli.err;

  @BeforeAll
  static void start() {
    app =
        JevonsApp.start(
            TestApps.instant(data)
                .load());
  }

  @AfterAll
  static void stop() {
    app.close();
  }

  int admin(String... args) {
    return cli.run(app, args);
  }

  @Test
  void gets_a_models_price() {
    assertThat(admin("prices", "get", "sim-chat")).isEqualTo(0);
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("\"output\" : \"0.42\"").contains("pv_sim-chat_2025-09-29");
  }

  @Test
  void schedules_a_price_change() {
    Instant later = Instant.now().plus(Duration.ofDays(2)).truncatedTo(ChronoUnit.SECONDS);
    int code =
        admin("prices", "set", "cli-model", "--hit", "0.01", "--miss", "0.1", "--output", "0.2", "--effective-from", later.toString());
    assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isEqualTo(0);
    assertThat(app.prices().quote("cli-model", later).prices().inputCacheMiss().toDecimalString()).isEqualTo("0.10");
  }

  @Test
  void reports_a_refused_change_with_exit_code_1() {
    assertThat(admin("prices", "set", "cli-model", "--hit", "-1", "--miss", "0.1", "--output", "0.2")).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("HTTP 400").contains("input_cache_hit");
  }
}
