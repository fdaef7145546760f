package dev.jevons.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

@Timeout(30)
class SimCommandTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private CommandLine cli(SimCommand command) {
    return new CommandLine(command).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true));
  }

  @Test
  void rejects_an_unknown_profile_with_exit_code_2_and_names_the_accepted_ones() {
    int code = cli(new SimCommand()).execute("--profile", "a100");
    assertThat(code).isEqualTo(2);
    assertThat(err.toString()).contains("unknown sim profile 'a100'").contains("instant, h800, small");
  }

  @Test
  void rejects_out_of_range_fault_rates_with_exit_code_2() {
    assertThat(cli(new SimCommand()).execute("--fault-error-rate", "2")).isEqualTo(2);
    assertThat(err.toString()).contains("errorRate must be in [0, 1]");
  }

  @Test
  void a_port_in_use_exits_with_1_and_says_so() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      int code = cli(new SimCommand()).execute("--port", String.valueOf(taken.getLocalPort()), "--profile", "instant");
      assertThat(code).isEqualTo(1);
      assertThat(err.toString())
          .contains("cannot listen on 127.0.0.1:" + taken.getLocalPort())
          .contains("Address already in use")
          .doesNotContain("Exception");
      assertThat(out.toString()).doesNotContain("http://");
    }
  }

  @Test
  void prints_each_replica_url_and_serves_until_stopped() throws Exception {
    SimCommand command = new SimCommand();
    CompletableFuture<Integer> run = CompletableFuture.supplyAsync(
        () -> cli(command).execute("--port", "0", "--replicas", "2", "--profile", "instant"));
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (out.toString().lines().filter(l -> l.startsWith("http://")).count() < 2
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    String url = out.toString().lines().filter(l -> l.startsWith("http://")).findFirst().orElseThrow();
    HttpResponse<String> models = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(url + "/models")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(models.statusCode()).isEqualTo(200);
    command.stop.countDown();
    assertThat(run.get()).isZero();
  }
}
