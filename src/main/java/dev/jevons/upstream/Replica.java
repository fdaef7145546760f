package dev.jevons.upstream;

import dev.jevons.scheduler.Server;
import java.net.URI;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * One inference server as the pool sees it: where it is, what it serves, how much work Jevons has
 * sent it and whether it is currently trusted.
 *
 * <p>Health has two inputs: the active checker (a periodic {@code GET /v1/models}) and passive
 * outcomes of real requests. {@code failuresToEject} consecutive failures eject the replica for a
 * backoff that doubles with each ejection up to a maximum; when the backoff ends the replica is
 * tried again (half-open), and one success restores it fully.
 */
public final class Replica implements Server {
  private final String name;
  private final URI baseUrl;
  private final @Nullable String apiKey;
  private final int maxConcurrency;
  private final int weight;
  private final boolean discoverModels;
  private final double prefillTokensPerSecond;
  private volatile @Nullable MetricsScraper scraper;

  private volatile Set<String> models;
  private final AtomicInteger inFlight = new AtomicInteger();

  // Guarded by this: the ejection state machine.
  private int consecutiveFailures;
  private int ejections;
  private long ejectedUntilNanos;
  private boolean ejected;
  private volatile boolean healthy = true;
  private volatile @Nullable String lastError;

  Replica(
      String name, URI baseUrl, @Nullable String apiKey, List<String> models, int maxConcurrency, int weight, double prefillTokensPerSecond) {
    this.prefillTokensPerSecond = prefillTokensPerSecond;
    this.name = name;
    this.baseUrl = baseUrl;
    this.apiKey = apiKey;
    this.maxConcurrency = maxConcurrency;
    this.weight = weight;
    this.discoverModels = models.isEmpty();
    this.models = Set.copyOf(models);
  }

  @Override
  public String name() {
    return name;
  }

  public URI baseUrl() {
    return baseUrl;
  }

  @Nullable String apiKey() {
    return apiKey;
  }

  @Override
  public Set<String> models() {
    return models;
  }

  boolean discoversModels() {
    return discoverModels;
  }

  void models(Set<String> discovered) {
    this.models = Set.copyOf(discovered);
  }

  @Override
  public int inFlight() {
    return inFlight.get();
  }

  @Override
  public int maxConcurrency() {
    return maxConcurrency;
  }

  public int weight() {
    return weight;
  }

  public boolean healthy() {
    return healthy;
  }

  public @Nullable String lastError() {
    return lastError;
  }

  @Override
  public boolean hasRoom(long nowNanos) {
    return inFlight.get() < maxConcurrency && available(nowNanos) && !saturated(nowNanos);
  }

  @Override
  public double prefillTokensPerSecond() {
    return prefillTokensPerSecond;
  }

  void watchedBy(MetricsScraper scraper) {
    this.scraper = scraper;
  }

  /** The engine's own load as last scraped, if it reports metrics. */
  public Optional<EngineLoad> engineLoad() {
    MetricsScraper s = scraper;
    return s == null ? Optional.empty() : s.load(this);
  }

  /**
   * Saturated when the engine reports requests waiting in its own queue (Jevons keeps those
   * queues empty: requests wait in the fair queue instead), or when its metrics went stale, which
   * counts as saturated. A server that never reported metrics is judged by concurrency alone.
   */
  @Override
  public boolean saturated(long nowNanos) {
    MetricsScraper s = scraper;
    if (s == null || !s.reporting(this)) {
      return false;
    }
    EngineLoad load = s.load(this).orElse(null);
    return load == null || load.stale() || load.waitingRequests() > 0;
  }

  @Override
  public boolean tryAcquire(long nowNanos) {
    return available(nowNanos) && tryAcquire();
  }

  /** Takes one concurrency unit if the replica has room; the caller must {@link #release()}. */
  boolean tryAcquire() {
    while (true) {
      int now = inFlight.get();
      if (now >= maxConcurrency) {
        return false;
      }
      if (inFlight.compareAndSet(now, now + 1)) {
        return true;
      }
    }
  }

  @Override
  public void release() {
    inFlight.decrementAndGet();
  }

  /** Load per unit of weight, the quantity "least loaded" minimises. */
  @Override
  public double load() {
    return (double) inFlight.get() / weight;
  }

  synchronized boolean available(long nowNanos) {
    if (!healthy) {
      return false;
    }
    return !ejected || nowNanos - ejectedUntilNanos >= 0;
  }

  synchronized long ejectedForNanos(long nowNanos) {
    return ejected ? Math.max(0, ejectedUntilNanos - nowNanos) : 0;
  }

  synchronized void recordSuccess() {
    consecutiveFailures = 0;
    if (ejected) {
      ejected = false;
      ejections = 0;
    }
    lastError = null;
  }

  /** Returns true when this failure ejected the replica. */
  synchronized boolean recordFailure(String error, long nowNanos, long baseNanos, long maxNanos, int failuresToEject) {
    lastError = error;
    consecutiveFailures++;
    boolean halfOpenProbeFailed = ejected && nowNanos - ejectedUntilNanos >= 0;
    if (consecutiveFailures >= failuresToEject || halfOpenProbeFailed) {
      long backoff = Math.min(maxNanos, baseNanos << Math.min(ejections, 30));
      ejections++;
      ejected = true;
      ejectedUntilNanos = nowNanos + backoff;
      consecutiveFailures = 0;
      return true;
    }
    return false;
  }

  void healthCheckPassed() {
    healthy = true;
    recordSuccess();
  }

  void healthCheckFailed(String error) {
    healthy = false;
    lastError = error;
  }

  @Override
  public String toString() {
    return name + " (" + baseUrl + ")";
  }
}
