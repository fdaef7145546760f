package dev.jevons.cli;

import dev.jevons.accounts.Account;
import dev.jevons.config.ConfigLoader;
import dev.jevons.sim.EngineModel;
import dev.jevons.sim.EngineProfile;
import dev.jevons.sim.FaultPlan;
import dev.jevons.sim.SimConfig;
import dev.jevons.sim.SimFleet;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jevons bench overload}: goodput, latency, shedding and fairness under 1x..10x of a
 * simulated fleet's measured capacity, comparing round-robin straight to the replicas with Jevons
 * (FIFO and fair queueing) in front of them. Everything runs in this process: 4 simulated
 * replicas, Jevons, and an open-loop (Poisson) load generator on virtual threads.
 *
 * <p>The default profile is {@code small} (4 batch slots per replica, tens of tokens/s), so two
 * cores can overload the fleet. The {@code h800} profile has 704 slots per replica: overloading 4
 * of those means thousands of concurrent streams, too many for a small machine; it is available
 * with {@code --profile h800 --time-scale N} where the machine allows.
 */
@Command(
    name = "overload",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmark overload: goodput, TTFT, shedding and fairness at 1x..10x of a simulated fleet's capacity.",
      "4 simulated replicas, 10 accounts (one sends half of all traffic), offered load in multiples of the measured capacity; round-robin direct vs Jevons FIFO vs Jevons fair queueing. Targets are in simulated time",
      "(divided by --time-scale). The default profile 'small' lets 2 cores overload the fleet; 'h800' has 704 slots",
      "per replica, too many concurrent streams for a small machine."
    })
public final class BenchOverloadCommand implements Callable<Integer> {
  static final String MODEL = "sim-chat";
  static final int REPLICAS = 4;
  static final int ACCOUNTS = 10;

  @Spec @Nullable CommandSpec spec;

  @Option(names = "--profile", defaultValue = "small", description = "Simulator profile. Default: ${DEFAULT-VALUE}.")
  String profile = "small";

  @Option(names = "--time-scale", defaultValue = "1", description = "Simulator time scale (2 = twice as fast). Default: ${DEFAULT-VALUE}.")
  double timeScale = 1;

  @Option(names = "--loads", defaultValue = "1,2,5,10", split = ",", description = "Offered load as multiples of capacity. Default: ${DEFAULT-VALUE}.")
  List<Double> loads = List.of();

  @Option(names = "--variants", defaultValue = "direct,fifo,fair", split = ",", description = "direct (round-robin to replicas), fifo, fair. Default: ${DEFAULT-VALUE}.")
  List<String> variants = List.of();

  @Option(names = "--step-seconds", defaultValue = "15", description = "Seconds of arrivals per step. Default: ${DEFAULT-VALUE}.")
  int stepSeconds;

  @Option(names = "--grace-seconds", defaultValue = "10", description = "After a step's arrivals end, requests still open after this long are cut (counted as missing the targets). Default: ${DEFAULT-VALUE}.")
  int graceSeconds;

  @Option(names = "--warmup-seconds", defaultValue = "3", description = "Unmeasured seconds at the start of each step (arrivals run; goodput counts requests completed after it). Default: ${DEFAULT-VALUE}.")
  int warmupSeconds;

  @Option(names = "--capacity-seconds", defaultValue = "10", description = "Measured seconds of the closed-loop capacity run. Default: ${DEFAULT-VALUE}.")
  int capacitySeconds;

  @Option(names = "--max-tokens", defaultValue = "32", description = "Output tokens per request (ignore_eos). Default: ${DEFAULT-VALUE}.")
  int maxTokens;

  @Option(names = "--ttft-target", defaultValue = "5", description = "TTFT target, simulated seconds. Default: ${DEFAULT-VALUE}.")
  double ttftTarget;

  @Option(names = "--tpot-target", defaultValue = "0.1", description = "Time-per-output-token target, simulated seconds. Default: ${DEFAULT-VALUE}.")
  double tpotTarget;

