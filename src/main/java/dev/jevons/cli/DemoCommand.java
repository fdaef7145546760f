package dev.jevons.cli;

import ch.qos.logback.classic.Level;
import dev.jevons.billing.Money;
import dev.jevons.config.ConfigException;
import dev.jevons.config.ConfigLoader;
import dev.jevons.config.JevonsConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jevons demo --scenario surge}: the story of DESIGN.md ("Why it exists") played in
 * compressed time against a real Jevons with the built-in simulator fleet, driven only through its
 * HTTP API. See {@link SurgeScenario} for the script and the demand model, {@link SurgeDemo} for how
 * it runs, and docs/decisions.md for the governor settings chosen for compressed time.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Plays a scenario in compressed time against an in-process Jevons with the built-in simulator fleet, through its real HTTP API.",
      "surge: 2025-02-08 00:00 to 02-09 08:00 UTC. Steady demand; at 06:00 the end of the promotional price is announced for 16:00; "
          + "a rush of top-ups, sign-ups and requests to ~5x the fleet's measured capacity; the governor closes top-ups and sign-ups and "
          + "the fair queue sheds early; the promotion ends, demand subsides, the gates reopen; at 20:00 an off-peak window is proposed "
          + "and applied, and the night load rises.",
      "Prints the timeline and a summary, writes an SVG chart and an HTML page to --out. Exit 0 when every step worked, 1 when one failed, "
          + "2 for bad flags or configuration.",
      "Takes serve's flags. Its own defaults (profile small, 2 replicas, time scale 2, port 0, a fresh temporary data directory) give way "
          + "to the --config file, JEVONS_* variables and flags. The data directory or database must be empty; --upstream is refused."
    })
