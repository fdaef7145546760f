package dev.jevons.scheduler;

import java.util.HashMap;
import java.util.Map;

/**
 * Tokens completed per second per model over a sliding window of one-second buckets: the measured
 * service rate that turns "tokens waiting ahead" into a predicted wait. Deliberately simple: a
 * rate from the last {@code windowSeconds} of completions, zero (unknown) until any completed.
 * Until a model has a full window of history the rate is over the seconds it has (counted from
 * its first completion's second): dividing a few seconds of completions by the whole window
 * under-states the rate, and so over-states every wait, for the first half minute after a start.
 */
final class ServiceRate {
  private static final long SEC = 1_000_000_000L;
  private final int windowSeconds;
  private final Map<String, long[]> buckets = new HashMap<>();
  private final Map<String, long[]> bucketSeconds = new HashMap<>();
  private final Map<String, Long> firstSecond = new HashMap<>();

  ServiceRate(int windowSeconds) {
    this.windowSeconds = windowSeconds;
  }

  synchronized void record(String model, long tokens, long nowNanos) {
    long second = nowNanos / SEC;
    int i = (int) Math.floorMod(second, (long) windowSeconds);
    firstSecond.putIfAbsent(model, second);
    long[] b = buckets.computeIfAbsent(model, m -> new long[windowSeconds]);
    long[] s = bucketSeconds.computeIfAbsent(model, m -> new long[windowSeconds]);
    if (s[i] != second) {
      s[i] = second;
      b[i] = 0;
    }
    b[i] += tokens;
  }

  /** Tokens per second completed over the window ending now; 0 when nothing completed in it. */
  synchronized double tokensPerSecond(String model, long nowNanos) {
    long[] b = buckets.get(model);
    if (b == null) {
      return 0;
    }
    long[] s = bucketSeconds.get(model);
    long second = nowNanos / SEC;
    long sum = 0;
    for (int i = 0; i < windowSeconds; i++) {
      if (second - s[i] < windowSeconds) {
        sum += b[i];
      }
    }
    // The current second counts as a whole one: completions are in it, and a partial second would
    // inflate the rate right after the first completion.
    long history = Math.min(windowSeconds, second - firstSecond.get(model) + 1);
    return (double) sum / Math.max(1, history);
  }
}
