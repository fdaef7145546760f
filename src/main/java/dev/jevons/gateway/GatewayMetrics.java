package dev.jevons.gateway;

import dev.jevons.billing.Ledger;
import dev.jevons.governor.Gate;
import dev.jevons.governor.Governor;
import dev.jevons.governor.Mode;
import dev.jevons.governor.Signals;
import dev.jevons.scheduler.FairQueue;
import dev.jevons.scheduler.LoadSignals;
import dev.jevons.scheduler.Router;
import dev.jevons.upstream.EngineLoad;
import dev.jevons.upstream.MetricsScraper;
import dev.jevons.upstream.Replica;
import dev.jevons.upstream.UpstreamPool;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The gateway's Prometheus metrics. Label values are bounded: a model label is only ever a model
 * some upstream serves (anything else is recorded as {@code other}), so a client cannot create
 * series at will.
 */
public final class GatewayMetrics {
  /**
   * The meters of the request path, by name and labels: registering looks a meter up by an id
   * whose tags it sorts and copies, several times per request, where one map lookup will do.
   * Bounded as the labels are.
   */
  private record Key(String meter, String a, String b, String c) {}

  private final ConcurrentHashMap<Key, Counter> counters = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Key, Timer> timers = new ConcurrentHashMap<>();
  private final MeterRegistry registry;
  private final UpstreamPool pool;
  private final LoadSignals load;

  /** {@code load} receives the admission events too, for the demand governor's signals. */
  public GatewayMetrics(MeterRegistry registry, UpstreamPool pool, LoadSignals load) {
    this.registry = registry;
    this.pool = pool;
    this.load = load;
    for (Replica r : pool.replicas()) {
      Gauge.builder("jevons.upstream.in_flight", r, Replica::inFlight)
          .description("Requests Jevons has in flight on the upstream")
          .tag("upstream", r.name())
          .register(registry);
      Gauge.builder("jevons.upstream.healthy", r, x -> x.healthy() ? 1 : 0)
          .description("1 when the upstream passes its health checks")
          .tag("upstream", r.name())
          .register(registry);
      Gauge.builder("jevons.upstream.max_concurrency", r, Replica::maxConcurrency)
          .tag("upstream", r.name())
          .register(registry);
    }
  }

  /** Queue gauges by priority band: tickets waiting and the tokens they hold. */
  public void watchQueue(FairQueue queue) {
    for (int band = 0; band < 3; band++) {
      int b = band;
      Gauge.builder("jevons.queue.requests", queue, q -> q.ticketsByBand()[b])
          .description("Requests waiting for capacity, by priority band")
          .tag("band", Integer.toString(b))
          .register(registry);
      Gauge.builder("jevons.queue.tokens", queue, q -> q.queuedTokens(b))
          .description("Tokens (prompt + max output) of the waiting requests, by band")
          .tag("band", Integer.toString(b))
          .register(registry);
    }
  }

  /** Routing and engine-load gauges: prefix-index hit rate, decisions, each replica's own load. */
  public void watchRouting(Router router, MetricsScraper scraper) {
    Gauge.builder("jevons.prefix_index.blocks_looked_up", router, r -> r.stats().blocksLookedUp()).register(registry);
    Gauge.builder("jevons.prefix_index.blocks_matched", router, r -> r.stats().blocksMatched()).register(registry);
    Gauge.builder("jevons.prefix_index.hit_rate", router, r -> r.stats().hitRate())
        .description("Share of looked-up prompt blocks the chosen replica likely held")
        .register(registry);
    Gauge.builder("jevons.route.decisions", router, r -> r.stats().sticky()).tag("reason", "sticky").register(registry);
    Gauge.builder("jevons.route.decisions", router, r -> r.stats().spilled()).tag("reason", "spilled").register(registry);
    Gauge.builder("jevons.route.decisions", router, r -> r.stats().leastLoaded()).tag("reason", "least_loaded").register(registry);
    Gauge.builder("jevons.route.decisions", router, r -> r.stats().roundRobin()).tag("reason", "round_robin").register(registry);
    Gauge.builder("jevons.upstream.metrics_scrape_failures", scraper, MetricsScraper::failures).register(registry);
    for (Replica r : pool.replicas()) {
      Gauge.builder("jevons.upstream.engine_running", r, x -> x.engineLoad().map(l -> (double) l.runningRequests()).orElse(Double.NaN))
          .description("Requests running in the upstream engine, as it reports")
          .tag("upstream", r.name())
          .register(registry);
      Gauge.builder("jevons.upstream.engine_waiting", r, x -> x.engineLoad().map(l -> (double) l.waitingRequests()).orElse(Double.NaN))
          .tag("upstream", r.name())
          .register(registry);
      Gauge.builder("jevons.upstream.kv_cache_usage", r, x -> x.engineLoad().map(EngineLoad::kvCacheUsage).orElse(Double.NaN))
          .tag("upstream", r.name())
          .register(registry);
      Gauge.builder("jevons.upstream.saturated", r, x -> x.saturated(System.nanoTime()) ? 1 : 0)
          .tag("upstream", r.name())
          .register(registry);
    }
  }

