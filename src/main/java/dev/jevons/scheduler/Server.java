package dev.jevons.scheduler;

import java.util.Set;

/**
 * An inference server as admission sees it. Implemented by the upstream pool's replicas, so the
 * domain decides without knowing how servers are reached.
 */
public interface Server {
  String name();

  Set<String> models();

  /** Whether it can start one more request now: healthy, not ejected, below its capacity. */
  boolean hasRoom(long nowNanos);

  /** Takes one unit of capacity if there is room; pair with {@link #release()}. */
  boolean tryAcquire(long nowNanos);

  void release();

  /** In-flight work per unit of weight; lower is less loaded. */
  double load();

  int inFlight();

  int maxConcurrency();

  /** How fast it prefills uncached prompt tokens, for the prefix router's spill-over rule. */
  double prefillTokensPerSecond();

  /** True when its own metrics say it cannot take more (stale metrics, a non-empty engine queue). */
  boolean saturated(long nowNanos);
}
