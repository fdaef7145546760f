package dev.jevons.governor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GovernorTest {
  static final Instant T0 = Instant.parse("2025-02-06T08:00:00Z");
  final MutableClock clock = new MutableClock(T0);
  final InMemoryGovernorStore store = new InMemoryGovernorStore();
  final GovernorPolicy policy = GovernorPolicy.defaults(); // close after 10 min of pressure, reopen after 30 min of relief

  static final double UNBOUNDED = Double.POSITIVE_INFINITY;

  Signals tight() {
    return new Signals(clock.instant(), 0.99, 45_000, 0.20, UNBOUNDED, 1000);
  }

  Signals calm() {
    return new Signals(clock.instant(), 0.50, 200, 0.0, UNBOUNDED, 1000);
  }

  /** Between the close and the reopen thresholds: neither pressure nor relief. */
  Signals middling() {
    return new Signals(clock.instant(), 0.85, 10_000, 0.02, UNBOUNDED, 1000);
  }

  void run(Governor g, java.util.function.Supplier<Signals> signals, Duration total) {
    Duration step = Duration.ofSeconds(5);
    for (Duration d = Duration.ZERO; d.compareTo(total) < 0; d = d.plus(step)) {
      clock.advance(step);
      g.evaluate(signals.get());
    }
  }

  @Test
  void gates_start_open_and_let_top_ups_through() {
    Governor g = new Governor(policy, store, clock);
    assertThat(g.status()).allSatisfy(s -> {
      assertThat(s.open()).isTrue();
      assertThat(s.mode()).isEqualTo(Mode.AUTO);
    });
    g.check(Gate.TOP_UPS);
    g.check(Gate.SIGNUPS);
  }

  @Test
  void closes_only_after_pressure_lasts_the_close_dwell() {
    Governor g = new Governor(policy, store, clock);
    run(g, this::tight, Duration.ofMinutes(9).plusSeconds(55));
    assertThat(g.isOpen(Gate.TOP_UPS)).isTrue();
    run(g, this::tight, Duration.ofSeconds(10));
    assertThat(g.isOpen(Gate.TOP_UPS)).isFalse();
    assertThat(g.isOpen(Gate.SIGNUPS)).isFalse();
    GovernorEvent closed = store.transitions(Gate.TOP_UPS).getFirst();
    assertThat(closed.open()).isFalse();
    assertThat(closed.actor()).isEqualTo("governor");
    assertThat(closed.signals()).isNotNull();
    assertThat(closed.signals().queueWaitP95Millis()).isEqualTo(45_000);
    assertThat(closed.reason()).contains("p95 queue wait 45.0 s >= 30.0 s").contains("10 min");
  }

  @Test
  void a_closed_gate_refuses_with_the_message_and_the_time_left_of_the_reopen_dwell() {
    Governor g = new Governor(policy, store, clock);
    run(g, this::tight, Duration.ofMinutes(11));
    assertThatThrownBy(() -> g.check(Gate.TOP_UPS))
        .isInstanceOfSatisfying(GateClosedException.class, e -> {
          assertThat(e.gate()).isEqualTo(Gate.TOP_UPS);
          assertThat(e.getMessage()).isEqualTo(GovernorPolicy.DEFAULT_TOP_UPS_MESSAGE);
          assertThat(e.retryAfter()).isEqualTo(Duration.ofMinutes(30));
        });
    run(g, this::calm, Duration.ofMinutes(10));
    assertThatThrownBy(() -> g.check(Gate.TOP_UPS))
        .isInstanceOfSatisfying(GateClosedException.class, e -> assertThat(e.retryAfter()).isBetween(Duration.ofMinutes(20), Duration.ofMinutes(21)));
  }

  @Test
  void one_calm_sample_restarts_the_close_dwell() {
    Governor g = new Governor(policy, store, clock);
    run(g, this::tight, Duration.ofMinutes(8));
    run(g, this::calm, Duration.ofSeconds(5));
    run(g, this::tight, Duration.ofMinutes(8));
    assertThat(g.isOpen(Gate.TOP_UPS)).isTrue();
    run(g, this::tight, Duration.ofMinutes(3));
    assertThat(g.isOpen(Gate.TOP_UPS)).isFalse();
  }

  @Test
  void reopens_only_after_relief_lasts_the_reopen_dwell_and_middling_signals_hold_it_closed() {
    Governor g = new Governor(policy, store, clock);
    run(g, this::tight, Duration.ofMinutes(11));
    // Better than the close thresholds but not good enough to reopen: hysteresis holds it closed.
    run(g, this::middling, Duration.ofHours(3));
    assertThat(g.isOpen(Gate.TOP_UPS)).isFalse();
    run(g, this::calm, Duration.ofMinutes(29));
    assertThat(g.isOpen(Gate.TOP_UPS)).isFalse();
    run(g, this::calm, Duration.ofMinutes(2));
    assertThat(g.isOpen(Gate.TOP_UPS)).isTrue();
    assertThat(store.transitions(Gate.TOP_UPS)).extracting(GovernorEvent::open).containsExactly(false, true);
    assertThat(store.transitions(Gate.TOP_UPS).get(1).reason()).startsWith("reopened automatically");
  }

  @Test
  void utilization_alone_does_not_close_a_gate_nor_waits_on_an_idle_fleet() {
    Governor g = new Governor(policy, store, clock);
    run(g, () -> new Signals(clock.instant(), 1.0, 100, 0.0, UNBOUNDED, 1000), Duration.ofHours(2));
    run(g, () -> new Signals(clock.instant(), 0.3, 120_000, 0.5, UNBOUNDED, 1000), Duration.ofHours(2));
    assertThat(g.isOpen(Gate.TOP_UPS)).isTrue();
    assertThat(store.events).isEmpty();
  }

  @Test
  void a_short_runway_closes_the_gates_even_on_a_calm_day() {
    Governor g = new Governor(policy, store, clock);
    run(g, () -> new Signals(clock.instant(), 0.5, 100, 0, 1.5, 1000), Duration.ofMinutes(11));
    assertThat(g.isOpen(Gate.TOP_UPS)).isFalse();
    assertThat(store.transitions(Gate.TOP_UPS).getFirst().reason()).contains("capacity runway 1.5 days <= 2.0 days");
  }

  @Test
  void noisy_signals_around_the_close_threshold_never_flap_the_gates() {
    Governor g = new Governor(policy, store, clock);
    Random random = new Random(7);
    // Each sample is tight or calm at random: the longest pressure streak in 24 h of 5 s samples
    // is far below 10 minutes (120 samples), so nothing may close.
    run(g, () -> random.nextBoolean() ? tight() : calm(), Duration.ofHours(24));
    assertThat(store.events).isEmpty();
    // Closed, then random middling/tight noise: relief never lasts, so it never reopens.
    run(g, this::tight, Duration.ofMinutes(11));
    run(g, () -> random.nextInt(4) == 0 ? calm() : middling(), Duration.ofHours(24));
    assertThat(store.transitions(Gate.TOP_UPS)).hasSize(1);
  }

  @Test
  void an_operator_closes_a_gate_at_once_and_the_policy_cannot_reopen_it() {
    Governor g = new Governor(policy, store, clock);
    GateStatus s = g.override(Gate.TOP_UPS, Mode.CLOSED, "fleet maintenance", "Back after the upgrade.", "alice");
    assertThat(s.open()).isFalse();
    assertThat(s.reason()).isEqualTo("forced closed by alice: fleet maintenance");
    assertThat(s.retryAfter()).isEqualTo(Duration.ofHours(1));
    assertThatThrownBy(() -> g.check(Gate.TOP_UPS)).hasMessage("Back after the upgrade.");
    run(g, this::calm, Duration.ofHours(2));
    assertThat(g.isOpen(Gate.TOP_UPS)).isFalse();
    assertThat(g.isOpen(Gate.SIGNUPS)).isTrue();
    assertThat(store.events).extracting(GovernorEvent::kind).containsExactly(GovernorEvent.Kind.OVERRIDE, GovernorEvent.Kind.TRANSITION);
  }

  @Test
  void auto_hands_a_forced_gate_back_to_the_policy_keeping_its_state() {
    Governor g = new Governor(policy, store, clock);
    g.override(Gate.TOP_UPS, Mode.CLOSED, "surge", null, "alice");
    clock.advance(Duration.ofMinutes(5));
    GateStatus s = g.override(Gate.TOP_UPS, Mode.AUTO, "let the policy decide", null, "alice");
    assertThat(s.open()).isFalse();
    assertThat(s.mode()).isEqualTo(Mode.AUTO);
    run(g, this::calm, Duration.ofMinutes(31));
    assertThat(g.isOpen(Gate.TOP_UPS)).isTrue();
  }

  @Test
  void forcing_open_keeps_a_gate_open_through_pressure() {
    Governor g = new Governor(policy, store, clock);
    g.override(Gate.SIGNUPS, Mode.OPEN, "launch day", null, "bob");
    run(g, this::tight, Duration.ofHours(1));
    assertThat(g.isOpen(Gate.SIGNUPS)).isTrue();
    assertThat(g.isOpen(Gate.TOP_UPS)).isFalse();
  }

  @Test
  void a_restart_remembers_closed_gates_and_overrides() {
    Governor g = new Governor(policy, store, clock);
    run(g, this::tight, Duration.ofMinutes(11));
    g.override(Gate.SIGNUPS, Mode.CLOSED, "invite only", null, "alice");
    Instant closedAt = g.status(Gate.TOP_UPS).since();
    Governor restarted = new Governor(policy, store, clock);
    assertThat(restarted.isOpen(Gate.TOP_UPS)).isFalse();
    assertThat(restarted.status(Gate.TOP_UPS).since()).isEqualTo(closedAt);
    assertThat(restarted.status(Gate.TOP_UPS).mode()).isEqualTo(Mode.AUTO);
    assertThat(restarted.status(Gate.SIGNUPS).mode()).isEqualTo(Mode.CLOSED);
    assertThat(restarted.isOpen(Gate.SIGNUPS)).isFalse();
  }

  @Test
  void another_nodes_override_is_taken_on_refresh() {
    Governor here = new Governor(policy, store, clock);
    Governor there = new Governor(policy, store, clock);
    clock.advance(Duration.ofSeconds(1));
    there.override(Gate.TOP_UPS, Mode.CLOSED, "surge", null, "alice");
    assertThat(here.isOpen(Gate.TOP_UPS)).isTrue();
    here.refreshOverrides();
    assertThat(here.isOpen(Gate.TOP_UPS)).isFalse();
    assertThat(here.status(Gate.TOP_UPS).mode()).isEqualTo(Mode.CLOSED);
  }

  @Test
  void thresholds_that_would_flap_are_refused() {
    assertThat(GovernorPolicy.problems(
            new GovernorPolicy.Thresholds(0.9, 30_000, 0.05, 2), new GovernorPolicy.Thresholds(0.95, 30_000, 0.01, 2)))
        .hasSize(3)
        .anySatisfy(p -> assertThat(p).contains("reopen utilization 0.95 must be below close utilization 0.9"));
  }
}