  /** The governor's gates and the signals it judges them by. */
  public void watchGovernor(Governor governor) {
    for (Gate g : Gate.values()) {
      Gauge.builder("jevons.governor.gate_open", governor, x -> x.isOpen(g) ? 1 : 0)
          .description("1 while the gate is open, 0 while closed")
          .tag("gate", g.id())
          .register(registry);
      Gauge.builder("jevons.governor.gate_forced", governor, x -> x.status(g).mode() == Mode.AUTO ? 0 : 1)
          .description("1 while an operator overrides the gate")
          .tag("gate", g.id())
          .register(registry);
    }
    Gauge.builder("jevons.governor.utilization", governor, x -> x.lastSignals().map(Signals::utilization).orElse(Double.NaN))
        .description("Busy share of the fleet's slots over the governor's window")
        .register(registry);
    Gauge.builder("jevons.governor.queue_wait_p95_seconds", governor, x -> x.lastSignals().map(s -> s.queueWaitP95Millis() / 1000).orElse(Double.NaN))
        .register(registry);
    Gauge.builder("jevons.governor.shed_rate", governor, x -> x.lastSignals().map(Signals::shedRate).orElse(Double.NaN))
        .register(registry);
    Gauge.builder("jevons.governor.runway_days", governor, x -> x.lastSignals().map(Signals::runwayDays).filter(Double::isFinite).orElse(Double.NaN))
        .description("Days until the demand trend exceeds capacity; NaN while unbounded")
        .register(registry);
  }

  /** A request reached admission (queued or about to be refused). */
  void admissionArrival() {
    load.arrived();
  }

  /** A request left the queue at its deadline, after waiting this long. */
  void expiredInQueue(long waitedNanos) {
    load.waited(waitedNanos);
  }

  void shed(String model, String reason) {
    load.shed();
    Counter.builder("jevons.shed")
        .description("Requests refused by admission control, by reason")
        .tag("model", modelLabel(model))
        .tag("reason", reason)
        .register(registry)
        .increment();
  }

  void rateLimited(String model, String limit) {
    Counter.builder("jevons.rate_limited")
        .description("Requests refused with 429, by the limit that refused them")
        .tag("model", modelLabel(model))
        .tag("limit", limit)
        .register(registry)
        .increment();
  }

  /** The ledger's group commits: how many, how many commands they carried, and their write time. */
  public void watchLedger(Ledger ledger) {
    FunctionCounter.builder("jevons.ledger.batches", ledger, l -> l.stats().batches())
        .description("Ledger batches committed to the store")
        .register(registry);
    FunctionCounter.builder("jevons.ledger.commands", ledger, l -> l.stats().commands())
        .description("Ledger commands answered through a commit")
        .register(registry);
    FunctionCounter.builder("jevons.ledger.write.seconds", ledger, l -> l.stats().writeNanos() / 1e9)
        .description("Time spent writing and committing ledger batches")
        .register(registry);
    FunctionCounter.builder("jevons.ledger.retries", ledger, l -> l.stats().retries())
        .description("Ledger batches applied again after a conflict with another node (shared mode)")
        .register(registry);
    Gauge.builder("jevons.ledger.queued", ledger, Ledger::queued)
        .description("Ledger commands waiting to be applied")
        .register(registry);
  }

