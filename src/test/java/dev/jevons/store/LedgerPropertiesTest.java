package dev.jevons.store;

import dev.jevons.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.billing.Balance;
import dev.jevons.billing.CreditKind;
import dev.jevons.billing.ExtendResult;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.ReserveResult;
import dev.jevons.billing.SettleResult;
import dev.jevons.billing.UsageRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random concurrent interleavings of every ledger operation on a few accounts, on real databases;
 * afterwards the stored rows are audited ({@link LedgerJournalAudit}) and compared with what the
 * callers were told.
 */
class LedgerPropertiesTest {
  static final String[] ACCOUNTS = {"a", "b", "c"};

  record Scenario(long seed, int threads, int opsPerThread) {}

  @Provide
  Arbitrary<Scenario> scenarios() {
    return Combinators.combine(Arbitraries.longs(), Arbitraries.integers().between(2, 6), Arbitraries.integers().between(10, 40))
        .as(Scenario::new);
  }

  @Property(tries = 5)
  void concurrent_operations_keep_every_invariant_on_sqlite(@ForAll("scenarios") Scenario scenario) throws Exception {
    Path dir = Files.createTempDirectory("ledger-prop");
    try (Database db = TestDatabases.sqlite(dir)) {
      check(db, scenario, Ledger.Mode.SHARED);
    }
  }

  @Property(tries = 5)
  void concurrent_operations_keep_every_invariant_on_postgresql(@ForAll("scenarios") Scenario scenario) throws Exception {
    try (Database db = TestDatabases.postgres()) {
      check(db, scenario, Ledger.Mode.SHARED);
    }
  }

  @Property(tries = 5)
  void concurrent_operations_keep_every_invariant_on_an_exclusive_ledger_on_sqlite(@ForAll("scenarios") Scenario scenario)
      throws Exception {
    Path dir = Files.createTempDirectory("ledger-prop");
    try (Database db = TestDatabases.sqlite(dir)) {
      check(db, scenario, Ledger.Mode.EXCLUSIVE);
    }
  }

  @Property(tries = 5)
  void concurrent_operations_keep_every_invariant_on_an_exclusive_ledger_on_postgresql(@ForAll("scenarios") Scenario scenario)
      throws Exception {
    try (Database db = TestDatabases.postgres()) {
      check(db, scenario, Ledger.Mode.EXCLUSIVE);
    }
  }

  private static void check(Database db, Scenario scenario, Ledger.Mode mode) throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2025-02-06T00:00:00Z"));
    Ledger ledger = new Ledger(new SqlLedgerStore(db), clock, new Ledger.Options(4096, 64, 100, 1000, 5), mode);
    Map<String, Long> postedToCallers = new ConcurrentHashMap<>();
    AtomicLong ids = new AtomicLong();
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int t = 0; t < scenario.threads(); t++) {
      Random random = new Random(scenario.seed() + t);
      threads.add(Thread.ofPlatform().start(() -> {
        try {
          start.await();
          List<String> mine = new ArrayList<>();
          for (int i = 0; i < scenario.opsPerThread(); i++) {
            String account = ACCOUNTS[random.nextInt(ACCOUNTS.length)];
            String id = "op" + ids.incrementAndGet();
            switch (random.nextInt(12)) {
              case 0 -> ledger.credit(id, account, CreditKind.TOPPED_UP, 1 + random.nextInt(100), null).join();
              case 1 -> ledger.credit(id, account, CreditKind.GRANTED, 1 + random.nextInt(100),
                  clock.instant().plusMillis(1 + random.nextInt(5_000))).join();
              case 2, 3, 4 -> {
                ReserveResult r = ledger.reserve(id, account, 1 + random.nextInt(60), Duration.ofMillis(1 + random.nextInt(4_000))).join();
                if (r.reserved()) {
                  mine.add(id);
                }
              }
              case 5, 6 -> {
                if (!mine.isEmpty()) {
                  String reservation = mine.get(random.nextInt(mine.size()));
                  SettleResult s = ledger.post(reservation, random.nextInt(70)).join();
                  if (s.status() == SettleResult.Status.POSTED) {
                    Long before = postedToCallers.putIfAbsent(reservation, s.postedNanos());
                    assertThat(before == null || before == s.postedNanos()).as("one posted amount for %s", reservation).isTrue();
                  }
                }
              }
              case 7 -> {
                if (!mine.isEmpty()) {
                  SettleResult s = ledger.voidReservation(mine.get(random.nextInt(mine.size()))).join();
                  assertThat(s.status()).isNotIn(SettleResult.Status.NOT_FOUND, SettleResult.Status.EXCEEDS_HOLD);
                }
              }
              case 8 -> {
                if (!mine.isEmpty()) {
                  ExtendResult x = ledger.extend(id, mine.get(random.nextInt(mine.size())), 1 + random.nextInt(30), Duration.ofMillis(1 + random.nextInt(4_000))).join();
                  assertThat(x.status()).isNotEqualTo(ExtendResult.Status.NOT_FOUND);
                }
              }
              case 9 -> {
                if (random.nextBoolean()) {
                  clock.advance(Duration.ofMillis(random.nextInt(1_500)));
                } else {
                  ledger.expireDue(clock.instant()).join();
                }
              }
              case 11 -> {
                // A gateway request: a fresh hold, then its post with a usage record at once (on an
                // exclusive ledger both usually share a batch, and the record journals the debit).
                long hold = 1 + random.nextInt(60);
                if (ledger.reserveNew(id, account, hold, Duration.ofMillis(1 + random.nextInt(4_000))).join().reserved()) {
                  SettleResult s = ledger.post(id, random.nextLong(hold + 1), new UsageRecord(
                      id, account, "key", "m", null, 0, 1, 1, 0, "ok", clock.millis(), 1, 1)).join();
                  if (s.status() == SettleResult.Status.POSTED) {
                    assertThat(postedToCallers.putIfAbsent(id, s.postedNanos())).isNull();
                  }
                }
              }
              default -> ledger.setCreditLimit(id, account, random.nextInt(50)).join();
            }
            Balance b = ledger.balance(account);
            assertThat(b.availableNanos()).as("available of %s", account).isGreaterThanOrEqualTo(-b.creditLimitNanos());
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      }));
    }
    start.countDown();
    for (Thread t : threads) {
      t.join();
    }
    ledger.close();
    assertThat(failures).isEmpty();

    LedgerJournalAudit audit = LedgerJournalAudit.of(db);
    assertThat(audit.postedByReservation).as("posted per reservation, journal vs callers").isEqualTo(postedToCallers);
    assertThat(audit.postedDebitsNanos).isEqualTo(postedToCallers.values().stream().mapToLong(Long::longValue).sum());

    // The dead-or-alive sweep ends every hold and lapses every grant once the clock passes them.
    Ledger after = new Ledger(new SqlLedgerStore(db), clock);
    clock.advance(Duration.ofHours(1));
    while (after.expireDue(clock.instant()).join() > 0) {
      // one pass per up-to-maxBatch accounts
    }
    after.close();
    LedgerJournalAudit swept = LedgerJournalAudit.of(db);
    assertThat(swept.pendingReservations).isZero();
    for (String account : ACCOUNTS) {
      Balance b = after.balance(account);
      assertThat(b.reservedNanos()).isZero();
      assertThat(b.grantedNanos()).isZero();
    }
  }
}