  @Option(names = "--seed", defaultValue = "7", description = "Seed of arrivals and the simulator. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--samples-csv", description = "Also write every request (variant, load, account, outcome, ms sent after the step's start, TTFT ms) to this CSV file, to look at how waits fall within a step.")
  @Nullable Path samplesCsv;

  /**
   * One finished (or cut) request. ttft/tpot in nanoseconds; ttft -1 when no content came;
   * startNanos is when it was sent (System.nanoTime), endNanos when its last byte came.
   */
  record Sample(int account, String outcome, long startNanos, long ttftNanos, double tpotNanos, int tokens, long endNanos, @Nullable String shedRule) {
    Sample(int account, String outcome, long startNanos, long ttftNanos, double tpotNanos, int tokens, long endNanos) {
      this(account, outcome, startNanos, ttftNanos, tpotNanos, tokens, endNanos, null);
    }

    boolean shed() {
      return outcome.equals("503") || outcome.equals("429");
    }

    boolean admitted() {
      return outcome.equals("ok") || outcome.equals("cut") && ttftNanos >= 0;
    }

    /**
     * Its output tokens that came inside [from, to): the tokens are taken to come evenly from the
     * first to the last. Counting every token of a request at its completion instead makes a
     * window's count jump by whole requests, and with requests of equal length that finish in
     * waves (a closed loop starts them together) that error is several percent.
     */
    double tokensWithin(long from, long to) {
      long first = startNanos + ttftNanos;
      if (ttftNanos < 0 || tokens == 0) {
        return 0;
      }
      if (endNanos <= first) {
        return endNanos >= from && endNanos < to ? tokens : 0;
      }
      long overlap = Math.min(to, endNanos) - Math.max(from, first);
      return overlap <= 0 ? 0 : tokens * ((double) overlap / (endNanos - first));
    }
  }

  record Row(String variant, double load, double offeredRps, int requests, double goodput, double goodputShare,
      double ttftP50, double ttftP99, double shedRate, double jain, double lightP99, int cut, int errors,
      double lateShare, FleetUse fleet, double steadyP99, double steadyLightP99, Map<String, Integer> shedRules) {}

  /**
   * What the simulated engines did in a step's measured window, sampled every 10 ms: output tokens
   * generated per second (good or not), mean busy batch slots, and the share of samples in which
   * some engine had a request waiting in its own queue. Separates "the fleet sat idle" from "the
   * fleet worked but the requests missed their targets" when goodput falls short.
   */
  record FleetUse(double tokensPerSecond, double busySlots, double engineQueuedShare) {
    static final FleetUse NONE = new FleetUse(Double.NaN, Double.NaN, Double.NaN);
  }