  void holdExtensions(String model, int extensions) {
    if (extensions > 0) {
      Counter.builder("jevons.billing.hold_extensions")
          .description("Extensions of streams' ledger holds that committed")
          .tag("model", modelLabel(model))
          .register(registry)
          .increment(extensions);
    }
  }

  void streamEndedUnpaid(String model) {
    Counter.builder("jevons.billing.streams_ended_insufficient")
        .description("Streams ended with insufficient_balance because their hold could not be extended")
        .tag("model", modelLabel(model))
        .register(registry)
        .increment();
  }

  void queueWait(String model, long nanos) {
    load.waited(nanos);
    timer(new Key("jevons.queue.wait", modelLabel(model), "", ""), (r, k) -> Timer.builder(k.meter())
        .description("Time requests waited in the fair queue before dispatch")
        .tag("model", k.a())
        .publishPercentileHistogram()
        .maximumExpectedValue(Duration.ofMinutes(10))
        .register(r))
        .record(nanos, TimeUnit.NANOSECONDS);
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** Records one finished request of any kind, including rejected ones. */
  public void request(String route, RequestRecord rec, int status, long endNanos) {
    String model = modelLabel(rec.model());
    counter(new Key("jevons.requests", route, model, statusLabel(status)), (r, k) -> Counter.builder(k.meter())
        .description("Requests by route, model and HTTP status")
        .tag("route", k.a())
        .tag("model", k.b())
        .tag("status", k.c())
        .register(r))
        .increment();
    timer(new Key("jevons.request.duration", route, model, ""), (r, k) -> Timer.builder(k.meter())
        .description("Time from request arrival to the last byte")
        .tag("route", k.a())
        .tag("model", k.b())
        .publishPercentileHistogram()
        .maximumExpectedValue(Duration.ofMinutes(10))
        .register(r))
        .record(endNanos - rec.startNanos(), TimeUnit.NANOSECONDS);
    if (rec.firstTokenNanos() > 0) {
      timer(new Key("jevons.time_to_first_token", model, "", ""), (r, k) -> Timer.builder(k.meter())
          .description("Time from request arrival to the first token sent to the client")
          .tag("model", k.a())
          .publishPercentileHistogram()
          .maximumExpectedValue(Duration.ofMinutes(10))
          .register(r))
          .record(rec.firstTokenNanos(), TimeUnit.NANOSECONDS);
    }
    Usage u = rec.usage();
    if (u.totalTokens() > 0) {
      tokens(model, "prompt_cache_hit", u.cachedPromptTokens());
      tokens(model, "prompt_cache_miss", u.missPromptTokens());
      tokens(model, "completion", u.completionTokens());
    }
  }

  /** The counter {@code key} names, registered by {@code make} the first time (a lambda that captures nothing). */
  private Counter counter(Key key, BiFunction<MeterRegistry, Key, Counter> make) {
    Counter c = counters.get(key);
    return c != null ? c : counters.computeIfAbsent(key, k -> make.apply(registry, k));
  }

  private Timer timer(Key key, BiFunction<MeterRegistry, Key, Timer> make) {
    Timer t = timers.get(key);
    return t != null ? t : timers.computeIfAbsent(key, k -> make.apply(registry, k));
  }

  void upstreamFailure(Replica r, String kind) {
    Counter.builder("jevons.upstream.failures")
        .description("Failed upstream attempts by kind")
        .tag("upstream", r.name())
        .tag("kind", kind)
        .register(registry)
        .increment();
  }

  private void tokens(String model, String kind, long n) {
    if (n > 0) {
      counter(new Key("jevons.tokens", model, kind, ""), (r, k) -> Counter.builder(k.meter())
          .description("Tokens by model and kind")
          .tag("model", k.a())
          .tag("kind", k.b())
          .register(r))
          .increment(n);
    }
  }

  /** The status label; the common ones without a string per request. */
  private static String statusLabel(int status) {
    return switch (status) {
      case 200 -> "200";
      case 400 -> "400";
      case 401 -> "401";
      case 402 -> "402";
      case 429 -> "429";
      case 503 -> "503";
      default -> Integer.toString(status);
    };
  }

  private String modelLabel(@Nullable String model) {
    if (model == null) {
      return "";
    }
    return pool.serves(model) ? model : "other";
  }
}
