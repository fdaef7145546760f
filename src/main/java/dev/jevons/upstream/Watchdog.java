package dev.jevons.upstream;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.LoggerFactory;

/**
 * Enforces first-byte and idle timeouts on upstream streams whose blocking reads have no timeout
 * of their own: one sweeper checks every watched stream each {@code resolutionMillis} and runs
 * its expiry action (closing the body, which unblocks the reader). One sweeper for all streams
 * keeps the cost per stream to one small object, which matters with thousands of open streams.
 */
public final class Watchdog implements AutoCloseable {
  private final LongSupplier nanoTime;
  private final Set<Watch> watched = ConcurrentHashMap.newKeySet();
  private final ScheduledFuture<?> sweeper;

  public Watchdog(ScheduledExecutorService scheduler, LongSupplier nanoTime, long resolutionMillis) {
    this.nanoTime = nanoTime;
    this.sweeper = scheduler.scheduleAtFixedRate(this::sweep, resolutionMillis, resolutionMillis, TimeUnit.MILLISECONDS);
  }

  public Watch watch(long timeoutNanos, Runnable onExpire) {
    Watch w = new Watch(onExpire);
    w.extend(timeoutNanos);
    watched.add(w);
    return w;
  }

  void sweep() {
    long now = nanoTime.getAsLong();
    for (Watch w : watched) {
      // Only the sweep that removes the watch fires it: a watch closed concurrently never fires.
      if (now - w.deadlineNanos >= 0 && watched.remove(w)) {
        w.expired = true;
        try {
          w.onExpire.run();
        } catch (RuntimeException e) {
          // One failing action must not stop the sweeper that every other stream relies on.
          LoggerFactory.getLogger(Watchdog.class).warn("a timeout action failed", e);
        }
      }
    }
  }

  @Override
  public void close() {
    sweeper.cancel(false);
  }

  public final class Watch implements AutoCloseable {
    private final Runnable onExpire;
    private volatile long deadlineNanos;
    private volatile boolean expired;

    private Watch(Runnable onExpire) {
      this.onExpire = onExpire;
    }

    /** Moves the deadline to {@code timeoutNanos} from now. */
    public void extend(long timeoutNanos) {
      deadlineNanos = nanoTime.getAsLong() + timeoutNanos;
    }

    public boolean expired() {
      return expired;
    }

    @Override
    public void close() {
      watched.remove(this);
    }
  }
}
