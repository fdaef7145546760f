package dev.jevons.cli;

import dev.jevons.TestApps;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The surge demo at a small scale: a demo day in 24 s of real time. Asserts what happened, never how fast. */
class DemoCommandTest {
  @TempDir Path tmp;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  int run(DemoCommand command, String... args) {
    return new CommandLine(command).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true)).execute(args);
  }

  @Test
  @Timeout(240)
  void the_surge_closes_top_ups_and_reopens_them_while_existing_customers_keep_being_served() throws Exception {
    DemoCommand command = new DemoCommand();
    int code = run(command, "--day-seconds", "24", "--capacity-seconds", "3", "--deadline-ms", "1000", "--max-tokens", "16",
        "--out", tmp.resolve("out").toString(), "--data", tmp.resolve("data").toString());
    assertThat(code).as("exit code; stderr: %s; stdout: %s", err, out).isZero();
    SurgeDemo.Result r = command.lastResult;
    assertThat(r).isNotNull();

    // The governor closed top-ups (and sign-ups) in the rush and reopened them after it.
    assertThat(r.closures("top_ups")).as(r.transitions().toString()).isGreaterThanOrEqualTo(1);
    assertThat(r.reopenings("top_ups")).as(r.transitions().toString()).isGreaterThanOrEqualTo(1);
    assertThat(r.transitions().stream().filter(t -> t.gate().equals("top_ups")).toList().getLast().open()).isTrue();
    assertThat(r.closures("signups")).isGreaterThanOrEqualTo(1);
    assertThat(r.topUpsRefused()).isPositive();
    assertThat(r.signupsRefused()).isPositive();

    // The surge was real, and shed. Existing customers kept using their balances while the gates
    // were closed (never refused for money: only each newcomer's first request met a 402), were
    // served through the closed hours, and most of the regulars' requests outside the surge
    // succeeded. A served request started within its deadline by construction: the queue drops a
    // request at its deadline. (During the surge the regulars' share depends on how the early
    // refusal treats light accounts, and on this machine's speed; the summary reports it.)
    assertThat(r.shed()).isPositive();
    assertThat(r.noBalance()).as("402s").isEqualTo(r.signupsAccepted());
    assertThat(r.existingServedWhileClosed()).isPositive();
    assertThat(r.regularsCalm()[1]).as("regulars served outside the surge, of %d", r.regularsCalm()[0]).isGreaterThan(r.regularsCalm()[0] * 8 / 10);
    assertThat(r.errors()).isZero();

    // The rest of the script: the price change, the proposal, and money that adds up (checked in the run).
    assertThat(r.revenueNanos()).isPositive();
    assertThat(r.proposal().discountBp()).isPositive();
    assertThat(out.toString()).contains("promotion ended", "proposal applied", "top_ups transition CLOSED", "== summary, governor on ==");
    assertThat(Files.readString(tmp.resolve("out/surge.svg"))).startsWith("<svg");
    assertThat(Files.readString(tmp.resolve("out/surge.html"))).contains("<svg").contains("id=\"data\"");
  }

  @Test
  @Timeout(60)
  void fails_with_exit_code_1_naming_the_step_and_prints_no_summary_when_the_store_is_not_empty() {
    Path data = tmp.resolve("used");
    try (JevonsApp app = JevonsApp.start(TestApps.instant(data).load())) {
      app.accounts().createAccount("someone");
    }
    int code = run(new DemoCommand(), "--data", data.toString(), "--out", tmp.resolve("out").toString());
    assertThat(code).isEqualTo(1);
    assertThat(err.toString()).contains("jevons demo: FAILED: the store already has accounts");
    assertThat(out.toString()).doesNotContain("== summary");
    assertThat(tmp.resolve("out")).doesNotExist();
  }

  @Test
  void refuses_an_unknown_scenario_and_an_upstream_with_exit_code_2() {
    assertThat(run(new DemoCommand(), "--scenario", "calm")).isEqualTo(2);
    assertThat(err.toString()).contains("unknown scenario 'calm'; accepted: surge");
    assertThat(run(new DemoCommand(), "--upstream", "http://127.0.0.1:9/v1")).isEqualTo(2);
    assertThat(err.toString()).contains("built-in simulator");
  }
}