public final class DemoCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(DemoCommand.class);

  /** The governor's dwell times in demo time: long enough to ignore a burst, short enough to act within the rush. */
  static final Duration CLOSE_DWELL = Duration.ofMinutes(20);
  static final Duration REOPEN_DWELL = Duration.ofMinutes(60);
  /** How often the governor samples, and the window its signals cover, in demo time (real time has a floor). */
  static final Duration GOVERNOR_INTERVAL = Duration.ofMinutes(2);
  static final Duration GOVERNOR_WINDOW = Duration.ofMinutes(20);
  static final long MIN_INTERVAL_MILLIS = 50;

  @Spec @Nullable CommandSpec spec;

  @Mixin ServeOptions options = new ServeOptions();

  @Option(names = "--scenario", defaultValue = "surge", description = "The scenario; only 'surge' exists. Default: ${DEFAULT-VALUE}.")
  String scenario = "surge";

  @Option(names = "--day-seconds", defaultValue = "120", description = "Real seconds per demo day (the calendar runs 32 demo hours). Default: ${DEFAULT-VALUE}.")
  double daySeconds = 120;

  @Option(names = "--no-governor", description = "Turn the governor's automatic policy off (governor.enabled=false), for comparison.")
  boolean noGovernor;

  @Option(names = "--out", paramLabel = "DIR", defaultValue = "demo-out", description = "Where the chart goes (surge.svg/.html, or surge-no-governor.*). Default: ${DEFAULT-VALUE}.")
  Path outDir = Path.of("demo-out");

  @Option(names = "--deadline-ms", defaultValue = "2000", description = "Default for scheduler.max_wait_ms and ttft_target_ms: a queued request's deadline, real time. Default: ${DEFAULT-VALUE}.")
  long deadlineMillis = 2000;

  @Option(names = "--max-tokens", defaultValue = "32", description = "Output tokens of every request (ignore_eos). Default: ${DEFAULT-VALUE}.")
  int maxTokens = 32;

  @Option(names = "--elasticity", description = "How customers respond to the off-peak discount: share of the demand outside the window that a 100%% discount moves into it. Default: the elasticity the proposal assumed (governor.shaping_elasticity).")
  @Nullable Double elasticity;

  @Option(names = "--offpeak-hours", defaultValue = "6", description = "Length of the off-peak window asked for (hours=H of the proposal). Default: ${DEFAULT-VALUE}.")
  int offPeakHours = 6;

  @Option(names = "--capacity-seconds", defaultValue = "6", description = "Measured seconds of the closed-loop capacity run before the calendar starts. Default: ${DEFAULT-VALUE}.")
  int capacitySeconds = 6;

  @Option(names = "--seed", defaultValue = "7", description = "Seed of the arrivals. Default: ${DEFAULT-VALUE}.")
  long seed = 7;

  @Option(names = "--verbose", description = "Keep Jevons' own log (INFO) on stderr; by default only warnings are logged.")
  boolean verbose;

  /** What the last run returned; for tests. */
  SurgeDemo.@Nullable Result lastResult;

  @Override
  public Integer call() {
    PrintWriter out = spec == null ? new PrintWriter(System.out, true) : spec.commandLine().getOut();
    PrintWriter err = spec == null ? new PrintWriter(System.err, true) : spec.commandLine().getErr();
    List<String> usage = usageProblems();
    if (!usage.isEmpty()) {
      usage.forEach(p -> err.println("jevons demo: " + p));
      return 2;
    }
    double speed = 86_400 / daySeconds;
    Path tempData = null;
    JevonsConfig config;
    try {
      if (options.dataDir == null && options.storeUrl == null && System.getenv("JEVONS_DATA_DIR") == null && System.getenv("JEVONS_STORE_URL") == null) {
        tempData = Files.createTempDirectory("jevons-demo");
      }
      config = load(System.getenv(), speed, tempData);
    } catch (ConfigException e) {
      err.println("jevons demo: invalid configuration:");
      e.problems().forEach(p -> err.println("  - " + p));
      deleteQuietly(tempData);
      return 2;
    } catch (IOException e) {
      err.println("jevons demo: cannot create a temporary data directory: " + e.getMessage());
      return 1;
    }
    if (!config.upstreams().isEmpty()) {
      err.println("jevons demo: the demo plays against the built-in simulator fleet; remove the upstreams from the configuration");
      deleteQuietly(tempData);
      return 2;
    }
    ServeCommand.installJulBridge();
    ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    Level rootLevel = root.getLevel();
    if (!verbose) {
      root.setLevel(Level.WARN);
    }
    String name = noGovernor ? "surge-no-governor" : "surge";
    CompressedClock clock = new CompressedClock(SurgeScenario.START, speed, System::nanoTime);
    out.printf(Locale.ROOT, "jevons demo --scenario surge%s: %s x %s replicas (time scale %s), deadline %d ms, a demo day in %s s%n",
        noGovernor ? " --no-governor" : "", config.sim().replicas(), config.sim().profile(), ChartScale.label(config.sim().timeScale()),
        config.scheduler().maxWaitMillis(), ChartScale.label(daySeconds));
    out.printf(Locale.ROOT, "governor: %s; closes after %s of pressure, reopens after %s of relief (demo time); thresholds: utilization %.0f%%/%.0f%%, p95 queue wait %d/%d ms, shed %.0f%%/%.0f%% (close/reopen)%n",
        config.governor().enabled() ? "automatic" : "off", human(Duration.ofMillis(config.governor().closeDwellMillis())),
        human(Duration.ofMillis(config.governor().reopenDwellMillis())), 100 * config.governor().closeUtilization(), 100 * config.governor().reopenUtilization(),
        config.governor().closeQueueWaitP95Millis(), config.governor().reopenQueueWaitP95Millis(), 100 * config.governor().closeShedRate(),
        100 * config.governor().reopenShedRate());
    out.flush();
    try (JevonsApp app = JevonsApp.start(config, clock)) {
      SurgeDemo.Settings settings =
          new SurgeDemo.Settings(
              !noGovernor, maxTokens, Duration.ofMillis(config.scheduler().maxWaitMillis()), elasticity, offPeakHours, seed,
              Duration.ofSeconds(2), Duration.ofSeconds(capacitySeconds), 30, 20);
      SurgeDemo demo = new SurgeDemo(app, clock, settings, out);
      SurgeDemo.Result result = demo.run();
      lastResult = result;
      String summary = summary(result, config, settings);
      out.println();
      out.println(summary);
      DemoChart chart = new DemoChart(
          "jevons demo --scenario surge" + (noGovernor ? " --no-governor" : "") + " (" + Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + ")",
          DemoChart.rows(demo.recorder(), result.capacityRps(), speed), result.events(), SurgeScenario.START, SurgeScenario.END);
      chart.write(outDir, name, summary);
      out.println("chart: " + outDir.resolve(name + ".svg") + " and " + outDir.resolve(name + ".html"));
      out.flush();
      return 0;
    } catch (DemoFailure e) {
      out.flush();
      err.println("jevons demo: FAILED: " + e.getMessage());
      log.debug("demo failure", e);
      return 1;
    } catch (IOException e) {
      err.println("jevons demo: cannot write the chart to " + outDir + ": " + e.getMessage());
      return 1;
    } finally {
      root.setLevel(rootLevel);
      deleteQuietly(tempData);
    }
  }

  private List<String> usageProblems() {
    List<String> problems = new ArrayList<>();
    if (!scenario.equals("surge")) {
      problems.add("unknown scenario '" + scenario + "'; accepted: surge");
    }
    if (!(daySeconds >= 5 && daySeconds <= 86_400)) {
      problems.add("--day-seconds must be from 5 to 86400; got " + daySeconds);
    }
    if (!options.upstreams.isEmpty()) {
      problems.add("--upstream is not accepted: the demo plays against the built-in simulator fleet");
    }
    if (deadlineMillis < 100 || deadlineMillis > 600_000) {
      problems.add("--deadline-ms must be from 100 to 600000; got " + deadlineMillis);
    }
    if (maxTokens < 1 || maxTokens > 4096) {
      problems.add("--max-tokens must be from 1 to 4096; got " + maxTokens);
    }
    if (elasticity != null && !(elasticity >= 0 && elasticity <= 1)) {
      problems.add("--elasticity must be from 0 to 1; got " + elasticity);
    }
    if (offPeakHours < 1 || offPeakHours > 12) {
      problems.add("--offpeak-hours must be from 1 to 12; got " + offPeakHours);
    }
    if (capacitySeconds < 1 || capacitySeconds > 600) {
      problems.add("--capacity-seconds must be from 1 to 600; got " + capacitySeconds);
    }
    return problems;
  }

  /**
   * The configuration: the demo's defaults under the file, the environment and serve's flags;
   * then what the scenario cannot do without (billing, self-serve sign-up, the governor switch).
   */
  JevonsConfig load(Map<String, String> env, double speed, @Nullable Path tempData) {
    ConfigLoader loader = options.loader(env);
    long interval = Math.max(MIN_INTERVAL_MILLIS, realMillis(GOVERNOR_INTERVAL, speed));
    long window = Math.max(4 * interval, realMillis(GOVERNOR_WINDOW, speed));
    loader
        .defaultValue("sim.profile", "small")
        .defaultValue("sim.replicas", 2)
        .defaultValue("sim.time_scale", 2)
        .defaultValue("server.port", 0)
        .defaultValue("server.access_log", false)
        .defaultValue("scheduler.max_wait_ms", deadlineMillis)
        .defaultValue("scheduler.ttft_target_ms", deadlineMillis)
        .defaultValue("scheduler.keepalive_interval_ms", 500)
        .defaultValue("governor.interval_ms", interval)
        .defaultValue("governor.window_ms", window)
        .defaultValue("governor.close_dwell_ms", CLOSE_DWELL.toMillis())
        .defaultValue("governor.reopen_dwell_ms", REOPEN_DWELL.toMillis())
        .defaultValue("governor.close_queue_wait_p95_ms", Math.max(2, deadlineMillis / 2))
        .defaultValue("governor.reopen_queue_wait_p95_ms", Math.max(1, deadlineMillis / 10));
    if (tempData != null) {
      loader.defaultValue("data_dir", tempData.toString());
    }
    return loader
        .override("billing.enabled", true)
        .override("signups.enabled", true)
        .override("signups.grant", "0")
        .override("governor.enabled", !noGovernor)
        .load();
  }

  static long realMillis(Duration demo, double speed) {
    return Math.round(demo.toMillis() / speed);
  }

  static String summary(SurgeDemo.Result r, JevonsConfig config, SurgeDemo.Settings s) {
    StringBuilder b = new StringBuilder();
    String title = "summary, governor " + (s.governor() ? "on" : "OFF");
    b.append("== ").append(title).append(" ==\n");
    row(b, "fleet capacity", String.format(Locale.ROOT, "%.2f requests/s (%d x %s, time scale %s, %d output tokens per request)",
        r.capacityRps(), config.sim().replicas(), config.sim().profile(), ChartScale.label(config.sim().timeScale()), s.maxTokens()));
    row(b, "requests sent", String.format(Locale.ROOT, "%,d (existing customers %,d, new %,d)", r.sent(), r.existingSent(), r.newSent()));
    row(b, "served", String.format(Locale.ROOT, "%,d (%s of sent); existing customers %,d (%s of theirs), new %,d", r.served(), share(r.served(), r.sent()),
        r.existingServed(), share(r.existingServed(), r.existingSent()), r.newServed()));
    row(b, "shed (503)", String.format(Locale.ROOT, "%,d (%s of sent): %,d at arrival, before any prefill; %,d at the queue deadline. Existing customers %,d, new %,d",
        r.shed(), share(r.shed(), r.sent()), r.shed() - r.shedLate(), r.shedLate(), r.existingShed(), r.newShed()));
    row(b, "refused 402", String.format(Locale.ROOT, "%,d (no balance; then the customer tops up)", r.noBalance()));
    row(b, "held back", String.format(Locale.ROOT, "%,d requests not sent while a customer had no balance and its top-up was refused", r.heldBack()));
    if (r.rateLimited() > 0 || r.errors() > 0) {
      row(b, "other", String.format(Locale.ROOT, "%,d rate limited (429), %,d errors", r.rateLimited(), r.errors()));
    }
    row(b, "p99 TTFT of served", String.format(Locale.ROOT, "%s (existing customers %s, regulars %s; deadline %d ms, real time)",
        seconds(r.ttftP99Nanos()), seconds(r.existingTtftP99Nanos()), seconds(r.regularTtftP99Nanos()), s.deadline().toMillis()));
    row(b, "regulars", String.format(Locale.ROOT, "%s of their %,d requests served: %s of %,d outside the surge, %s of %,d during it (%s-%s)",
        share(r.regularServed(), r.regularSent()), r.regularSent(), share(r.regularsCalm()[1], r.regularsCalm()[0]), r.regularsCalm()[0],
        share(r.regularsSurge()[1], r.regularsSurge()[0]), r.regularsSurge()[0], SurgeDemo.STAMP.format(SurgeScenario.ANNOUNCE).substring(6),
        SurgeDemo.STAMP.format(SurgeDemo.SURGE_END).substring(6)));
    if (r.closures(dev.jevons.governor.Gate.TOP_UPS.id()) > 0) {
      row(b, "while closed", String.format(Locale.ROOT, "existing customers had %,d requests served in the whole hours the top-up gate was closed", r.existingServedWhileClosed()));
    }
    row(b, "top-ups", String.format(Locale.ROOT, "%,d accepted, %,d refused while closed (503 recharge_suspended)", r.topUpsAccepted(), r.topUpsRefused()));
    row(b, "sign-ups", String.format(Locale.ROOT, "%,d accepted, %,d refused while closed (503 signups_suspended)", r.signupsAccepted(), r.signupsRefused()));
    StringBuilder t = new StringBuilder();
    for (SurgeDemo.Transition tr : r.transitions()) {
      t.append(t.isEmpty() ? "" : "; ").append(tr.gate()).append(tr.open() ? " reopened " : " closed ").append(SurgeDemo.STAMP.format(tr.at()));
    }
    row(b, "gate transitions", r.transitions().isEmpty() ? "none" : r.transitions().size() + ": " + t);
    row(b, "revenue", String.format(Locale.ROOT, "%s USD from usage records (%s before the promotion ended, %s after), equal to the ledger's debits",
        Money.ofNanos(r.revenueNanos()), Money.ofNanos(r.revenuePromoNanos()), Money.ofNanos(r.revenueNanos() - r.revenuePromoNanos())));
    SurgeDemo.Proposal p = r.proposal();
    row(b, "off-peak proposal", String.format(Locale.ROOT, "%s-%s UTC at %s off, expected to move %s of all demand into the window (elasticity %.2f)",
        p.start(), p.end(), SurgeDemo.percent(p.discountBp()),
        Double.isNaN(p.expectedShift()) ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * p.expectedShift()), p.elasticity()));
    SurgeDemo.Night n = r.night();
    if (n.hours().isEmpty()) {
      row(b, "night load", "no hour of the window falls in both nights of the calendar");
    } else {
      row(b, "night load", String.format(Locale.ROOT, "existing customers in %d window hour(s): %.2fx capacity on 02-08, %.2fx on 02-09 (x%.2f; the load model expects x%.2f)",
          n.hours().size(), n.before(), n.after(), n.after() / n.before(), n.modelled()));
    }
    return b.toString();
  }

  private static void row(StringBuilder b, String label, String value) {
    b.append(String.format(Locale.ROOT, "%-20s %s%n", label, value));
  }

  private static String share(long part, long whole) {
    return whole == 0 ? "-" : String.format(Locale.ROOT, "%.1f%%", 100.0 * part / whole);
  }

  private static String seconds(long nanos) {
    return nanos < 0 ? "-" : String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
  }

  static String human(Duration d) {
    return d.toMinutes() >= 60 && d.toMinutes() % 60 == 0 ? d.toHours() + " h" : d.toMinutes() + " min";
  }

  private static void deleteQuietly(@Nullable Path dir) {
    if (dir == null) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      // A temporary directory left behind is harmless.
    }
  }
}
