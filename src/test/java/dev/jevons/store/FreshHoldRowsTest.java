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
 * as its usage record only when topped-up credit paid for it (the record is then the journal's
 * debit row), and as its debit entries and its usage record when a grant paid; every other hold
 * keeps its reservation row and its debit entry.
 */
class FreshHoldRowsTest {

  private static UsageRecord usage(String id) {
    return usage(id, "acct");
  }

  private static UsageRecord usage(String id, String accountId) {
    return new UsageRecord(id, accountId, "key", "sim-chat", null, 0, 10, 5, 0, "ok", 1_000, 20, 5);
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void a_request_hold_settled_in_its_batch_leaves_only_its_usage_record(
      TestDatabases.Kind kind, @TempDir Path dir) throws Exception {
    try (TestDatabases.Scratch scratch = TestDatabases.scratch(kind, dir);
        Database db = scratch.open()) {
      // Holds are written only with what waits for a commit (no 50 ms flush on a slow machine),
      // so each hold and its post share a batch.
      Ledger.Options sameBatch = new Ledger.Options(65_536, 2_048, 100_000, 10_000, 10, 60_000, 0, 0);
      try (Ledger ledger = new Ledger(new SqlLedgerStore(db), Clock.systemUTC(), sameBatch, Ledger.Mode.EXCLUSIVE)) {
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
        // Paid from a grant: the debit entry names the grant, so it keeps its row.
        ledger.credit("g1", "acct2", CreditKind.GRANTED, 1_000, java.time.Instant.now().plus(Duration.ofDays(1))).get(10, TimeUnit.SECONDS);
        ledger.credit("c2", "acct2", CreditKind.TOPPED_UP, 1_000, null).get(10, TimeUnit.SECONDS);
        assertThat(ledger.reserveNew("req4", "acct2", 1_500, Duration.ofMinutes(5)).get(10, TimeUnit.SECONDS).reserved()).isTrue();
        assertThat(ledger.post("req4", 1_200, usage("req4", "acct2")).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
        // A usage record that names another account cannot stand for the debit: the entry stays.
        assertThat(ledger.reserveNew("req5", "acct", 1_000, Duration.ofMinutes(5)).get(10, TimeUnit.SECONDS).reserved()).isTrue();
        assertThat(ledger.post("req5", 70, usage("req5", "acct2")).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
      }

      Set<String> reservations = new HashSet<>();
      Map<String, Long> entries = new HashMap<>();
      Map<String, Long> usageCosts = new HashMap<>();
      Map<String, Long> usageVersions = new HashMap<>();
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
        try (ResultSet rs = s.executeQuery("SELECT id, cost, account_version FROM usage_records")) {
          while (rs.next()) {
            usageCosts.put(rs.getString(1), rs.getLong(2));
            long version = rs.getLong(3);
            boolean none = rs.wasNull();
            usageVersions.put(rs.getString(1), none ? null : version);
          }
        }
      }
      assertThat(reservations).containsExactlyInAnyOrder("r2", "req3");
      assertThat(entries).containsEntry("p:r2:0", -100L).containsEntry("p:req3:0", -50L)
          .containsEntry("p:req4:0", -1_000L).containsEntry("p:req4:1", -200L).containsEntry("p:req5:0", -70L)
          .doesNotContainKeys("r:req1", "p:req1:0", "r:req4");
      assertThat(usageCosts).containsEntry("req1", 600L).containsEntry("req3", 50L).containsEntry("req4", 1_200L);
      assertThat(usageVersions.get("req1")).as("req1's usage record is its debit's journal row").isNotNull();
      assertThat(usageVersions).containsEntry("req3", null).containsEntry("req4", null).containsEntry("req5", null);
      // The journal as stored (entries and the usage record standing for req1's debit) adds up to
      // every account row, version by version.
      LedgerJournalAudit audit = LedgerJournalAudit.of(db);
      assertThat(audit.postedDebitsNanos).isEqualTo(600 + 100 + 50 + 1_200 + 70);
      assertThat(audit.postedByReservation).containsEntry("req1", 600L).containsEntry("req4", 1_200L);

      // After a restart the ledger has forgotten req1: a replay of its post answers NOT_FOUND and
      // changes nothing.
      try (Ledger again = new Ledger(new SqlLedgerStore(db), Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
        assertThat(again.post("req1", 600).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.NOT_FOUND);
        assertThat(again.balance("acct").availableNanos()).isEqualTo(1_000_000 - 600 - 100 - 50 - 70);
        assertThat(again.balance("acct").reservedNanos()).isZero();
      }
    }
  }
}
