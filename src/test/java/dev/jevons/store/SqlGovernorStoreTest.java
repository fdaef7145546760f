package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.governor.DemandHour;
import dev.jevons.governor.Gate;
import dev.jevons.governor.GovernorEvent;
import dev.jevons.governor.GovernorStore;
import dev.jevons.governor.Mode;
import dev.jevons.governor.Signals;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SqlGovernorStoreTest {
  static final Instant T = Instant.parse("2025-02-06T08:00:00Z");
  @TempDir Path dir;

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void the_audit_log_keeps_every_event_with_its_signals_newest_first(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlGovernorStore store = new SqlGovernorStore(db);
      Signals tight = new Signals(T, 0.97, 41_200.5, 0.125, Double.POSITIVE_INFINITY, 1234);
      Signals shortRunway = new Signals(T, 0.5, 10, 0, 1.5, 7);
      store.append(new GovernorEvent("gev_1", T, Gate.TOP_UPS, GovernorEvent.Kind.TRANSITION, false, Mode.AUTO, "closed: tight", "governor", tight));
      store.append(new GovernorEvent("gev_2", T.plusSeconds(60), Gate.SIGNUPS, GovernorEvent.Kind.OVERRIDE, false, Mode.CLOSED, "invite only", "admin", null));
      store.append(new GovernorEvent("gev_3", T.plusSeconds(120), Gate.TOP_UPS, GovernorEvent.Kind.TRANSITION, true, Mode.AUTO, "reopened", "governor", shortRunway));

      List<GovernorEvent> all = store.events(null, 10);
      assertThat(all).extracting(GovernorEvent::id).containsExactly("gev_3", "gev_2", "gev_1");
      GovernorEvent closed = all.get(2);
      assertThat(closed.signals()).isEqualTo(tight);
      assertThat(closed.open()).isFalse();
      assertThat(all.get(1).signals()).isNull();
      assertThat(all.get(0).signals().runwayDays()).isEqualTo(1.5);
      assertThat(store.events(Gate.SIGNUPS, 10)).extracting(GovernorEvent::id).containsExactly("gev_2");
      assertThat(store.events(null, 1)).hasSize(1);
      assertThat(store.lastTransition(Gate.TOP_UPS).orElseThrow().id()).isEqualTo("gev_3");
      assertThat(store.lastTransition(Gate.SIGNUPS)).isEmpty();
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void an_override_replaces_the_previous_one_for_its_gate(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlGovernorStore store = new SqlGovernorStore(db);
      store.saveOverride(new GovernorStore.GateOverride(Gate.TOP_UPS, Mode.CLOSED, "surge", "Closed for now.", T, "alice"));
      store.saveOverride(new GovernorStore.GateOverride(Gate.TOP_UPS, Mode.AUTO, "over", null, T.plusSeconds(5), "bob"));
      store.saveOverride(new GovernorStore.GateOverride(Gate.SIGNUPS, Mode.OPEN, "launch", null, T, "alice"));
      assertThat(store.overrides())
          .containsExactlyInAnyOrder(
              new GovernorStore.GateOverride(Gate.TOP_UPS, Mode.AUTO, "over", null, T.plusSeconds(5), "bob"),
              new GovernorStore.GateOverride(Gate.SIGNUPS, Mode.OPEN, "launch", null, T, "alice"));
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void demand_adds_up_per_hour_across_writers(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlGovernorStore store = new SqlGovernorStore(db);
      Instant h9 = Instant.parse("2025-02-08T09:00:00Z");
      Instant h10 = Instant.parse("2025-02-08T10:00:00Z");
      store.addDemand(new DemandHour(h9, 10, 1, 30.5, 40));
      store.addDemand(new DemandHour(h9, 5, 2, 9.5, 40));
      store.addDemand(new DemandHour(h10, 7, 0, 1, 2));
      assertThat(store.demand(h9, h10)).containsExactly(new DemandHour(h9, 15, 3, 40, 80));
      assertThat(store.demand(h9, h10.plusSeconds(3600))).hasSize(2);
    }
  }
}
