package dev.jevons.upstream;

import dev.jevons.config.JevonsConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inference servers Jevons forwards to, their health and their load.
 *
 * <p>Choice of replica: among the replicas that serve the model, are not ejected and have room
 * under their {@code max_concurrency}, the one with the least in-flight requests per unit of
 * weight; ties are broken at random so equal replicas share load. The scheduler replaces this with
 * load- and prefix-cache-aware routing; the pool keeps the membership and health it needs.
 */
public final class UpstreamPool implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(UpstreamPool.class);

  private final List<Replica> replicas;
  private final UpstreamClient client;
  private final JevonsConfig.UpstreamPolicy policy;
  private final LongSupplier nanoTime;
  private final ScheduledExecutorService scheduler;
  private @Nullable ScheduledFuture<?> healthTask;

  public UpstreamPool(
      List<JevonsConfig.Upstream> upstreams,
      JevonsConfig.UpstreamPolicy policy,
      UpstreamClient client,
      ScheduledExecutorService scheduler,
      LongSupplier nanoTime) {
    List<Replica> list = new ArrayList<>();
    for (JevonsConfig.Upstream u : upstreams) {
      list.add(new Replica(u.name(), u.baseUrl(), u.apiKey(), u.models(), u.maxConcurrency(), u.weight(), u.prefillTokensPerSecond()));
    }
    this.replicas = List.copyOf(list);
    this.policy = policy;
    this.client = client;
    this.scheduler = scheduler;
    this.nanoTime = nanoTime;
  }

  /**
   * Discovers models of replicas configured without a list (waiting at most the connect timeout
   * plus one second each) and starts the periodic health checks.
   */
  public void start() {
    for (Replica r : replicas) {
      check(r);
    }
    long every = policy.healthIntervalMillis();
    healthTask = scheduler.scheduleWithFixedDelay(this::checkAll, every, every, TimeUnit.MILLISECONDS);
  }

  void checkAll() {
    for (Replica r : replicas) {
      check(r);
    }
  }

  private void check(Replica r) {
    boolean wasHealthy = r.healthy();
    try {
      Set<String> listed = client.listModels(r, Duration.ofMillis(policy.connectTimeoutMillis() + 1000));
      if (r.discoversModels()) {
        r.models(listed);
      }
      r.healthCheckPassed();
      if (!wasHealthy) {
        log.info("upstream {} is healthy again", r.name());
      }
    } catch (UpstreamException e) {
      r.healthCheckFailed(e.getMessage() == null ? e.kind().toString() : e.getMessage());
      if (wasHealthy) {
        log.warn("upstream {} failed its health check: {}", r.name(), e.getMessage());
      }
    } catch (RuntimeException e) {
      // A health check must never kill the scheduler thread that runs all of them.
      r.healthCheckFailed(e.toString());
      log.warn("upstream {} health check crashed", r.name(), e);
    }
  }

  public List<Replica> replicas() {
    return replicas;
  }

  /** Every model some replica serves, healthy or not, sorted. */
  public Set<String> models() {
    Set<String> all = new TreeSet<>();
    for (Replica r : replicas) {
      all.addAll(r.models());
    }
    return all;
  }

  public boolean serves(String model) {
    for (Replica r : replicas) {
      if (r.models().contains(model)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Takes a slot on the least-loaded usable replica for {@code model}, skipping {@code tried}.
   * Empty when none is usable; {@link #whyUnavailable} then explains.
   */
  public Optional<Replica> acquire(String model, Set<Replica> tried) {
    long now = nanoTime.getAsLong();
    while (true) {
      Replica best = null;
      double bestLoad = Double.MAX_VALUE;
      int ties = 0;
      for (Replica r : replicas) {
        if (tried.contains(r) || !r.models().contains(model) || !r.available(now) || r.inFlight() >= r.maxConcurrency()) {
          continue;
        }
        double load = r.load();
        if (load < bestLoad) {
          best = r;
          bestLoad = load;
          ties = 1;
        } else if (load == bestLoad && ThreadLocalRandom.current().nextInt(++ties) == 0) {
          best = r;
        }
      }
      if (best == null) {
        return Optional.empty();
      }
      if (best.tryAcquire()) {
        return Optional.of(best);
      }
      // Lost a race for the last slot; look again with fresh counts.
    }
  }

  /** Why {@link #acquire} found nothing, with the state behind it, for the client's error. */
  public String whyUnavailable(String model, Set<Replica> tried) {
    long now = nanoTime.getAsLong();
    int serving = 0;
    int unhealthy = 0;
    int ejected = 0;
    int full = 0;
    long soonestNanos = Long.MAX_VALUE;
    for (Replica r : replicas) {
      if (!r.models().contains(model)) {
        continue;
      }
      serving++;
      if (!r.healthy()) {
        unhealthy++;
      } else if (!r.available(now)) {
        ejected++;
        soonestNanos = Math.min(soonestNanos, r.ejectedForNanos(now));
      } else if (r.inFlight() >= r.maxConcurrency()) {
        full++;
      }
    }
    StringBuilder why =
        new StringBuilder("no upstream can take a request for '").append(model).append("': ").append(serving).append(" serve it");
    if (!tried.isEmpty()) {
      why.append(", ").append(tried.size()).append(" failed for this request");
    }
    if (unhealthy > 0) {
      why.append(", ").append(unhealthy).append(" failing health checks");
    }
    if (ejected > 0) {
      why.append(", ").append(ejected).append(" ejected after errors (first back in ")
          .append(TimeUnit.NANOSECONDS.toMillis(soonestNanos)).append(" ms)");
    }
    if (full > 0) {
      why.append(", ").append(full).append(" at max_concurrency");
    }
    return why.toString();
  }

  /** True when every replica serving {@code model} is merely busy, not broken. */
  public boolean onlyBusy(String model) {
    long now = nanoTime.getAsLong();
    boolean any = false;
    for (Replica r : replicas) {
      if (r.models().contains(model)) {
        if (r.available(now) && r.inFlight() >= r.maxConcurrency()) {
          any = true;
        } else {
          return false;
        }
      }
    }
    return any;
  }

  public void release(Replica r) {
    r.release();
  }

  public void succeeded(Replica r) {
    r.recordSuccess();
  }

  public void failed(Replica r, UpstreamException e) {
    if (!e.countsAgainstReplica()) {
      return;
    }
    boolean ejected =
        r.recordFailure(
            String.valueOf(e.getMessage()),
            nanoTime.getAsLong(),
            TimeUnit.MILLISECONDS.toNanos(policy.ejectBaseMillis()),
            TimeUnit.MILLISECONDS.toNanos(policy.ejectMaxMillis()),
            policy.failuresToEject());
    if (ejected) {
      log.warn("upstream {} ejected after errors; last: {}", r.name(), e.getMessage());
    }
  }

  /** Starts scraping the metrics of the replicas configured to expose them. */
  public MetricsScraper scrapeMetrics(List<Replica> watched, java.time.Duration interval, ScheduledExecutorService timer) {
    MetricsScraper scraper =
        new MetricsScraper(watched, interval, interval.multipliedBy(4), java.time.Duration.ofSeconds(2), 4 << 20, timer, nanoTime);
    for (Replica r : watched) {
      r.watchedBy(scraper);
    }
    scraper.start();
    return scraper;
  }

  public UpstreamClient client() {
    return client;
  }

  @Override
  public void close() {
    if (healthTask != null) {
      healthTask.cancel(false);
    }
  }
}
