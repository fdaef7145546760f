package dev.jevons.upstream;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Polls each replica's Prometheus {@code /metrics} (next to its {@code /v1} base URL) and keeps the
 * latest {@link EngineLoad} per replica for the scheduler.
 *
 * <p>Threads: one scheduled tick per interval only hands out work; each scrape runs on its own
 * virtual thread with a dedicated HTTP client (short connect and response timeouts), so request
 * threads never wait on a scrape and a slow replica never delays the others. At most one scrape
 * per replica is in flight: a tick that finds the previous one still running skips that replica,
 * and its load turns stale, which is the point. Failures (refused connection, timeout, non-200,
 * oversized body) are counted per replica, logged once when a replica starts failing, and never
 * thrown. The response timeout covers the headers; the body is bounded in size, not in time, and
 * a replica that trickles its body only makes its own load stale.
 */
public final class MetricsScraper implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MetricsScraper.class);

  static final int MAX_SAMPLES = 10_000;

  private final Map<Replica, Target> targets;
  private final long intervalNanos;
  private final long staleAfterNanos;
  private final Duration timeout;
  private final int maxBodyBytes;
  private final LongSupplier nanoTime;
  private final ScheduledExecutorService scheduler;
  private final HttpClient http;
  private final ExecutorService scrapes = Executors.newVirtualThreadPerTaskExecutor();
  private final LongAdder failures = new LongAdder();
  private @Nullable ScheduledFuture<?> task;

  /**
   * @param replicas the replicas to watch (those that expose metrics)
   * @param interval between scrapes of one replica; at most 250 ms in production
   * @param staleAfter a load older than this is stale (3 intervals is a good default)
   * @param timeout connect and response-headers timeout of one scrape
   * @param maxBodyBytes a larger body is a failed scrape
   * @param scheduler runs the tick only (a few microseconds each)
   * @param nanoTime monotonic clock for scrape times and staleness
   */
  public MetricsScraper(
      List<Replica> replicas,
      Duration interval,
      Duration staleAfter,
      Duration timeout,
      int maxBodyBytes,
      ScheduledExecutorService scheduler,
      LongSupplier nanoTime) {
    if (interval.isNegative() || interval.isZero() || staleAfter.compareTo(interval) < 0) {
      throw new IllegalArgumentException("need 0 < interval <= staleAfter: " + interval + ", " + staleAfter);
    }
    if (maxBodyBytes < 1) {
      throw new IllegalArgumentException("maxBodyBytes must be >= 1: " + maxBodyBytes);
    }
    this.intervalNanos = interval.toNanos();
    this.staleAfterNanos = staleAfter.toNanos();
    this.timeout = timeout;
    this.maxBodyBytes = maxBodyBytes;
    this.scheduler = scheduler;
    this.nanoTime = nanoTime;
    long now = nanoTime.getAsLong();
    Map<Replica, Target> map = new IdentityHashMap<>();
    for (Replica r : replicas) {
      map.put(r, new Target(r, metricsUri(r.baseUrl()), now));
    }
    this.targets = map;
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .followRedirects(HttpClient.Redirect.NEVER)
            .executor(scrapes)
            .build();
  }

  /** {@code http://h:p/v1} -> {@code http://h:p/metrics}; a base without {@code /v1} gets {@code /metrics} appended. */
  static URI metricsUri(URI baseUrl) {
    String base = baseUrl.toString();
    while (base.endsWith("/")) {
      base = base.substring(0, base.length() - 1);
    }
    if (base.endsWith("/v1")) {
      base = base.substring(0, base.length() - 3);
    }
    return URI.create(base + "/metrics");
  }

  public void start() {
    task = scheduler.scheduleAtFixedRate(this::tick, 0, intervalNanos, TimeUnit.NANOSECONDS);
  }

  void tick() {
    for (Target t : targets.values()) {
      if (t.inFlight.compareAndSet(false, true)) {
        try {
          scrapes.execute(() -> {
            try {
              scrape(t);
            } finally {
              t.inFlight.set(false);
            }
          });
        } catch (RuntimeException e) {
          // Closed while ticking.
          t.inFlight.set(false);
        }
      }
    }
  }

  /**
   * The replica's latest load, marked stale if too old; empty for a replica this scraper does not
   * watch.
   */
  public Optional<EngineLoad> load(Replica replica) {
    Target t = targets.get(replica);
    if (t == null) {
      return Optional.empty();
    }
    EngineLoad l = t.load;
    return Optional.of(nanoTime.getAsLong() - l.scrapedAtNanos() > staleAfterNanos ? l.asStale() : l);
  }

  /**
   * Whether the replica has ever answered a scrape. A server that never did (a hosted provider,
   * llama.cpp without --metrics) is judged by its concurrency alone, not as saturated.
   */
  public boolean reporting(Replica replica) {
    Target t = targets.get(replica);
    return t != null && t.reporting;
  }

  /** Failed scrapes of all replicas since start. */
  public long failures() {
    return failures.sum();
  }

  /** Failed scrapes of one replica since start. */
  public long failures(Replica replica) {
    Target t = targets.get(replica);
    return t == null ? 0 : t.failures.sum();
  }

  /** Scrapes one replica now, on the calling thread; true if it succeeded. For tests and tools. */
  boolean scrapeNow(Replica replica) {
    Target t = targets.get(replica);
    if (t == null) {
      throw new IllegalArgumentException("not watched: " + replica);
    }
    return scrape(t);
  }

  private boolean scrape(Target t) {
    String error;
    try {
      HttpRequest req = HttpRequest.newBuilder(t.uri).timeout(timeout).header("Accept", "text/plain").GET().build();
      HttpResponse<InputStream> res = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
      try (InputStream body = res.body()) {
        if (res.statusCode() != 200) {
          error = "HTTP " + res.statusCode();
        } else {
          byte[] bytes = body.readNBytes(maxBodyBytes + 1);
          if (bytes.length > maxBodyBytes) {
            error = "body over " + maxBodyBytes + " bytes";
          } else {
            t.accept(new String(bytes, StandardCharsets.UTF_8), nanoTime.getAsLong());
            t.reporting = true;
            if (t.failing) {
              t.failing = false;
              log.info("metrics of upstream {} are readable again", t.replica.name());
            }
            return true;
          }
        }
      }
    } catch (IOException e) {
      error = e.toString();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      error = "interrupted";
    } catch (RuntimeException e) {
      // A bug in parsing must cost one scrape, not the scraper.
      error = e.toString();
    }
    failures.increment();
    t.failures.increment();
    if (!t.failing) {
      t.failing = true;
      log.warn("cannot scrape metrics of upstream {} at {}: {}; its load counts as saturated once stale", t.replica.name(), t.uri, error);
    } else {
      log.debug("metrics scrape of {} failed: {}", t.replica.name(), error);
    }
    return false;
  }

  @Override
  public void close() {
    if (task != null) {
      task.cancel(false);
    }
    scrapes.shutdownNow();
    http.shutdownNow();
  }

  /**
   * The prefix-cache hit rate over the last scrape interval from cumulative counters (vLLM), or
   * the server's own rate where it reports one (SGLang, old vLLM). Over the lifetime on the first
   * scrape and after a counter reset (a restarted server); unchanged when no prompt arrived since.
   */
  static final class HitRateWindow {
    private double lastQueries = Double.NaN;
    private double lastHits = Double.NaN;
    private double lastRate = Double.NaN;

    double next(EngineMetrics.Reading r) {
      if (!Double.isNaN(r.hitRate())) {
        return r.hitRate();
      }
      double q = r.prefixQueries();
      double h = r.prefixHits();
      if (Double.isNaN(q) || Double.isNaN(h)) {
        return Double.NaN;
      }
      double rate;
      if (Double.isNaN(lastQueries) || q < lastQueries || h < lastHits) {
        rate = q > 0 ? h / q : Double.NaN;
      } else if (q > lastQueries) {
        rate = (h - lastHits) / (q - lastQueries);
      } else {
        rate = lastRate;
      }
      lastQueries = q;
      lastHits = h;
      lastRate = rate;
      return rate;
    }
  }

  /** One replica's scrape state; fields other than load and inFlight are touched by one scrape at a time. */
  private static final class Target {
    final Replica replica;
    final URI uri;
    final AtomicBoolean inFlight = new AtomicBoolean();
    final LongAdder failures = new LongAdder();
    volatile EngineLoad load;
    volatile boolean reporting;
    volatile boolean failing;
    private final HitRateWindow hitRate = new HitRateWindow();

    Target(Replica replica, URI uri, long now) {
      this.replica = replica;
      this.uri = uri;
      this.load = EngineLoad.never(now);
    }

    synchronized void accept(String body, long now) {
      PrometheusText.Parsed parsed = PrometheusText.parse(body, EngineMetrics.NAMES::contains, MAX_SAMPLES);
      EngineMetrics.Reading r = EngineMetrics.read(parsed.samples());
      load = new EngineLoad(count(r.running()), count(r.waiting()), ratio(r.kvCacheUsage()), ratio(hitRate.next(r)), now, false);
    }

    private static int count(double v) {
      if (Double.isNaN(v)) {
        return -1;
      }
      return (int) Math.min(Integer.MAX_VALUE, Math.max(0, Math.round(v)));
    }

    private static double ratio(double v) {
      return Double.isNaN(v) ? Double.NaN : Math.clamp(v, 0.0, 1.0);
    }
  }
}
