package dev.jevons.sim;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Draws each request's faults from (seed, arrival number): deterministic for a sequential client;
 * under concurrency the arrival order, and so which request gets which fault, may vary, but the
 * proportions hold.
 */
final class FaultInjector {
  record Decision(boolean error, boolean slowFirstByte, boolean disconnect) {
    static final Decision NONE = new Decision(false, false, false);
  }

  private final FaultPlan plan;
  private final long seed;
  private final AtomicLong arrivals = new AtomicLong();
  private final boolean active;

  FaultInjector(FaultPlan plan, long seed) {
    this.plan = plan;
    this.seed = seed;
    this.active = plan.errorRate() > 0 || plan.slowFirstByteRate() > 0 || plan.disconnectRate() > 0;
  }

  Decision next() {
    if (!active) return Decision.NONE;
    long k = arrivals.getAndIncrement();
    return new Decision(
        draw(k, 1) < plan.errorRate(),
        plan.slowFirstByteMillis() > 0 && draw(k, 2) < plan.slowFirstByteRate(),
        draw(k, 3) < plan.disconnectRate());
  }

  /** Uniform in [0, 1), independent per (request, kind). */
  private double draw(long k, int kind) {
    long r = PrefixCache.mix(PrefixCache.mix(seed + kind * 0x9E3779B97F4A7C15L) ^ k);
    return (r >>> 11) * 0x1.0p-53;
  }
}
