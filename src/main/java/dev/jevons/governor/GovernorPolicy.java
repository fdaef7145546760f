package dev.jevons.governor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * When the automatic policy closes and reopens the gates.
 *
 * <p><b>Pressure</b> (counts towards closing): the fleet is full, {@code utilization >=
 * close.utilization}, <em>and</em> customers feel it, {@code p95 queue wait >= close} or
 * {@code shed rate >= close}; or the capacity runway is short, {@code runway <= close.runway}.
 * Utilization is the precondition because long waits on a fleet with idle slots mean something
 * other than too little capacity (a model with no healthy replica), which closing top-ups would
 * not fix.
 *
 * <p><b>Relief</b> (counts towards reopening): the runway is long, {@code runway >
 * reopen.runway}, and either the fleet has slack, {@code utilization < reopen.utilization}, or
 * customers do not feel the load, {@code p95 wait < reopen} and {@code shed < reopen}. The reopen
 * thresholds are strictly better than the close ones (validated), so relief excludes pressure;
 * signals between the two are neither and keep a gate as it is: that band plus the dwell times is
 * the hysteresis that stops flapping.
 */
public record GovernorPolicy(
    Thresholds close,
    Thresholds reopen,
    Duration closeDwell,
    Duration reopenDwell,
    Duration manualRetryAfter,
    Map<Gate, String> messages) {

  public record Thresholds(double utilization, double queueWaitP95Millis, double shedRate, double runwayDays) {}

  public GovernorPolicy {
    messages = Map.copyOf(messages);
    List<String> problems = problems(close, reopen);
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("; ", problems));
    }
    for (Gate g : Gate.values()) {
      if (!messages.containsKey(g)) {
        throw new IllegalArgumentException("no message for gate " + g.id());
      }
    }
  }

  /** What makes a pair of thresholds unusable: reopening must demand strictly better signals. */
  public static List<String> problems(Thresholds close, Thresholds reopen) {
    List<String> out = new ArrayList<>();
    if (!(reopen.utilization < close.utilization)) {
      out.add("reopen utilization " + reopen.utilization + " must be below close utilization " + close.utilization);
    }
    if (!(reopen.queueWaitP95Millis < close.queueWaitP95Millis)) {
      out.add("reopen queue wait " + reopen.queueWaitP95Millis + " ms must be below close queue wait " + close.queueWaitP95Millis + " ms");
    }
    if (!(reopen.shedRate < close.shedRate)) {
      out.add("reopen shed rate " + reopen.shedRate + " must be below close shed rate " + close.shedRate);
    }
    if (!(reopen.runwayDays > close.runwayDays)) {
      out.add("reopen runway " + reopen.runwayDays + " days must exceed close runway " + close.runwayDays + " days");
    }
    return out;
  }

  public static final String DEFAULT_TOP_UPS_MESSAGE =
      "Top-ups are temporarily suspended because server capacity is tight. Existing balances can still be used.";
  public static final String DEFAULT_SIGNUPS_MESSAGE =
      "Sign-ups are temporarily suspended because server capacity is tight. Please try again later.";

  /** The defaults of the configuration reference (README). */
  public static GovernorPolicy defaults() {
    Map<Gate, String> messages = new EnumMap<>(Gate.class);
    messages.put(Gate.TOP_UPS, DEFAULT_TOP_UPS_MESSAGE);
    messages.put(Gate.SIGNUPS, DEFAULT_SIGNUPS_MESSAGE);
    return new GovernorPolicy(
        new Thresholds(0.90, 30_000, 0.05, 2),
        new Thresholds(0.75, 5_000, 0.01, 7),
        Duration.ofMinutes(10),
        Duration.ofMinutes(30),
        Duration.ofHours(1),
        messages);
  }

  /** The reasons the signals count towards closing, e.g. "p95 queue wait 41.2 s >= 30.0 s"; empty when they do not. */
  public List<String> pressure(Signals s) {
    List<String> out = new ArrayList<>();
    if (s.utilization() >= close.utilization) {
      String full = String.format(Locale.ROOT, "utilization %.0f%% >= %.0f%%", s.utilization() * 100, close.utilization * 100);
      if (s.queueWaitP95Millis() >= close.queueWaitP95Millis) {
        out.add(full + String.format(Locale.ROOT, " with p95 queue wait %.1f s >= %.1f s", s.queueWaitP95Millis() / 1000, close.queueWaitP95Millis / 1000));
      }
      if (s.shedRate() >= close.shedRate) {
        out.add(full + String.format(Locale.ROOT, " with %.1f%% shed >= %.1f%%", s.shedRate() * 100, close.shedRate * 100));
      }
    }
    if (s.runwayDays() <= close.runwayDays) {
      out.add(String.format(Locale.ROOT, "capacity runway %.1f days <= %.1f days", s.runwayDays(), close.runwayDays));
    }
    return out;
  }

  public boolean relief(Signals s) {
    boolean slack = s.utilization() < reopen.utilization;
    boolean unfelt = s.queueWaitP95Millis() < reopen.queueWaitP95Millis && s.shedRate() < reopen.shedRate;
    return s.runwayDays() > reopen.runwayDays && (slack || unfelt);
  }

  public String message(Gate gate) {
    return messages.get(gate);
  }
}
