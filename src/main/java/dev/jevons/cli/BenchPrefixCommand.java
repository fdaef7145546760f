package dev.jevons.cli;

import dev.jevons.accounts.Account;
import dev.jevons.config.ConfigLoader;
import dev.jevons.scheduler.Router;
import dev.jevons.sim.EngineModel;
import dev.jevons.sim.EngineProfile;
import dev.jevons.sim.FaultPlan;
import dev.jevons.sim.IdealPrefixCache;
import dev.jevons.sim.SimConfig;
import dev.jevons.sim.SimFleet;
import java.io.BufferedReader;
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
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jevons bench prefix}: prefix-aware routing against least-loaded and round-robin on a
 * simulated fleet, with a shared-prefix workload: many tenants, each with a long system prompt,
 * each running several multi-turn conversations (every request resends the system prompt and the
 * conversation so far). One fresh fleet and one Jevons per policy, the same arrivals for each.
 *
 * <p>Reported per policy: the engines' prefix-cache hit rate (the simulator's
 * {@code vllm:prefix_cache_hits} over {@code vllm:prefix_cache_queries}, in tokens) over the
 * measured window, against the single-replica ideal (an unbounded cache seeing the same prompts in
 * the same order, {@link IdealPrefixCache}) and against round-robin; TTFT p50/p90/p99; completed
 * requests and output tokens per second.
 */
@Command(
    name = "prefix",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmark prefix-cache-aware routing: prefix vs least_loaded vs round_robin on 4 simulated replicas.",
      "Tenants with long system prompts run multi-turn conversations; reports the engines' prefix-cache hit rate (vs an unbounded single-replica cache),",
      "TTFT p50/p90/p99 and throughput, one fresh fleet per policy and the same arrivals for each."
    })
public final class BenchPrefixCommand implements Callable<Integer> {
  static final String MODEL = "sim-chat";
  static final int REPLICAS = 4;

  @Spec @Nullable CommandSpec spec;

  @Option(names = "--profile", defaultValue = "small", description = "Simulator profile. Default: ${DEFAULT-VALUE}.")
  String profile = "small";

  @Option(names = "--time-scale", defaultValue = "1", description = "Simulator time scale. Default: ${DEFAULT-VALUE}.")
  double timeScale = 1;

  @Option(names = "--policies", defaultValue = "prefix,least_loaded,round_robin", split = ",", description = "Routing policies to compare. Default: ${DEFAULT-VALUE}.")
  List<String> policies = List.of();

  @Option(names = "--tenants", defaultValue = "24", description = "Tenants (accounts), each with its own system prompt. Default: ${DEFAULT-VALUE}.")
  int tenants;

  @Option(names = "--conversations", defaultValue = "4", description = "Concurrent conversations per tenant. Default: ${DEFAULT-VALUE}.")
  int conversations;

  @Option(names = "--turns", defaultValue = "6", description = "Turns before a conversation starts over. Default: ${DEFAULT-VALUE}.")
  int turns;

  @Option(names = "--system-words", defaultValue = "1000", description = "Words in each system prompt (about one simulator token each). Default: ${DEFAULT-VALUE}.")
  int systemWords;

  @Option(names = "--turn-words", defaultValue = "40", description = "Words in each user message and each assistant reply of the history. Default: ${DEFAULT-VALUE}.")
  int turnWords;

  @Option(names = "--rate", defaultValue = "4", description = "Requests per second (Poisson). Default: ${DEFAULT-VALUE}.")
  double rate;

  @Option(names = "--seconds", defaultValue = "40", description = "Seconds of arrivals per policy. Default: ${DEFAULT-VALUE}.")
  int seconds;

  @Option(names = "--warmup-seconds", defaultValue = "10", description = "Unmeasured seconds at the start (caches warm up). Default: ${DEFAULT-VALUE}.")
  int warmupSeconds;

  @Option(names = "--max-tokens", defaultValue = "8", description = "Output tokens per request (ignore_eos). Default: ${DEFAULT-VALUE}.")
  int maxTokens;

  @Option(names = "--seed", defaultValue = "11", description = "Seed of the workload. Default: ${DEFAULT-VALUE}.")
  long seed;

  /** One request of the workload: when it is sent, whose it is, its body, and the ideal cache's view of it. */
  record Arrival(long offsetNanos, int tenant, String body, int promptTokens, int idealHitTokens) {}

  record Sample(int tenant, boolean ok, long startNanos, long ttftNanos, int tokens, long endNanos) {}