  private @Nullable SimFleet fleet;
  private FleetUse capacityUse = FleetUse.NONE;

  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
          .executor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()).build();

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec == null ? new PrintWriter(System.out, true) : spec.commandLine().getOut();
    EngineProfile engine = EngineProfile.byName(profile);
    int slots = engine.maxNumSeqs();
    try (SimFleet fleet = SimFleet.start(new SimConfig(profile, List.of(MODEL), timeScale, null, FaultPlan.none(), seed), REPLICAS, 0)) {
      this.fleet = fleet;
      List<URI> replicas = fleet.baseUrls();
      out.printf(Locale.ROOT, "fleet: %d x %s (time scale %s), %d slots each; request: short prompt, max_tokens %d, ignore_eos, streaming%n",
          REPLICAS, profile, timeScale, slots, maxTokens);
      // Capacity: closed loop, one client per batch slot, round-robin straight to the replicas.
      double[] capacity = measureCapacity(replicas, REPLICAS * slots);
      double capacityRps = capacity[0];
      double capacityTps = capacity[1];
      out.printf(Locale.ROOT, "capacity: %.2f requests/s, %.1f output tokens/s (closed loop, %d clients, %d s; fleet %.1f tok/s, %.1f busy slots, engine queue %.0f%%)%n",
          capacityRps, capacityTps, REPLICAS * slots, capacitySeconds,
          capacityUse.tokensPerSecond(), capacityUse.busySlots(), 100 * capacityUse.engineQueuedShare());
      out.printf(Locale.ROOT, "targets: TTFT <= %.2f s, TPOT <= %.0f ms (wall clock); %d s arrivals per step (first %d s unmeasured), %d s grace%n%n",
          ttftTarget / timeScale, tpotTarget / timeScale * 1000, stepSeconds, warmupSeconds, graceSeconds);
      out.flush();
      List<Row> rows = new ArrayList<>();
      StringBuilder csv = new StringBuilder("variant,load,account,outcome,sent_ms,ttft_ms\n");
      for (String variant : variants) {
        Target target = target(variant.trim(), replicas, slots, engine);
        try {
          for (double load : loads) {
            long[] window = new long[2];
            FleetUse[] use = {FleetUse.NONE};
            List<Sample> samples = step(target, load * capacityRps, window, use);
            long stepStart = window[0] - TimeUnit.SECONDS.toNanos(Math.min(warmupSeconds, stepSeconds - 1));
            for (Sample x : samples) {
              csv.append(String.format(Locale.ROOT, "%s,%.0f,%d,%s,%.1f,%.1f%n", variant.trim(), load, x.account(), x.outcome(),
                  (x.startNanos() - stepStart) / 1e6, x.ttftNanos() < 0 ? Double.NaN : x.ttftNanos() / 1e6));
            }
            Row row = summarize(variant.trim(), load, load * capacityRps, samples, capacityTps, window, use[0]);
            rows.add(row);
            out.println(format(row));
            out.flush();
            Thread.sleep(1000);
          }
        } finally {
          target.close();
        }
      }
      if (samplesCsv != null) {
        Files.writeString(samplesCsv, csv, StandardCharsets.UTF_8);
      }
      out.println();
      out.println("| variant | load | offered req/s | requests | goodput tok/s | % of capacity | TTFT p50 s | TTFT p99 s | late | shed | Jain (light) | light p99 TTFT s | steady TTFT p99 s | steady light p99 s | cut | errors | fleet tok/s | busy slots | engine queue |");
      out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
      for (Row r : rows) {
        out.printf(Locale.ROOT, "| %s | %.0fx | %.1f | %d | %.1f | %.0f%% | %s | %s | %.1f%% | %.0f%% | %.3f | %s | %s | %s | %d | %d | %.1f | %.1f / %d | %.0f%% |%n",
            r.variant(), r.load(), r.offeredRps(), r.requests(), r.goodput(), 100 * r.goodputShare(),
            secs(r.ttftP50()), secs(r.ttftP99()), 100 * r.lateShare(), 100 * r.shedRate(), r.jain(), secs(r.lightP99()),
            secs(r.steadyP99()), secs(r.steadyLightP99()), r.cut(), r.errors(),
            r.fleet().tokensPerSecond(), r.fleet().busySlots(), REPLICAS * slots, 100 * r.fleet().engineQueuedShare());
      }
      out.printf(Locale.ROOT, "(capacity %.2f req/s = %.1f tok/s; goodput: output tokens/s, inside each step's measured window (after warm-up, before arrivals stop), of requests with TTFT <= %.2f s and TPOT <= %.0f ms (a request's tokens counted as spread evenly from its first to its last); "
              + "TTFT percentiles over admitted requests, cut ones at their age when cut; steady: only those sent after the warm-up (without the onset of overload at each step's start); late: admitted requests with TTFT over the target; Jain over the 9 light accounts' goodput; "
              + "fleet tok/s, busy slots, engine queue: what the simulated engines did in the measured window, sampled every 10 ms)%n",
          capacityRps, capacityTps, ttftTarget / timeScale, tpotTarget / timeScale * 1000);
      out.flush();
    }
    return 0;
  }

  private static String secs(double nanos) {
    return Double.isNaN(nanos) ? "-" : String.format(Locale.ROOT, "%.2f", nanos / 1e9);
  }

  private String format(Row r) {
    return String.format(Locale.ROOT,
        "%-6s %4.0fx offered %6.1f req/s: %5d requests, goodput %7.1f tok/s (%3.0f%%), TTFT p50 %s p99 %s s, late %.1f%%, shed %3.0f%%, Jain %.3f, light p99 %s s (steady: p99 %s, light %s), cut %d, errors %d; fleet %.1f tok/s, %.1f busy slots, engine queue %.0f%%; shed by rule %s",
        r.variant(), r.load(), r.offeredRps(), r.requests(), r.goodput(), 100 * r.goodputShare(), secs(r.ttftP50()), secs(r.ttftP99()),
        100 * r.lateShare(), 100 * r.shedRate(), r.jain(), secs(r.lightP99()), secs(r.steadyP99()), secs(r.steadyLightP99()), r.cut(), r.errors(),
        r.fleet().tokensPerSecond(), r.fleet().busySlots(), 100 * r.fleet().engineQueuedShare(), r.shedRules());
  }

  /** Where requests go: the replicas in turn, or one Jevons. */
  interface Target extends AutoCloseable {
    URI url(int account);

    @Nullable String key(int account);

    @Override
    void close();
  }

  private Target target(String variant, List<URI> replicas, int slots, EngineProfile engine) throws Exception {
    if (variant.equals("direct")) {
      AtomicInteger next = new AtomicInteger();
      return new Target() {
        @Override
        public URI url(int account) {
          return URI.create(replicas.get(Math.floorMod(next.getAndIncrement(), replicas.size())) + "/chat/completions");
        }

        @Override
        public @Nullable String key(int account) {
          return null;
        }

        @Override
        public void close() {}
      };
    }
    if (!variant.equals("fifo") && !variant.equals("fair")) {
      throw new IllegalArgumentException("unknown variant " + variant + " (direct, fifo, fair)");
    }
    Path tmp = Files.createTempDirectory("jevons-bench-overload");
    StringBuilder yaml = new StringBuilder("upstreams:\n");
    long prefill = Math.max(1, Math.min(100_000_000L, Math.round(engine.prefillTokensPerSecond() * timeScale)));
    for (int i = 0; i < replicas.size(); i++) {
      yaml.append("  - name: sim-").append(i + 1).append('\n')
          .append("    url: ").append(replicas.get(i)).append('\n')
          .append("    max_concurrency: ").append(slots).append('\n')
          .append("    metrics: true\n")
          .append("    prefill_tokens_per_second: ").append(prefill).append('\n');
    }
    Path file = tmp.resolve("jevons.yaml");
    Files.writeString(file, yaml.toString(), StandardCharsets.UTF_8);
    long ttftMillis = Math.max(1, Math.round(ttftTarget / timeScale * 1000));
    JevonsApp app = JevonsApp.start(new ConfigLoader().file(file)
        .override("server.port", 0)
        .override("data_dir", tmp.toString())
        .override("billing.enabled", false)
        .override("scheduler.policy", variant)
        .override("scheduler.routing", "least_loaded")
        .override("scheduler.max_wait_ms", ttftMillis)
        .override("scheduler.ttft_target_ms", ttftMillis)
        .override("scheduler.keepalive_interval_ms", 500)
        .load());
    String[] keys = new String[ACCOUNTS];
    for (int a = 0; a < ACCOUNTS; a++) {
      Account acct = app.accounts().createAccount(a == 0 ? "heavy" : "light-" + a);
      keys[a] = app.accounts().issueKey(acct.id(), "bench", Set.of(), null).secret();
    }
    URI url = URI.create(app.baseUrl() + "/v1/chat/completions");
    return new Target() {
      @Override
      public URI url(int account) {
        return url;
      }

      @Override
      public String key(int account) {
        return keys[account];
      }

      @Override
      public void close() {
        app.close();
      }
    };
  }

  private double[] measureCapacity(List<URI> replicas, int clients) throws Exception {
    AtomicInteger next = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Sample> done = new ConcurrentLinkedQueue<>();
    Set<InputStream> open = ConcurrentHashMap.newKeySet();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      threads.add(Thread.ofVirtual().start(() -> {
        while (!stop.get()) {
          URI url = URI.create(replicas.get(Math.floorMod(next.getAndIncrement(), replicas.size())) + "/chat/completions");
          Sample s = send(url, null, 0, Long.MAX_VALUE, open);
          if (s.outcome().equals("ok")) {
            done.add(s);
          }
        }
      }));
    }
    Thread.sleep(Math.max(2000, (long) (4000 / timeScale)));
    long start = System.nanoTime();
    long end = start + TimeUnit.SECONDS.toNanos(capacitySeconds);
    capacityUse = sampleFleet(start, end);
    stop.set(true);
    for (Thread t : threads) {
      t.join();
    }
    // The same estimator as goodput: tokens that came inside the window (the fleet was already
    // saturated before it), and requests in proportion to their tokens inside it.
    double seconds = (end - start) / 1e9;
    double tokens = done.stream().mapToDouble(x -> x.tokensWithin(start, end)).sum();
    double requests = done.stream().mapToDouble(x -> x.tokens() == 0 ? 0 : x.tokensWithin(start, end) / x.tokens()).sum();
    return new double[] {requests / seconds, tokens / seconds};
  }

  /** Open-loop Poisson arrivals at {@code rps} for stepSeconds, then grace, then cut what is left. */
  private List<Sample> step(Target target, double rps, long[] window, FleetUse[] use) throws Exception {
    SplittableRandom random = new SplittableRandom(seed ^ Double.doubleToLongBits(rps));
    ConcurrentLinkedQueue<Sample> done = new ConcurrentLinkedQueue<>();
    Set<InputStream> open = ConcurrentHashMap.newKeySet();
    List<Thread> threads = new ArrayList<>();
    long start = System.nanoTime();
    long end = start + TimeUnit.SECONDS.toNanos(stepSeconds);
    long cutAt = end + TimeUnit.SECONDS.toNanos(graceSeconds);
    window[0] = start + TimeUnit.SECONDS.toNanos(Math.min(warmupSeconds, stepSeconds - 1));
    window[1] = end;
    Thread sampler = Thread.ofPlatform().daemon().name("bench-fleet-sampler").start(() -> use[0] = sampleFleet(window[0], window[1]));
    double t = start;
    while (true) {
      t += -Math.log(1 - random.nextDouble()) / rps * 1e9;
      if (t >= end) {
        break;
      }
      long wait = (long) t - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait);
      }
      int account = random.nextBoolean() ? 0 : 1 + random.nextInt(ACCOUNTS - 1);
      URI url = target.url(account);
      String key = target.key(account);
      threads.add(Thread.ofVirtual().start(() -> done.add(send(url, key, account, cutAt, open))));
    }
    for (Thread th : threads) {
      long left = Math.max(1, (cutAt - System.nanoTime()) / 1_000_000);
      th.join(Duration.ofMillis(left));
      if (System.nanoTime() >= cutAt) {
        break;
      }
    }
    // Cut what is still open: the clients leave.
    for (InputStream in : open) {
      try {
        in.close();
      } catch (Exception e) {
        // already closed
      }
    }
    for (Thread th : threads) {
      th.join(Duration.ofSeconds(10));
    }
    sampler.join();
    return new ArrayList<>(done);
  }

  /** Samples the engines every 10 ms between {@code from} and {@code to} (System.nanoTime). */
  private FleetUse sampleFleet(long from, long to) {
    SimFleet f = fleet;
    if (f == null) {
      return FleetUse.NONE;
    }
    LockSupport.parkNanos(from - System.nanoTime());
    long tokensAtStart = f.stats().stream().mapToLong(EngineModel.Stats::generationTokens).sum();
    long startedAt = System.nanoTime();
    long samples = 0;
    long busy = 0;
    long queued = 0;
    while (System.nanoTime() < to) {
      int running = 0;
      boolean waiting = false;
      for (EngineModel.Stats st : f.stats()) {
        running += st.running();
        waiting |= st.waiting() > 0;
      }
      samples++;
      busy += running;
      queued += waiting ? 1 : 0;
      LockSupport.parkNanos(10_000_000L);
    }
    long tokens = f.stats().stream().mapToLong(EngineModel.Stats::generationTokens).sum() - tokensAtStart;
    double seconds = (System.nanoTime() - startedAt) / 1e9;
    return samples == 0 ? FleetUse.NONE : new FleetUse(tokens / seconds, (double) busy / samples, (double) queued / samples);
  }

  private Sample send(URI url, @Nullable String key, int account, long cutAt, Set<InputStream> open) {
    String body = "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Say something.\"}],\"max_tokens\":" + maxTokens
        + ",\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
    long t0 = System.nanoTime();
    long first = -1;
    long last = -1;
    int chunks = 0;
    int usageTokens = -1;
    HttpRequest.Builder b = HttpRequest.newBuilder(url)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (cutAt != Long.MAX_VALUE) {
      b.timeout(Duration.ofNanos(Math.max(1_000_000, cutAt - t0)));
    }
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    InputStream in = null;
    try {
      HttpResponse<InputStream> res = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
      in = res.body();
      open.add(in);
      if (System.nanoTime() >= cutAt) {
        in.close();
      }
      if (res.statusCode() != 200) {
        String error = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        return new Sample(account, String.valueOf(res.statusCode()), t0, -1, Double.NaN, 0, System.nanoTime(), shedRule(error));
      }
      BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      for (String line = reader.readLine(); line != null; line = reader.readLine()) {
        if (!line.startsWith("data: ")) {
          continue;
        }
        if (line.equals("data: [DONE]")) {
          break;
        }
        if (line.contains("\"error\"")) {
          // An error after a 200 (waited, then shed at the queue deadline; or an upstream failure).
          String outcome = line.contains("server_overloaded") ? "503" : line.contains("rate_limit") ? "429" : "error";
          return new Sample(account, first < 0 ? outcome : "error", t0, first < 0 ? -1 : first - t0, Double.NaN, chunks, System.nanoTime(), shedRule(line));
        }
        if (line.contains("\"content\":\"") && !line.contains("\"content\":\"\"")) {
          long now = System.nanoTime();
          if (first < 0) {
            first = now;
          }
          last = now;
          chunks++;
        }
        int u = line.indexOf("\"completion_tokens\":");
        if (u >= 0) {
          int s = u + "\"completion_tokens\":".length();
          int e = s;
          while (e < line.length() && Character.isDigit(line.charAt(e))) {
            e++;
          }
          if (e > s) {
            usageTokens = Integer.parseInt(line.substring(s, e));
          }
        }
      }
      int tokens = usageTokens >= 0 ? usageTokens : chunks;
      double tpot = chunks > 1 ? (double) (last - first) / (chunks - 1) : 0;
      if (first < 0) {
        return new Sample(account, System.nanoTime() >= cutAt ? "cut" : "error", t0, -1, Double.NaN, 0, System.nanoTime());
      }
      return new Sample(account, "ok", t0, first - t0, tpot, tokens, System.nanoTime());
    } catch (java.net.http.HttpTimeoutException e) {
      return new Sample(account, "cut", t0, cutAt - t0, Double.NaN, 0, System.nanoTime());
    } catch (Exception e) {
      if (System.nanoTime() >= cutAt) {
        return new Sample(account, "cut", t0, first >= 0 ? first - t0 : cutAt - t0, Double.NaN, chunks, System.nanoTime());
      }
      return new Sample(account, "error", t0, -1, Double.NaN, 0, System.nanoTime());
    } finally {
      if (in != null) {
        open.remove(in);
        try {
          in.close();
        } catch (Exception e) {
          // ignore
        }
      }
    }
  }

  /**
   * Which admission rule refused a request, from the error message (every rejection names its
   * limit): the limit (a standing queue's target, the queue deadline, a full queue, displacement,
   * expiry while waiting, a rate limit) and, for a predicted wait, what set the prediction (the
   * slot it would take, or the work ahead of it under fair sharing). A shed rate alone does not
   * say which rule to look at.
   */
  static String shedRule(String message) {
    String limit =
        message.contains("a standing queue is held to") ? "standing"
            : message.contains("exceeds the queue deadline") ? "deadline"
            : message.contains("queue full") ? "full"
            : message.contains("displaced") ? "displaced"
            : message.contains("did not start within") ? "expired"
            : message.contains("rate_limit") ? "rate-limit"
            : "other";
    String cause =
        message.contains("the slot this request would take") ? "/slot"
            : message.contains("ahead of this request under fair sharing") ? "/ahead"
            : "";
    return limit + cause;
  }

  private Row summarize(String variant, double load, double rps, List<Sample> samples, double capacityTps, long[] window, FleetUse use) {
    long ttftLimit = (long) (ttftTarget / timeScale * 1e9);
    double tpotLimit = tpotTarget / timeScale * 1e9;
    double[] goodByAccount = new double[ACCOUNTS];
    List<Long> ttfts = new ArrayList<>();
    List<Long> lightTtfts = new ArrayList<>();
    List<Long> steadyTtfts = new ArrayList<>();
    List<Long> steadyLightTtfts = new ArrayList<>();
    int shed = 0;
    int cut = 0;
    int errors = 0;
    int admitted = 0;
    int late = 0;
    Map<String, Integer> shedRules = new TreeMap<>();
    for (Sample s : samples) {
      if (s.shed()) {
        shed++;
        shedRules.merge(s.shedRule() == null ? "unknown" : s.shedRule(), 1, Integer::sum);
      } else if (s.outcome().equals("cut")) {
        cut++;
      } else if (s.outcome().equals("error")) {
        errors++;
      }
      if (s.outcome().equals("ok") && s.ttftNanos() <= ttftLimit && s.tpotNanos() <= tpotLimit) {
        goodByAccount[s.account()] += s.tokensWithin(window[0], window[1]);
      }
      if (s.admitted()) {
        admitted++;
        late += s.ttftNanos() > ttftLimit ? 1 : 0;
        ttfts.add(s.ttftNanos());
        if (s.account() != 0) {
          lightTtfts.add(s.ttftNanos());
        }
        // Sent after the warm-up: the steady state, without the onset of overload at the step's start.
        if (s.startNanos() >= window[0]) {
          steadyTtfts.add(s.ttftNanos());
          if (s.account() != 0) {
            steadyLightTtfts.add(s.ttftNanos());
          }
        }
      }
    }
    double good = Arrays.stream(goodByAccount).sum() / ((window[1] - window[0]) / 1e9);
    double sum = 0;
    double squares = 0;
    for (int a = 1; a < ACCOUNTS; a++) {
      sum += goodByAccount[a];
      squares += goodByAccount[a] * goodByAccount[a];
    }
    double jain = squares == 0 ? Double.NaN : sum * sum / ((ACCOUNTS - 1) * squares);
    return new Row(variant, load, rps, samples.size(), good, good / capacityTps, percentile(ttfts, 0.50), percentile(ttfts, 0.99),
        samples.isEmpty() ? 0 : (double) shed / samples.size(), jain, percentile(lightTtfts, 0.99), cut, errors,
        admitted == 0 ? 0 : (double) late / admitted, use, percentile(steadyTtfts, 0.99), percentile(steadyLightTtfts, 0.99), shedRules);
  }

  private static double percentile(List<Long> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    long[] v = values.stream().mapToLong(Long::longValue).sorted().toArray();
    int i = (int) Math.ceil(p * v.length) - 1;
    return v[Math.max(0, Math.min(v.length - 1, i))];
  }

  /** Lets the integrator run it before it is registered under {@code jevons bench}. */
  public static void main(String[] args) {
    System.exit(new picocli.CommandLine(new BenchOverloadCommand()).execute(args));
  }
}
