package dev.jevons.cli;

import dev.jevons.TestApps;
import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.governor.Gate;
import dev.jevons.governor.Mode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminGovernorCommandTest {
  @TempDir static Path data;
  static JevonsApp app;
  final AdminCli cli = new AdminCli();
  final java.io.ByteArrayOutputStream out = cli.out;
  final java.io.ByteArrayOutputStream err = cli.err;

  @BeforeAll
  static void start() {
    app = JevonsApp.start(TestApps.instant(data).load());
  }

  @AfterAll
  static void stop() {
    app.close();
  }

  int admin(String... args) {
    return cli.run(app, args);
  }

  @Test
  void an_operator_closes_and_reopens_a_gate_and_reads_the_audit_log() {
    assertThat(admin("governor", "override", "signups", "closed", "--reason", "invite only", "--message", "Invite only this week."))
        .as(err.toString(StandardCharsets.UTF_8))
        .isEqualTo(0);
    assertThat(app.governor().status(Gate.SIGNUPS).mode()).isEqualTo(Mode.CLOSED);
    assertThat(app.governor().status(Gate.SIGNUPS).message()).isEqualTo("Invite only this week.");
    assertThat(admin("governor", "override", "signups", "auto", "--reason", "over")).isEqualTo(0);
    assertThat(admin("governor", "events", "--gate", "signups", "--limit", "5")).isEqualTo(0);
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("\"reason\" : \"invite only\"").contains("\"mode\" : \"auto\"");
    assertThat(admin("governor", "status")).isEqualTo(0);
  }

  @Test
  void a_bad_state_is_refused_with_exit_code_1_naming_it() {
    assertThat(admin("governor", "override", "top_ups", "shut", "--reason", "x")).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("HTTP 400").contains("'state' must be 'open', 'closed' or 'auto'");
  }

  @Test
  void a_proposal_without_history_says_so() {
    assertThat(admin("governor", "propose", "--hours", "8")).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("HTTP 409").contains("Not enough demand history");
  }
}