  record Row(String policy, int requests, int completed, int failed, double rps, double outputTps, double ttftP50, double ttftP90,
      double ttftP99, double hitRate, double idealHitRate, double indexHitRate) {}

  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
          .executor(Executors.newVirtualThreadPerTaskExecutor()).build();

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec == null ? new PrintWriter(System.out, true) : spec.commandLine().getOut();
    EngineProfile engine = EngineProfile.byName(profile);
    List<Arrival> arrivals = workload();
    long warmupEnd = TimeUnit.SECONDS.toNanos(warmupSeconds);
    long idealPrompt = 0;
    long idealHits = 0;
    for (Arrival a : arrivals) {
      if (a.offsetNanos() >= warmupEnd) {
        idealPrompt += a.promptTokens();
        idealHits += a.idealHitTokens();
      }
    }
    double ideal = idealPrompt == 0 ? Double.NaN : (double) idealHits / idealPrompt;
    out.printf(Locale.ROOT, "fleet: %d x %s (time scale %s), %d slots, prefix cache %d tokens per replica%n",
        REPLICAS, profile, timeScale, engine.maxNumSeqs(), Math.min(engine.kvCapacityTokens(), 262_144L * 64));
    out.printf(Locale.ROOT, "workload: %d tenants x %d conversations, %d turns, system prompt %d words, %d words per message; %.1f req/s for %d s (first %d s unmeasured), max_tokens %d; "
            + "%d requests, mean prompt %.0f tokens; single-replica ideal hit rate %.1f%%%n%n",
        tenants, conversations, turns, systemWords, turnWords, rate, seconds, warmupSeconds, maxTokens, arrivals.size(),
        arrivals.stream().mapToInt(Arrival::promptTokens).average().orElse(0), 100 * ideal);
    out.flush();
    List<Row> rows = new ArrayList<>();
    for (String policy : policies) {
      Row row = run(policy.trim(), engine, arrivals, ideal);
      rows.add(row);
      out.println(format(row));
      out.flush();
    }
    double rrHit = rows.stream().filter(r -> r.policy().equals("round_robin")).mapToDouble(Row::hitRate).findFirst().orElse(Double.NaN);
    out.println();
    out.println("| policy | requests | completed | failed | req/s | output tok/s | TTFT p50 s | TTFT p90 s | TTFT p99 s | cache hit rate | % of ideal | x round_robin | Jevons index hit rate |");
    out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (Row r : rows) {
      out.printf(Locale.ROOT, "| %s | %d | %d | %d | %.2f | %.1f | %.2f | %.2f | %.2f | %.1f%% | %.0f%% | %.2f | %.1f%% |%n",
          r.policy(), r.requests(), r.completed(), r.failed(), r.rps(), r.outputTps(), r.ttftP50() / 1e9, r.ttftP90() / 1e9, r.ttftP99() / 1e9,
          100 * r.hitRate(), 100 * r.hitRate() / r.idealHitRate(), r.hitRate() / rrHit, 100 * r.indexHitRate());
    }
    out.printf(Locale.ROOT, "(measured window: requests sent after the first %d s; cache hit rate: prompt tokens the engines found cached over prompt tokens looked up, "
        + "from the simulator's vllm:prefix_cache_* counters; ideal: an unbounded single cache seeing the same prompts, %.1f%%; TTFT over completed requests, client side)%n", warmupSeconds, 100 * ideal);
    out.flush();
    return 0;
  }

  private String format(Row r) {
    return String.format(Locale.ROOT,
        "%-12s %d requests, %d completed, %d failed, %.2f req/s, %.1f output tok/s, TTFT p50 %.2f p90 %.2f p99 %.2f s, cache hit rate %.1f%% (ideal %.1f%%), Jevons index hit rate %.1f%%",
        r.policy(), r.requests(), r.completed(), r.failed(), r.rps(), r.outputTps(), r.ttftP50() / 1e9, r.ttftP90() / 1e9, r.ttftP99() / 1e9,
        100 * r.hitRate(), 100 * r.idealHitRate(), 100 * r.indexHitRate());
  }

  /**
   * The arrivals, the same for every policy: Poisson times; a uniformly chosen tenant and one of
   * its conversations; the request carries the tenant's system prompt, the conversation's turns so
   * far (user message and a fixed assistant reply each) and a new user message.
   */
  List<Arrival> workload() {
    SplittableRandom random = new SplittableRandom(seed);
    String[] system = new String[tenants];
    for (int t = 0; t < tenants; t++) {
      system[t] = "You are the assistant of tenant " + t + ". " + words(random, systemWords);
    }
    List<List<IdealPrefixCache.Message>> history = new ArrayList<>();
    for (int c = 0; c < tenants * conversations; c++) {
      history.add(new ArrayList<>());
    }
    IdealPrefixCache ideal = new IdealPrefixCache();
    List<Arrival> out = new ArrayList<>();
    double t = 0;
    long end = TimeUnit.SECONDS.toNanos(seconds);
    while (true) {
      t += -Math.log(1 - random.nextDouble()) / rate * 1e9;
      if (t >= end) {
        return out;
      }
      int tenant = random.nextInt(tenants);
      List<IdealPrefixCache.Message> turnsSoFar = history.get(tenant * conversations + random.nextInt(conversations));
      if (turnsSoFar.size() >= 2 * (turns - 1)) {
        turnsSoFar.clear();
      }
      List<IdealPrefixCache.Message> messages = new ArrayList<>();
      messages.add(new IdealPrefixCache.Message("system", system[tenant]));
      messages.addAll(turnsSoFar);
      String question = words(random, turnWords);
      messages.add(new IdealPrefixCache.Message("user", question));
      long before = ideal.promptTokens();
      int hit = ideal.offer(messages);
      out.add(new Arrival((long) t, tenant, body(messages), (int) (ideal.promptTokens() - before), hit));
      turnsSoFar.add(new IdealPrefixCache.Message("user", question));
      turnsSoFar.add(new IdealPrefixCache.Message("assistant", words(random, turnWords)));
    }
  }

  private static String words(SplittableRandom random, int n) {
    StringBuilder b = new StringBuilder(n * 6);
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        b.append(' ');
      }
      int len = 3 + random.nextInt(4);
      for (int c = 0; c < len; c++) {
        b.append((char) ('a' + random.nextInt(26)));
      }
    }
    return b.toString();
  }

  private String body(List<IdealPrefixCache.Message> messages) {
    StringBuilder b = new StringBuilder("{\"model\":\"" + MODEL + "\",\"messages\":[");
    for (int i = 0; i < messages.size(); i++) {
      // The generated text is letters and spaces only: nothing to escape.
      b.append(i == 0 ? "" : ",").append("{\"role\":\"").append(messages.get(i).role()).append("\",\"content\":\"")
          .append(messages.get(i).content()).append("\"}");
    }
    return b.append("],\"max_tokens\":").append(maxTokens).append(",\"ignore_eos\":true,\"stream\":true}").toString();
  }

  private Row run(String policy, EngineProfile engine, List<Arrival> arrivals, double ideal) throws Exception {
    Router.Policy.parse(policy);
    try (SimFleet fleet = SimFleet.start(new SimConfig(profile, List.of(MODEL), timeScale, null, FaultPlan.none(), seed), REPLICAS, 0)) {
      Path tmp = Files.createTempDirectory("jevons-bench-prefix");
      StringBuilder yaml = new StringBuilder("upstreams:\n");
      long prefill = Math.max(1, Math.min(100_000_000L, Math.round(engine.prefillTokensPerSecond() * timeScale)));
      for (int i = 0; i < REPLICAS; i++) {
        yaml.append("  - name: sim-").append(i + 1).append('\n')
            .append("    url: ").append(fleet.baseUrls().get(i)).append('\n')
            .append("    max_concurrency: ").append(engine.maxNumSeqs()).append('\n')
            .append("    metrics: true\n")
            .append("    prefill_tokens_per_second: ").append(prefill).append('\n');
      }
      Path file = tmp.resolve("jevons.yaml");
      Files.writeString(file, yaml.toString(), StandardCharsets.UTF_8);
      try (JevonsApp app = JevonsApp.start(new ConfigLoader().file(file)
          .override("server.port", 0)
          .override("data_dir", tmp.toString())
          .override("billing.enabled", false)
          .override("scheduler.routing", policy)
          .load())) {
        String[] keys = new String[tenants];
        for (int t = 0; t < tenants; t++) {
          Account a = app.accounts().createAccount("tenant-" + t);
          keys[t] = app.accounts().issueKey(a.id(), "bench", Set.of(), null).secret();
        }
        URI url = URI.create(app.baseUrl() + "/v1/chat/completions");
        ConcurrentLinkedQueue<Sample> done = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        long warmupEnd = start + TimeUnit.SECONDS.toNanos(warmupSeconds);
        long[] cacheAtWarmup = null;
        Router.Stats indexAtWarmup = null;
        for (Arrival a : arrivals) {
          long at = start + a.offsetNanos();
          if (cacheAtWarmup == null && at >= warmupEnd) {
            LockSupport.parkNanos(warmupEnd - System.nanoTime());
            cacheAtWarmup = cacheCounters(fleet);
            indexAtWarmup = app.admission().router().stats();
          }
          LockSupport.parkNanos(at - System.nanoTime());
          boolean measured = a.offsetNanos() >= TimeUnit.SECONDS.toNanos(warmupSeconds);
          String key = keys[a.tenant()];
          threads.add(Thread.ofVirtual().start(() -> {
            Sample s = send(url, key, a);
            if (measured) {
              done.add(s);
            }
          }));
        }
        for (Thread th : threads) {
          th.join(Duration.ofSeconds(120));
        }
        long end = System.nanoTime();
        long[] cache = cacheCounters(fleet);
        Router.Stats index = app.admission().router().stats();
        if (cacheAtWarmup == null || indexAtWarmup == null) {
          cacheAtWarmup = new long[2];
          indexAtWarmup = new Router.Stats(0, 0, 0, 0, 0, 0);
        }
        List<Sample> samples = new ArrayList<>(done);
        List<Long> ttfts = new ArrayList<>();
        int completed = 0;
        long tokens = 0;
        long lastEnd = warmupEnd;
        for (Sample s : samples) {
          if (s.ok()) {
            completed++;
            tokens += s.tokens();
            ttfts.add(s.ttftNanos());
            lastEnd = Math.max(lastEnd, s.endNanos());
          }
        }
        double window = (Math.max(lastEnd, warmupEnd + 1) - warmupEnd) / 1e9;
        double hit = (double) (cache[1] - cacheAtWarmup[1]) / Math.max(1, cache[0] - cacheAtWarmup[0]);
        long looked = index.blocksLookedUp() - indexAtWarmup.blocksLookedUp();
        double indexHit = looked == 0 ? Double.NaN : (double) (index.blocksMatched() - indexAtWarmup.blocksMatched()) / looked;
        assert end >= start;
        return new Row(policy, samples.size(), completed, samples.size() - completed, completed / window, tokens / window,
            percentile(ttfts, 0.50), percentile(ttfts, 0.90), percentile(ttfts, 0.99), hit, ideal, indexHit);
      }
    }
  }

  /** Prompt tokens looked up and found in the engines' prefix caches, summed over the fleet. */
  private static long[] cacheCounters(SimFleet fleet) {
    long queries = 0;
    long hits = 0;
    for (EngineModel.Stats s : fleet.stats()) {
      queries += s.prefixCacheQueriesTokens();
      hits += s.prefixCacheHitsTokens();
    }
    return new long[] {queries, hits};
  }

  private Sample send(URI url, String key, Arrival a) {
    long t0 = System.nanoTime();
    HttpRequest req = HttpRequest.newBuilder(url)
        .timeout(Duration.ofSeconds(120))
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer " + key)
        .POST(HttpRequest.BodyPublishers.ofString(a.body()))
        .build();
    long first = -1;
    int chunks = 0;
    try {
      HttpResponse<java.io.InputStream> res = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
      try (BufferedReader reader = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
        if (res.statusCode() != 200) {
          return new Sample(a.tenant(), false, t0, -1, 0, System.nanoTime());
        }
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
          if (line.equals("data: [DONE]")) {
            break;
          }
          if (line.startsWith("data: ") && line.contains("\"error\"")) {
            return new Sample(a.tenant(), false, t0, -1, chunks, System.nanoTime());
          }
          if (line.startsWith("data: ") && line.contains("\"content\":\"") && !line.contains("\"content\":\"\"")) {
            if (first < 0) {
              first = System.nanoTime();
            }
            chunks++;
          }
        }
      }
      return new Sample(a.tenant(), first >= 0, t0, first < 0 ? -1 : first - t0, chunks, System.nanoTime());
    } catch (Exception e) {
      return new Sample(a.tenant(), false, t0, -1, chunks, System.nanoTime());
    }
  }

  private static double percentile(List<Long> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    long[] v = values.stream().mapToLong(Long::longValue).sorted().toArray();
    int i = (int) Math.ceil(p * v.length) - 1;
    return v[Math.max(0, Math.min(v.length - 1, i))];
  }
}
