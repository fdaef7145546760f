package dev.jevons.store;

import dev.jevons.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.billing.CreditKind;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.LedgerStore;
import dev.jevons.billing.SettleResult;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node dies mid-load: one batch commits but its callers never hear of it, later batches never
 * reach the disk, the connection pool is dropped and the ledger abandoned. A new node on the same
 * SQLite file must bill every post that was answered, apply none twice (also when callers retry
 * what they never heard back about) and expire the dead node's holds.
 */
class LedgerDurabilityTest {
  static final long HOLD = 100;
  static final long COST = 60;
  static final long CREDIT = 1_000_000;

  @ParameterizedTest
  @EnumSource(Ledger.Mode.class)
  void answered_posts_survive_a_crash_none_is_applied_twice_and_dead_holds_expire(Ledger.Mode mode, @TempDir Path dir) throws Exception {
    TestDatabases.Scratch scratch = TestDatabases.scratchSqlite(dir);
    MutableClock clock = new MutableClock(Instant.parse("2025-02-06T00:00:00Z"));
    Database db = scratch.open();
    AtomicBoolean dead = new AtomicBoolean();
    AtomicBoolean dieAfterNextCommit = new AtomicBoolean();
    LedgerStore crashing = new Crashing(new SqlLedgerStore(db), dead, dieAfterNextCommit);
    Ledger ledger = new Ledger(crashing, clock, Ledger.Options.DEFAULTS, mode);
    ledger.credit("credit", "acct", CreditKind.TOPPED_UP, CREDIT, null).join();

    Set<String> answeredPosts = ConcurrentHashMap.newKeySet();
    Set<String> unanswered = ConcurrentHashMap.newKeySet();
    AtomicLong ids = new AtomicLong();
    List<Thread> clients = new ArrayList<>();
    for (int c = 0; c < 16; c++) {
      clients.add(Thread.ofVirtual().start(() -> {
        while (true) {
          String id = "r" + ids.incrementAndGet();
          try {
            if (!ledger.reserve(id, "acct", HOLD, Duration.ofMinutes(1)).join().reserved()) {
              throw new AssertionError("reserve refused");
            }
            SettleResult posted = ledger.post(id, COST).join();
            assertThat(posted.status()).isEqualTo(SettleResult.Status.POSTED);
            answeredPosts.add(id);
          } catch (RuntimeException e) {
            unanswered.add(id);
            return;
          }
        }
      }));
    }
    while (answeredPosts.size() < 300) {
      Thread.sleep(5);
    }
    // A request in flight at the crash: its hold is committed and never settled by this node.
    // (Without it, whether the crash catches a hold between reserve and post is a race.)
    assertThat(ledger.reserve("in-flight-at-crash", "acct", HOLD, Duration.ofMinutes(1)).join().reserved()).isTrue();
    ledger.flush().join(); // an exclusive ledger answers holds before writing them
    dieAfterNextCommit.set(true);
    for (Thread t : clients) {
      t.join();
    }
    db.close(); // the pool goes with the process; the ledger is abandoned, never closed

    try (Database reopened = scratch.open()) {
      LedgerJournalAudit audit = LedgerJournalAudit.of(reopened);
      assertThat(audit.postedByReservation).as("every answered post is on disk").containsKeys(answeredPosts.toArray(String[]::new));
      assertThat(audit.postedByReservation.size()).as("including the batch committed at the crash").isGreaterThan(answeredPosts.size());
      assertThat(audit.pendingReservations).as("the dead node's holds").isPositive();

      Ledger next = new Ledger(new SqlLedgerStore(reopened), clock, Ledger.Options.DEFAULTS, mode);
      for (String id : unanswered) {
        // Callers retry what they never heard back about; a post that was applied answers the same.
        SettleResult retried = next.post(id, COST).join();
        assertThat(retried.status()).isIn(SettleResult.Status.POSTED, SettleResult.Status.NOT_FOUND);
      }
      clock.advance(Duration.ofMinutes(2));
      while (next.expireDue(clock.instant()).join() > 0) {
        // sweep until nothing is due
      }
      next.close();

      LedgerJournalAudit after = LedgerJournalAudit.of(reopened);
      assertThat(after.pendingReservations).isZero();
      long posts = after.postedByReservation.size();
      assertThat(after.postedDebitsNanos).as("each post applied once").isEqualTo(posts * COST);
      assertThat(next.balance("acct").totalNanos()).isEqualTo(CREDIT - posts * COST);
      assertThat(next.balance("acct").reservedNanos()).isZero();
    }
  }

  /** Commits one last batch without telling anyone, then fails every write: a process dying. */
  private record Crashing(LedgerStore delegate, AtomicBoolean dead, AtomicBoolean dieAfterNextCommit) implements LedgerStore {
    @Override
    public Map<String, AccountRow> load(Collection<String> accountIds) {
      alive();
      return delegate.load(accountIds);
    }

    @Override
    public Map<String, ReservationRow> findReservations(Collection<String> reservationIds) {
      alive();
      return delegate.findReservations(reservationIds);
    }

    @Override
    public Map<String, EntryRow> findEntries(Collection<String> entryIds) {
      alive();
      return delegate.findEntries(entryIds);
    }

    @Override
    public List<String> accountsWithDue(long nowMillis, int limit) {
      alive();
      return delegate.accountsWithDue(nowMillis, limit);
    }

    private void alive() {
      if (dead.get()) {
        throw new IllegalStateException("the process is dead");
      }
    }

    @Override
    public void write(Batch batch) {
      alive();
      delegate.write(batch);
      if (dieAfterNextCommit.get() && batch.entries().stream().anyMatch(e -> e.id().startsWith("p:"))) {
        dead.set(true);
        throw new IllegalStateException("died after committing, before answering");
      }
    }
  }
}
