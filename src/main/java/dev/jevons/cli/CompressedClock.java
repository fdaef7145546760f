package dev.jevons.cli;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.function.LongSupplier;

/**
 * The demo's business calendar: stands still at {@code start} until {@link #begin}, then runs
 * {@code speed} times faster than real time (720 = a day in two minutes). Prices, discount windows,
 * the governor's dwell times and the hourly demand history follow it; request-level timing (queue
 * deadlines, timeouts) stays on real time (see {@link JevonsApp#start(dev.jevons.config.JevonsConfig, Clock)}).
 * Thread-safe: the origin is published once through a volatile field.
 */
final class CompressedClock extends Clock {
  private final Instant start;
  private final double speed;
  private final LongSupplier nanoTime;
  private volatile long originNanos = Long.MIN_VALUE;

  CompressedClock(Instant start, double speed, LongSupplier nanoTime) {
    if (!(speed > 0) || Double.isInfinite(speed)) {
      throw new IllegalArgumentException("speed must be a positive finite number: " + speed);
    }
    this.start = start;
    this.speed = speed;
    this.nanoTime = nanoTime;
  }

  /** Starts the calendar now; later calls change nothing. */
  synchronized void begin() {
    if (originNanos == Long.MIN_VALUE) {
      originNanos = nanoTime.getAsLong();
    }
  }

  double speed() {
    return speed;
  }

  Instant start() {
    return start;
  }

  @Override
  public Instant instant() {
    long origin = originNanos;
    if (origin == Long.MIN_VALUE) {
      return start;
    }
    long elapsedNanos = nanoTime.getAsLong() - origin;
    return start.plusNanos(Math.round(elapsedNanos * speed));
  }

  /** Real time that {@code demo} of demo time takes. */
  Duration realTime(Duration demo) {
    return Duration.ofNanos(Math.round(demo.toNanos() / speed));
  }

  /** Real nanoTime at which the calendar reads {@code at} (in the past if it already has). */
  long nanoTimeAt(Instant at) {
    long origin = originNanos;
    if (origin == Long.MIN_VALUE) {
      throw new IllegalStateException("the calendar has not begun");
    }
    return origin + Math.round(Duration.between(start, at).toNanos() / speed);
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    throw new UnsupportedOperationException("the demo calendar is UTC");
  }
}
