package dev.jevons.governor;

import java.time.Instant;
import java.util.Locale;

/**
 * The capacity signals the automatic policy judges, measured over the governor's window.
 *
 * @param utilization busy share of the fleet's slots, 0..1
 * @param queueWaitP95Millis 95th percentile of the time requests waited in the queue
 * @param shedRate share of the requests reaching admission that were shed, 0..1
 * @param runwayDays days until the demand trend exceeds capacity; infinite without a rising trend
 * @param requests requests that reached admission in the window (how much evidence there is)
 */
public record Signals(Instant at, double utilization, double queueWaitP95Millis, double shedRate, double runwayDays, long requests) {

  /** For messages and the audit log: "utilization 97%, p95 queue wait 41.2 s, shed 12.0%, runway 5.0 days". */
  public String describe() {
    return String.format(
        Locale.ROOT,
        "utilization %.0f%%, p95 queue wait %.1f s, shed %.1f%% of %d requests, runway %s",
        utilization * 100,
        queueWaitP95Millis / 1000,
        shedRate * 100,
        requests,
        Double.isInfinite(runwayDays) ? "unbounded" : String.format(Locale.ROOT, "%.1f days", runwayDays));
  }
}
