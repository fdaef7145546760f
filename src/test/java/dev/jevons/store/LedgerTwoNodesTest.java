package dev.jevons.store;

import dev.jevons.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.billing.CreditKind;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.ReserveResult;
import dev.jevons.billing.SettleResult;
import java.time.Instant;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Two gateway nodes (two ledgers over two pools) on one PostgreSQL database hammer one account,
 * posting each other's reservations; the optimistic versions must keep every invariant.
 */
class LedgerTwoNodesTest {
  static final long HOLD = 7;

  @Test
  void two_nodes_on_one_hot_account_never_overspend_and_lose_no_update() throws Exception {
    try (TestDatabases.Scratch scratch = TestDatabases.scratchPostgres();
        Database db1 = scratch.open();
        Database db2 = scratch.open()) {
      MutableClock clock = new MutableClock(Instant.parse("2025-02-06T00:00:00Z"));
      Ledger[] nodes = {new Ledger(new SqlLedgerStore(db1), clock), new Ledger(new SqlLedgerStore(db2), clock)};
      nodes[0].credit("seed", "hot", CreditKind.TOPPED_UP, 3_000, null).join();
      AtomicLong ids = new AtomicLong();
      AtomicLong postedToCallers = new AtomicLong();
      AtomicLong credited = new AtomicLong(3_000);
      AtomicLong refused = new AtomicLong();
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 12; t++) {
        Random random = new Random(t);
        threads.add(Thread.ofPlatform().start(() -> {
          for (int i = 0; i < 80; i++) {
            String id = "r" + ids.incrementAndGet();
            if (random.nextInt(20) == 0) {
              nodes[random.nextInt(2)].credit("c" + id, "hot", CreditKind.TOPPED_UP, 5, null).join();
              credited.addAndGet(5);
              continue;
            }
            ReserveResult r = nodes[random.nextInt(2)].reserve(id, "hot", HOLD, Duration.ofMinutes(1)).join();
            if (r.reserved()) {
              SettleResult s = nodes[random.nextInt(2)].post(id, HOLD).join();
              assertThat(s.status()).isEqualTo(SettleResult.Status.POSTED);
              postedToCallers.addAndGet(s.postedNanos());
            } else {
              refused.incrementAndGet();
            }
          }
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      for (Ledger node : nodes) {
        node.close();
      }

      LedgerJournalAudit audit = LedgerJournalAudit.of(db1);
      assertThat(audit.postedDebitsNanos).isEqualTo(postedToCallers.get());
      assertThat(nodes[0].balance("hot").toppedUpNanos()).isEqualTo(credited.get() - postedToCallers.get()).isNotNegative();
      assertThat(refused.get()).as("reserves refused once the account ran dry").isPositive();
      assertThat(nodes[0].stats().retries() + nodes[1].stats().retries()).as("batches re-applied after a conflict").isPositive();
    }
  }
}
