package dev.jevons.scheduler;

import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Cumulative capacity signals of the admission path, for whoever watches capacity over time (the
 * demand governor): requests that reached admission, requests shed, queue waits, and the fleet's
 * slot occupancy integrated over time.
 *
 * <p>Everything here only grows, so a reader takes {@link #totals()} now and again and subtracts
 * two snapshots to get any window it likes ({@link Totals#minus}); there is no window or timer in
 * this class and nothing to reset. Queue waits go into a fixed log-scale histogram (four buckets
 * per doubling, so a percentile read from it is within 19% of the true value), which can be
 * subtracted like the counters.
 */
public final class LoadSignals {
  /** Bucket i holds waits in [2^((i-1)/4), 2^(i/4)) ms; bucket 0 everything under 1 ms. */
  static final int WAIT_BUCKETS = 4 * 24 + 1;

  private final LongAdder arrivals = new LongAdder();
  private final LongAdder shed = new LongAdder();
  private final AtomicLongArray waits = new AtomicLongArray(WAIT_BUCKETS);
  private long lastOccupancyNanos = Long.MIN_VALUE;
  private double busySlotSeconds;
  private double slotSeconds;

  /** A request reached admission (before it is queued or refused). */
  public void arrived() {
    arrivals.increment();
  }

  /** A request was refused or dropped by admission: queue full, predicted wait, deadline, displaced. */
  public void shed() {
    shed.increment();
  }

  /** A request left the queue after waiting this long: dispatched, or dropped at its deadline. */
  public void waited(long waitNanos) {
    waits.incrementAndGet(bucketOf(waitNanos));
  }

  /**
   * Adds the time since the previous call, weighted by how many of the servers' slots were busy,
   * to the occupancy integral. Called on a steady timer; the first call only starts the clock.
   */
  public synchronized void sampleOccupancy(List<? extends Server> servers, long nowNanos) {
    int busy = 0;
    int total = 0;
    for (Server s : servers) {
      int max = Math.max(0, s.maxConcurrency());
      total += max;
      busy += Math.min(max, Math.max(0, s.inFlight()));
    }
    if (lastOccupancyNanos != Long.MIN_VALUE && nowNanos > lastOccupancyNanos) {
      double seconds = (nowNanos - lastOccupancyNanos) / 1e9;
      busySlotSeconds += busy * seconds;
      slotSeconds += total * seconds;
    }
    lastOccupancyNanos = nowNanos;
  }

  public Totals totals() {
    long[] w = new long[WAIT_BUCKETS];
    for (int i = 0; i < WAIT_BUCKETS; i++) {
      w[i] = waits.get(i);
    }
    synchronized (this) {
      return new Totals(arrivals.sum(), shed.sum(), w, busySlotSeconds, slotSeconds);
    }
  }

  static int bucketOf(long waitNanos) {
    double millis = waitNanos / 1e6;
    if (millis < 1) {
      return 0;
    }
    int i = (int) Math.floor(4 * Math.log(millis) / Math.log(2)) + 1;
    return Math.min(WAIT_BUCKETS - 1, i);
  }

  /** Upper bound, in ms, of bucket i. */
  static double bucketUpperMillis(int i) {
    return Math.pow(2, i / 4.0);
  }

  /**
   * Counts since start (or, after {@link #minus}, within a window). Occupancy is busy slot-seconds
   * over all slot-seconds, so a window's utilization weighs each moment by the fleet's size then.
   */
  public record Totals(long arrivals, long shed, long[] waitBuckets, double busySlotSeconds, double slotSeconds) {
    public static final Totals ZERO = new Totals(0, 0, new long[WAIT_BUCKETS], 0, 0);

    public Totals minus(Totals earlier) {
      long[] w = new long[WAIT_BUCKETS];
      for (int i = 0; i < WAIT_BUCKETS; i++) {
        w[i] = waitBuckets[i] - earlier.waitBuckets[i];
      }
      return new Totals(
          arrivals - earlier.arrivals, shed - earlier.shed, w, busySlotSeconds - earlier.busySlotSeconds, slotSeconds - earlier.slotSeconds);
    }

    public long waits() {
      long n = 0;
      for (long c : waitBuckets) {
        n += c;
      }
      return n;
    }

    /** Busy share of the fleet's slots; 0 when no time was sampled. */
    public double utilization() {
      return slotSeconds <= 0 ? 0 : Math.min(1.0, busySlotSeconds / slotSeconds);
    }

    /** Shed share of the requests that arrived; 0 when none arrived. */
    public double shedRate() {
      return arrivals <= 0 ? 0 : Math.min(1.0, (double) shed / arrivals);
    }

    /**
     * The wait at quantile q (0..1) of the requests that left the queue, in ms, as the upper bound of the
     * bucket that holds it (so it errs high); 0 when none left it.
     */
    public double waitMillisAt(double q) {
      long n = waits();
      if (n == 0) {
        return 0;
      }
      long rank = (long) Math.ceil(q * n);
      long seen = 0;
      for (int i = 0; i < WAIT_BUCKETS; i++) {
        seen += waitBuckets[i];
        if (seen >= rank) {
          return i == 0 ? 1 : bucketUpperMillis(i);
        }
      }
      return bucketUpperMillis(WAIT_BUCKETS - 1);
    }
  }
}
