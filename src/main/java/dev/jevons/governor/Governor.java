package dev.jevons.governor;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * The gates' state machine. Implementation note:
 *
 * <ul>
 *   <li><b>Automatic mode.</b> Each {@link #evaluate} judges one sample of {@link Signals} with
 *       the {@link GovernorPolicy}. An open gate closes once every sample for {@code closeDwell}
 *       showed pressure; a closed gate reopens once every sample for {@code reopenDwell} showed
 *       relief. One sample that breaks the streak restarts it, and samples between pressure and
 *       relief hold a gate as it is, so noisy signals around one threshold cannot flap a gate.
 *   <li><b>Overrides.</b> An operator forces a gate {@code open} or {@code closed} (effective at
 *       once) or hands it back to {@code auto}, which keeps its current state and starts both
 *       streaks afresh. Overrides are stored, so they survive restarts and reach other nodes
 *       through {@link #refreshOverrides}; automatic decisions are each node's own, from its own
 *       signals (docs/decisions.md).
 *   <li><b>Audit.</b> Every transition and every override is appended to the store with the
 *       signals in force, before the new state is visible to {@link #check}.
 *   <li><b>Concurrency.</b> Writers synchronize on this; {@link #check}, on every top-up and
 *       sign-up, reads one volatile snapshot and takes no lock.
 * </ul>
 */
public final class Governor {
  private static final System.Logger log = System.getLogger(Governor.class.getName());
  static final String AUTO_ACTOR = "governor";

  private final GovernorPolicy policy;
  private final GovernorStore store;
  private final Clock clock;
  private final Map<Gate, State> states = new EnumMap<>(Gate.class);
  private volatile Map<Gate, GateStatus> published;
  private volatile @Nullable Signals lastSignals;
  private long sequence;

  /** Mutable per-gate state; only touched under the governor's lock. */
  private static final class State {
    boolean open = true;
    Mode mode = Mode.AUTO;
    Instant since;
    String reason = "open since start";
    @Nullable String overrideMessage;
    @Nullable Instant overrideAt;
    @Nullable Instant pressureSince;
    @Nullable Instant reliefSince;

    State(Instant since) {
      this.since = since;
    }
  }

  /** Starts every gate open in auto mode, then restores what the store remembers. */
  public Governor(GovernorPolicy policy, GovernorStore store, Clock clock) {
    this.policy = policy;
    this.store = store;
    this.clock = clock;
    Instant now = clock.instant();
    for (Gate g : Gate.values()) {
      State s = new State(now);
      Optional<GovernorEvent> last = store.lastTransition(g);
      if (last.isPresent()) {
        s.open = last.get().open();
        s.since = last.get().at();
        s.reason = last.get().reason();
      }
      states.put(g, s);
    }
    for (GovernorStore.GateOverride o : store.overrides()) {
      applyOverride(states.get(o.gate()), o);
    }
    publish();
  }

  public GovernorPolicy policy() {
    return policy;
  }

  /** Records a sample without judging it: the automatic policy is off, the signals still shown. */
  public void observe(Signals signals) {
    lastSignals = signals;
  }

  /** Judges one sample of the signals; may open or close gates in auto mode. */
  public synchronized void evaluate(Signals signals) {
    lastSignals = signals;
    Instant now = signals.at();
    List<String> pressure = policy.pressure(signals);
    boolean relief = policy.relief(signals);
    boolean changed = false;
    for (Gate g : Gate.values()) {
      State s = states.get(g);
      if (s.mode != Mode.AUTO) {
        continue;
      }
      if (s.open) {
        s.reliefSince = null;
        if (pressure.isEmpty()) {
          s.pressureSince = null;
          continue;
        }
        if (s.pressureSince == null) {
          s.pressureSince = now;
        }
        if (!Duration.between(s.pressureSince, now).minus(policy.closeDwell()).isNegative()) {
          transition(g, s, false, now, "closed automatically: " + String.join("; ", pressure) + " for " + human(policy.closeDwell()), AUTO_ACTOR, signals);
          changed = true;
        }
      } else {
        s.pressureSince = null;
        if (!relief) {
          s.reliefSince = null;
          continue;
        }
        if (s.reliefSince == null) {
          s.reliefSince = now;
        }
        if (!Duration.between(s.reliefSince, now).minus(policy.reopenDwell()).isNegative()) {
          transition(g, s, true, now, "reopened automatically: capacity recovered (" + signals.describe() + ") for " + human(policy.reopenDwell()), AUTO_ACTOR, signals);
          changed = true;
        }
      }
    }
    // Retry-After estimates depend on the streaks, so republish even without a transition.
    publish();
    if (changed) {
      log.log(System.Logger.Level.INFO, "gates now: {0}", published.values());
    }
  }

  /**
   * Forces a gate open or closed, or hands it back to the policy. {@code message} replaces the
   * configured message refused customers see (null keeps it).
   */
  public synchronized GateStatus override(Gate gate, Mode mode, String reason, @Nullable String message, String actor) {
    Instant now = clock.instant();
    GovernorStore.GateOverride o = new GovernorStore.GateOverride(gate, mode, reason, message, now, actor);
    store.saveOverride(o);
    State s = states.get(gate);
    boolean wasOpen = s.open;
    store.append(new GovernorEvent(newId(), now, gate, GovernorEvent.Kind.OVERRIDE, mode == Mode.AUTO ? wasOpen : mode == Mode.OPEN, mode, reason, actor, lastSignals));
    applyOverride(s, o);
    if (s.open != wasOpen) {
      store.append(new GovernorEvent(newId(), now, gate, GovernorEvent.Kind.TRANSITION, s.open, mode, s.reason, actor, lastSignals));
    }
    publish();
    return published.get(gate);
  }

  /** Takes overrides made on other nodes (read from the store) into this node's gates. */
  public synchronized void refreshOverrides() {
    boolean changed = false;
    for (GovernorStore.GateOverride o : store.overrides()) {
      State s = states.get(o.gate());
      if (s.overrideAt == null || o.at().isAfter(s.overrideAt)) {
        applyOverride(s, o);
        changed = true;
      }
    }
    if (changed) {
      publish();
    }
  }

  private void applyOverride(State s, GovernorStore.GateOverride o) {
    s.mode = o.mode();
    s.overrideAt = o.at();
    s.overrideMessage = o.message();
    s.pressureSince = null;
    s.reliefSince = null;
    boolean target = switch (o.mode()) {
      case OPEN -> true;
      case CLOSED -> false;
      case AUTO -> s.open;
    };
    if (target != s.open) {
      s.open = target;
      s.since = o.at();
    }
    String who = o.actor().isBlank() ? "an operator" : o.actor();
    s.reason = switch (o.mode()) {
      case OPEN -> "forced open by " + who + ": " + o.reason();
      case CLOSED -> "forced closed by " + who + ": " + o.reason();
      case AUTO -> "automatic since " + o.at() + " (" + who + ": " + o.reason() + "); " + (s.open ? "open" : "closed");
    };
  }

  private void transition(Gate g, State s, boolean open, Instant now, String reason, String actor, Signals signals) {
    store.append(new GovernorEvent(newId(), now, g, GovernorEvent.Kind.TRANSITION, open, s.mode, reason, actor, signals));
    s.open = open;
    s.since = now;
    s.reason = reason;
    s.pressureSince = null;
    s.reliefSince = null;
  }

  private void publish() {
    Map<Gate, GateStatus> out = new EnumMap<>(Gate.class);
    Instant now = clock.instant();
    for (Gate g : Gate.values()) {
      State s = states.get(g);
      String message = s.open ? null : (s.overrideMessage != null ? s.overrideMessage : policy.message(g));
      out.put(g, new GateStatus(g, s.open, s.mode, s.since, s.reason, message, s.open ? null : retryAfter(s, now)));
    }
    published = out;
  }

  /**
   * What a refused customer is told to wait: a forced close, the configured estimate; an automatic
   * one, the rest of the reopen dwell if relief has begun, else the whole dwell. At least a second.
   */
  private Duration retryAfter(State s, Instant now) {
    Duration d;
    if (s.mode == Mode.CLOSED) {
      d = policy.manualRetryAfter();
    } else if (s.reliefSince != null) {
      d = policy.reopenDwell().minus(Duration.between(s.reliefSince, now));
    } else {
      d = policy.reopenDwell();
    }
    return d.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : d;
  }

  /** Refuses with {@link GateClosedException} while the gate is closed. Lock-free. */
  public void check(Gate gate) {
    GateStatus s = published.get(gate);
    if (!s.open()) {
      throw new GateClosedException(gate, String.valueOf(s.message()), s.retryAfter() == null ? Duration.ofSeconds(60) : s.retryAfter());
    }
  }

  public boolean isOpen(Gate gate) {
    return published.get(gate).open();
  }

  public List<GateStatus> status() {
    return new ArrayList<>(published.values());
  }

  public GateStatus status(Gate gate) {
    return published.get(gate);
  }

  public Optional<Signals> lastSignals() {
    return Optional.ofNullable(lastSignals);
  }

  /** The hourly demand history with {@code from <= hour < to}, oldest first. */
  public List<DemandHour> demand(Instant from, Instant to) {
    return store.demand(from, to);
  }

  /** The audit log, newest first. */
  public List<GovernorEvent> events(@Nullable Gate gate, int limit) {
    return store.events(gate, limit);
  }

  /** Ordered by time, then by sequence within this process, so the log lists same-millisecond events in order. */
  private String newId() {
    return String.format("gev_%013d_%06d_%s", clock.millis(), sequence++ % 1_000_000, UUID.randomUUID().toString().substring(0, 8));
  }

  static String human(Duration d) {
    long s = d.toSeconds();
    if (s % 3600 == 0 && s >= 3600) {
      return (s / 3600) + " h";
    }
    if (s % 60 == 0 && s >= 60) {
      return (s / 60) + " min";
    }
    return d.toMillis() % 1000 == 0 ? s + " s" : d.toMillis() + " ms";
  }
}
