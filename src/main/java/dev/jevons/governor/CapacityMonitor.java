package dev.jevons.governor;

import dev.jevons.scheduler.LoadSignals;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.List;

/**
 * Turns the admission path's cumulative {@link LoadSignals} into the governor's {@link Signals}:
 * each {@link #sample} covers the last {@code windowSamples} samples (a sliding window of
 * snapshots), adds what happened since the previous sample to the hourly demand history in the
 * store, and projects the capacity runway from that history once per hour.
 *
 * <p>Fails open on the store: if the history cannot be written or read the signals are still
 * produced (a missing hour only weakens the runway trend and the off-peak proposals), and the
 * failure is logged.
 */
public final class CapacityMonitor {
  private static final System.Logger log = System.getLogger(CapacityMonitor.class.getName());
  /** How much history the runway trend is fitted to. */
  static final Duration RUNWAY_HISTORY = Duration.ofDays(14);

  private final LoadSignals load;
  private final GovernorStore store;
  private final Clock clock;
  private final int windowSamples;
  private final ArrayDeque<LoadSignals.Totals> window = new ArrayDeque<>();
  private LoadSignals.Totals previous;
  private double runwayDays = Double.POSITIVE_INFINITY;
  private Instant runwayHour = Instant.MIN;

  public CapacityMonitor(LoadSignals load, GovernorStore store, Clock clock, int windowSamples) {
    if (windowSamples < 1) {
      throw new IllegalArgumentException("windowSamples must be >= 1");
    }
    this.load = load;
    this.store = store;
    this.clock = clock;
    this.windowSamples = windowSamples;
    this.previous = load.totals();
    window.addLast(previous);
  }

  public synchronized Signals sample() {
    Instant now = clock.instant();
    LoadSignals.Totals totals = load.totals();
    // The window holds the snapshot taken windowSamples samples ago, and every one since.
    window.addLast(totals);
    while (window.size() > windowSamples + 1) {
      window.removeFirst();
    }
    LoadSignals.Totals w = totals.minus(window.peekFirst());
    LoadSignals.Totals delta = totals.minus(previous);
    previous = totals;
    Instant hour = now.truncatedTo(ChronoUnit.HOURS);
    if (delta.arrivals() != 0 || delta.slotSeconds() != 0) {
      try {
        store.addDemand(new DemandHour(hour, delta.arrivals(), delta.shed(), delta.busySlotSeconds(), delta.slotSeconds()));
      } catch (RuntimeException e) {
        log.log(System.Logger.Level.WARNING, "cannot record demand history; continuing without: " + e.getMessage());
      }
    }
    if (!hour.equals(runwayHour)) {
      runwayHour = hour;
      try {
        List<DemandHour> history = store.demand(hour.minus(RUNWAY_HISTORY), hour.plus(Duration.ofHours(1)));
        runwayDays = Runway.days(history, now);
      } catch (RuntimeException e) {
        log.log(System.Logger.Level.WARNING, "cannot read demand history; keeping the last runway: " + e.getMessage());
      }
    }
    return new Signals(now, w.utilization(), w.waitMillisAt(0.95), w.shedRate(), runwayDays, w.arrivals());
  }
}
