package dev.jevons.cli;

import dev.jevons.api.HttpApi;
import dev.jevons.sim.FaultPlan;
import dev.jevons.sim.SimConfig;
import dev.jevons.sim.SimFleet;
import java.io.PrintWriter;
import java.net.URI;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jevons sim}: runs simulated OpenAI-compatible inference servers until interrupted. */
@Command(
    name = "sim",
    mixinStandardHelpOptions = true,
    description = "Run simulated OpenAI-compatible inference servers (one engine per replica).")
public final class SimCommand implements Callable<Integer> {
  static final int EXIT_USAGE = 2;

  @Spec @Nullable CommandSpec spec;

  @Option(names = "--port", defaultValue = "8000", description = "First port (0 = ephemeral); replicas take consecutive ports. Default: ${DEFAULT-VALUE}.")
  int port;

  @Option(names = "--replicas", defaultValue = "1", description = "Number of replicas. Default: ${DEFAULT-VALUE}.")
  int replicas;

  @Option(names = "--profile", defaultValue = "h800", description = "Engine profile: instant, h800 or small. Default: ${DEFAULT-VALUE}.")
  String profile = "h800";

  @Option(names = "--models", defaultValue = "sim-chat,sim-reasoner", split = ",", description = "Model names served. Default: ${DEFAULT-VALUE}.")
  List<String> models = List.of();

  @Option(names = "--time-scale", defaultValue = "1", description = "Divides every simulated duration. Default: ${DEFAULT-VALUE}.")
  double timeScale;

  @Option(names = "--api-key", description = "Require this bearer token on /v1 routes.")
  @Nullable String apiKey;

  @Option(names = "--fault-error-rate", defaultValue = "0", description = "Share of requests answered 500.")
  double errorRate;

  @Option(names = "--fault-slow-first-byte-ms", defaultValue = "0", description = "Delay before the first byte of affected requests.")
  long slowFirstByteMillis;

  @Option(names = "--fault-slow-first-byte-rate", defaultValue = "0", description = "Share of requests with a slow first byte.")
  double slowFirstByteRate;

  @Option(names = "--fault-disconnect-rate", defaultValue = "0", description = "Share of requests cut off mid-response.")
  double disconnectRate;

  @Option(names = "--fault-disconnect-after-tokens", defaultValue = "0", description = "Tokens sent before such a cut.")
  int disconnectAfterTokens;

  @Option(names = {"--seed", "--fault-seed"}, defaultValue = "0", description = "Seeds fault draws and default text. Default: ${DEFAULT-VALUE}.")
  long seed;

  /** Lets tests stop a running command; the CLI path stops on interrupt/shutdown. */
  final CountDownLatch stop = new CountDownLatch(1);

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec == null ? new PrintWriter(System.out, true) : spec.commandLine().getOut();
    PrintWriter err = spec == null ? new PrintWriter(System.err, true) : spec.commandLine().getErr();
    SimConfig config;
    try {
      FaultPlan faults =
          new FaultPlan(errorRate, slowFirstByteRate, slowFirstByteMillis, disconnectRate, disconnectAfterTokens);
      config = new SimConfig(profile, models, timeScale, apiKey, faults, seed);
    } catch (IllegalArgumentException e) {
      err.println("jevons sim: " + e.getMessage());
      err.flush();
      return EXIT_USAGE;
    }
    SimFleet fleet;
    try {
      // Before Helidon, which logs a stack trace; only for a valid fleet (SimFleet reports the rest).
      boolean validFleet = replicas >= 1 && replicas <= SimFleet.MAX_REPLICAS && port + replicas - 1 <= 65_535;
      for (int i = 0; port > 0 && validFleet && i < replicas; i++) {
        HttpApi.requirePortFree("127.0.0.1", port + i);
      }
      fleet = SimFleet.start(config, replicas, port);
    } catch (IllegalArgumentException e) {
      err.println("jevons sim: " + e.getMessage());
      err.flush();
      return EXIT_USAGE;
    } catch (RuntimeException e) {
      // Typically a port already in use: say so once, without a stack trace.
      err.println("jevons sim: cannot start: " + e.getMessage());
      err.flush();
      return 1;
    }
    Thread hook = new Thread(() -> {
      stop.countDown();
      fleet.close();
    }, "jevons-sim-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      out.println("jevons sim: profile " + profile + ", models " + String.join(",", config.models())
          + ", time scale " + timeScale);
      for (URI url : fleet.baseUrls()) out.println(url);
      out.flush();
      stop.await();
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // The hook is already running and closes the fleet itself.
      }
      fleet.close();
    }
    return 0;
  }

}
