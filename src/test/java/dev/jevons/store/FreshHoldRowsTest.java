package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.billing.CreditKind;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.SettleResult;
import dev.jevons.billing.UsageRecord;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A gateway request's hold ({@code reserveNew}) that is made and settled in one batch is written
 * as its debit and its usage record only; every other hold keeps its reservation row.
 */
class FreshHoldRowsTest {

  private static UsageRecord usage(String id) {
    return new UsageRecord(id, "acct", "key", "sim-chat", null, 0, 10, 5, 0, "ok", 1_000, 20, 5);
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void a_request_hold_settled_in_its_batch_leaves_its_debit_and_usage_record_but_no_reservation_row(
      TestDatabases.Kind kind, @TempDir Path dir) throws Exception {
    try (TestDatabases.Scratch scratch = TestDatabases.scratch(kind, dir);
        Database db = scratch.open()) {
      try (Ledger ledger = new Ledger(new SqlLedgerStore(db), Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
        ledger.credit("c1", "acct", CreditKind.TOPPED_UP, 1_000_000, null).get(10, TimeUnit.SECONDS);
        // Held and posted before anything waits for a commit: one batch.
        assertThat(ledger.reserveNew("req1", "acct", 1_000, Duration.ofMinutes(5)).get(10, TimeUnit.SECONDS).reserved()).isTrue();
        assertThat(ledger.post("req1", 600, usage("req1")).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
        // A hold by a caller-chosen id keeps its row, so that a replayed reserve is answered.
        assertThat(ledger.reserve("r2", "acct", 1_000, Duration.ofMinutes(5)).get(10, TimeUnit.SECONDS).reserved()).isTrue();
        assertThat(ledger.post("r2", 100).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
        // A request hold written before its post (a flush in between) keeps its row too.
        assertThat(ledger.reserveNew("req3", "acct", 1_000, Duration.ofMinutes(5)).get(10, TimeUnit.SECONDS).reserved()).isTrue();
        ledger.flush().get(10, TimeUnit.SECONDS);
        assertThat(ledger.post("req3", 50, usage("req3")).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
        // While remembered, a replayed post answers its outcome.
        assertThat(ledger.post("req1", 600).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
      }

      Set<String> reservations = new HashSet<>();
      Map<String, Long> entries = new HashMap<>();
      Map<String, Long> usageCosts = new HashMap<>();
      try (Connection c = db.dataSource().getConnection();
          Statement s = c.createStatement()) {
        try (ResultSet rs = s.executeQuery("SELECT id FROM ledger_reservations")) {
          while (rs.next()) {
            reservations.add(rs.getString(1));
          }
        }
        try (ResultSet rs = s.executeQuery("SELECT id, amount FROM ledger_entries")) {
          while (rs.next()) {
            entries.put(rs.getString(1), rs.getLong(2));
          }
        }
        try (ResultSet rs = s.executeQuery("SELECT id, cost FROM usage_records")) {
          while (rs.next()) {
            usageCosts.put(rs.getString(1), rs.getLong(2));
          }
        }
      }
      assertThat(reservations).containsExactlyInAnyOrder("r2", "req3");
      assertThat(entries).containsEntry("p:req1:0", -600L).containsEntry("p:r2:0", -100L).containsEntry("p:req3:0", -50L)
          .doesNotContainKey("r:req1");
      assertThat(usageCosts).containsEntry("req1", 600L).containsEntry("req3", 50L);

      // After a restart the ledger has forgotten req1: a replay of its post answers NOT_FOUND and
      // changes nothing.
      try (Ledger again = new Ledger(new SqlLedgerStore(db), Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
        assertThat(again.post("req1", 600).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.NOT_FOUND);
        assertThat(again.balance("acct").availableNanos()).isEqualTo(1_000_000 - 600 - 100 - 50);
        assertThat(again.balance("acct").reservedNanos()).isZero();
      }
    }
  }
}
