package dev.jevons.billing;

import dev.jevons.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The ledger's rules, on an in-memory store and a clock moved by hand. */
class LedgerRulesTest {
  static final long USD = 1_000_000_000L;
  static final Instant START = Instant.parse("2025-02-06T00:00:00Z");
  static final Duration MINUTE = Duration.ofMinutes(1);

  final MutableClock clock = new MutableClock(START);
  InMemoryLedgerStore store = new InMemoryLedgerStore();
  Ledger ledger = newLedger(store);

  /** The mode under test; {@link ExclusiveLedgerRulesTest} runs every rule again exclusively. */
  Ledger.Mode mode() {
    return Ledger.Mode.SHARED;
  }

  Ledger newLedger(LedgerStore store) {
    return new Ledger(store, clock, Ledger.Options.DEFAULTS, mode());
  }

  @AfterEach
  void close() {
    ledger.close();
  }

  @Test
  void spends_granted_credit_earliest_expiry_first_then_topped_up() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    credit("late", CreditKind.GRANTED, 3 * USD, START.plus(Duration.ofDays(30)));
    credit("early", CreditKind.GRANTED, 2 * USD, START.plus(Duration.ofDays(7)));

    assertThat(reserve("r1", 6 * USD).reserved()).isTrue();
    assertThat(post("r1", 6 * USD).status()).isEqualTo(SettleResult.Status.POSTED);

    Balance b = ledger.balance("acct");
    assertThat(b.grantedNanos()).isZero();
    assertThat(b.toppedUpNanos()).isEqualTo(9 * USD);
    List<LedgerStore.EntryRow> debits = store.journal().stream().filter(e -> e.reservationId() != null && e.kind().posted()).toList();
    assertThat(debits).extracting(LedgerStore.EntryRow::grantId).containsExactly("early", "late", null);
    assertThat(debits).extracting(LedgerStore.EntryRow::amountNanos).containsExactly(-2 * USD, -3 * USD, -1 * USD);
  }

  @Test
  void expired_grants_are_not_spendable_and_their_lapse_is_journaled() {
    credit("g", CreditKind.GRANTED, 5 * USD, START.plus(Duration.ofHours(1)));
    clock.advance(Duration.ofHours(1));

    assertThat(ledger.balance("acct").grantedNanos()).isZero();
    assertThat(ledger.expireDue(clock.instant()).join()).isEqualTo(1);
    assertThat(store.entries.get("l:g").amountNanos()).isEqualTo(-5 * USD);
    assertThat(ledger.expireDue(clock.instant()).join()).isZero();
    assertThat(reserve("r1", 1).status()).isEqualTo(ReserveResult.Status.INSUFFICIENT);
  }

  @Test
  void a_reservation_counts_only_grants_that_outlive_it() {
    credit("g", CreditKind.GRANTED, 5 * USD, START.plus(Duration.ofMinutes(10)));

    ReserveResult tooLong = ledger.reserve("long", "acct", 1 * USD, Duration.ofMinutes(10)).join();
    ReserveResult shortEnough = ledger.reserve("short", "acct", 1 * USD, Duration.ofMinutes(9)).join();

    assertThat(tooLong.status()).isEqualTo(ReserveResult.Status.INSUFFICIENT);
    assertThat(tooLong.availableNanos()).isZero();
    assertThat(shortEnough.reserved()).isTrue();
  }

  @Test
  void available_may_fall_to_the_credit_limit_and_no_further() {
    credit("top", CreditKind.TOPPED_UP, 1 * USD, null);
    assertThat(ledger.setCreditLimit("k1", "acct", 2 * USD).join().status()).isEqualTo(CreditLimitResult.Status.APPLIED);

    assertThat(reserve("r1", 3 * USD).reserved()).isTrue();
    ReserveResult refused = reserve("r2", 1);
    assertThat(refused.status()).isEqualTo(ReserveResult.Status.INSUFFICIENT);
    assertThat(refused.availableNanos()).isZero();
    post("r1", 3 * USD);

    Balance b = ledger.balance("acct");
    assertThat(b.toppedUpNanos()).isEqualTo(-2 * USD);
    assertThat(b.availableNanos()).isEqualTo(-2 * USD);
    assertThat(ledger.setCreditLimit("k2", "acct", 1 * USD).join().status())
        .as("lowering the limit below the overdraft").isEqualTo(CreditLimitResult.Status.REFUSED);
  }

  @Test
  void insufficient_answers_what_is_available() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r1", 7 * USD);

    ReserveResult r = reserve("r2", 4 * USD);

    assertThat(r.status()).isEqualTo(ReserveResult.Status.INSUFFICIENT);
    assertThat(r.availableNanos()).isEqualTo(3 * USD);
    assertThat(store.findReservations(List.of("r2"))).isEmpty();
  }

  @Test
  void a_post_below_the_hold_releases_the_rest() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r1", 4 * USD);
    assertThat(ledger.balance("acct").availableNanos()).isEqualTo(6 * USD);

    SettleResult posted = post("r1", 1);

    assertThat(posted).isEqualTo(new SettleResult(SettleResult.Status.POSTED, "r1", 4 * USD, 1));
    Balance b = ledger.balance("acct");
    assertThat(b.reservedNanos()).isZero();
    assertThat(b.totalNanos()).isEqualTo(10 * USD - 1);
  }

  @Test
  void a_second_post_or_void_answers_the_first_outcome_and_changes_nothing() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r1", 4 * USD);
    SettleResult first = post("r1", 3 * USD);
    int writes = store.writes;

    assertThat(post("r1", 1 * USD)).isEqualTo(first);
    assertThat(ledger.voidReservation("r1").join()).isEqualTo(first);
    assertThat(store.writes).isEqualTo(writes);

    reserve("r2", 1 * USD);
    SettleResult voided = ledger.voidReservation("r2").join();
    assertThat(voided.status()).isEqualTo(SettleResult.Status.VOIDED);
    assertThat(post("r2", 1)).isEqualTo(voided);
    assertThat(ledger.balance("acct").totalNanos()).isEqualTo(7 * USD);
  }

  @Test
  void a_post_above_the_hold_is_refused_until_the_hold_is_extended() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r1", 2 * USD);

    assertThat(post("r1", 3 * USD).status()).isEqualTo(SettleResult.Status.EXCEEDS_HOLD);
    ExtendResult extended = ledger.extend("x1", "r1", 1 * USD, MINUTE).join();
    assertThat(extended.status()).isEqualTo(ExtendResult.Status.EXTENDED);
    assertThat(extended.heldNanos()).isEqualTo(3 * USD);
    assertThat(ledger.extend("x1", "r1", 1 * USD, MINUTE).join()).as("replayed extension").isEqualTo(extended);
    assertThat(post("r1", 3 * USD).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(ledger.balance("acct").totalNanos()).isEqualTo(7 * USD);
  }

  @Test
  void an_extension_beyond_the_funds_is_refused_and_the_hold_stays() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r1", 8 * USD);

    ExtendResult refused = ledger.extend("x1", "r1", 3 * USD, MINUTE).join();

    assertThat(refused.status()).isEqualTo(ExtendResult.Status.INSUFFICIENT);
    assertThat(refused.availableNanos()).isEqualTo(2 * USD);
    assertThat(post("r1", 8 * USD).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(ledger.extend("x2", "r1", 1, MINUTE).join().status()).isEqualTo(ExtendResult.Status.NOT_PENDING);
  }

  @Test
  void an_overdue_reservation_expires_releases_its_hold_and_cannot_be_posted() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r1", 8 * USD);
    clock.advance(MINUTE);

    assertThat(ledger.expireDue(clock.instant()).join()).isEqualTo(1);
    assertThat(post("r1", 1).status()).isEqualTo(SettleResult.Status.EXPIRED);
    Balance b = ledger.balance("acct");
    assertThat(b.reservedNanos()).isZero();
    assertThat(b.totalNanos()).isEqualTo(10 * USD);
  }

  @Test
  void a_post_after_the_expiry_finds_the_reservation_expired_even_before_the_sweeper() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r1", 8 * USD);
    clock.advance(MINUTE);

    assertThat(post("r1", 1).status()).isEqualTo(SettleResult.Status.EXPIRED);
    assertThat(store.entries).containsKey("e:r1");
  }

  @Test
  void replayed_credits_and_reserves_change_nothing_also_after_a_restart() {
    CreditResult credit = credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    ReserveResult reserved = reserve("r1", 4 * USD);
    assertThat(credit("top", CreditKind.TOPPED_UP, 10 * USD, null)).isEqualTo(credit);
    assertThat(reserve("r1", 4 * USD)).isEqualTo(reserved);

    ledger.close();
    ledger = newLedger(store);

    assertThat(credit("top", CreditKind.TOPPED_UP, 10 * USD, null)).isEqualTo(credit);
    assertThat(reserve("r1", 4 * USD)).isEqualTo(reserved);
    assertThat(post("r1", 4 * USD).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(post("r1", 1).postedNanos()).isEqualTo(4 * USD);
    assertThat(ledger.balance("acct")).isEqualTo(new Balance("acct", 0, 6 * USD, 0, 0));
  }

  @Test
  void an_unknown_reservation_is_not_found() {
    assertThat(post("nope", 1).status()).isEqualTo(SettleResult.Status.NOT_FOUND);
    assertThat(ledger.extend("x", "nope", 1, MINUTE).join().status()).isEqualTo(ExtendResult.Status.NOT_FOUND);
  }

  @Test
  void a_batch_that_conflicts_with_another_writer_is_applied_again_on_fresh_state() {
    AtomicInteger conflicts = new AtomicInteger(1);
    InMemoryLedgerStore inner = store;
    LedgerStore racing = new ForwardingStore(inner) {
      @Override
      public void write(Batch batch) {
        if (conflicts.getAndDecrement() > 0) {
          // Another node tops the account up first.
          inner.write(new Batch(List.of(new AccountWrite("acct", 0, 1, 5 * USD, 0, 0)), List.of(), List.of(), List.of(), List.of(),
              List.of(new EntryRow("c:other", "acct", 1, EntryKind.TOP_UP, 5 * USD, null, null, null, 0)), List.of()));
        }
        inner.write(batch);
      }
    };
    ledger.close();
    ledger = new Ledger(racing, clock);

    credit("top", CreditKind.TOPPED_UP, 1 * USD, null);

    assertThat(ledger.balance("acct").toppedUpNanos()).isEqualTo(6 * USD);
  }

  @Test
  void a_full_queue_rejects_at_once() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch writing = new CountDownLatch(1);
    LedgerStore slow = new ForwardingStore(store) {
      @Override
      public void write(Batch batch) {
        writing.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        super.write(batch);
      }
    };
    ledger.close();
    ledger = new Ledger(slow, clock, new Ledger.Options(2, 16, 100, 100, 3), mode());
    List<CompletableFuture<CreditResult>> accepted = new ArrayList<>();
    accepted.add(ledger.credit("c0", "acct", CreditKind.TOPPED_UP, 1, null));
    writing.await();
    accepted.add(ledger.credit("c1", "acct", CreditKind.TOPPED_UP, 1, null));
    accepted.add(ledger.credit("c2", "acct", CreditKind.TOPPED_UP, 1, null));

    assertThatThrownBy(() -> ledger.credit("c3", "acct", CreditKind.TOPPED_UP, 1, null))
        .isInstanceOf(LedgerOverloadedException.class)
        .hasMessageContaining("2 commands waiting (limit 2)");
    release.countDown();
    accepted.forEach(CompletableFuture::join);
    assertThat(ledger.balance("acct").toppedUpNanos()).isEqualTo(3);
  }

  @Test
  void a_failing_store_fails_the_batch_and_keeps_no_uncommitted_state() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    ledger.close();
    ledger = new Ledger(failingWrites(store, 2), clock);

    assertThatThrownBy(() -> reserve("r1", 10 * USD)).hasCauseInstanceOf(LedgerUnavailableException.class);
    assertThat(reserve("r1", 10 * USD).reserved()).as("the failed hold was not kept in memory").isTrue();
  }

  /** {@code store}, whose first {@code failures} writes fail with "disk full". */
  static LedgerStore failingWrites(LedgerStore store, int failures) {
    AtomicInteger left = new AtomicInteger(failures);
    return new ForwardingStore(store) {
      @Override
      public void write(Batch batch) {
        if (left.getAndDecrement() > 0) {
          throw new IllegalStateException("disk full");
        }
        super.write(batch);
      }
    };
  }

  CreditResult credit(String id, CreditKind kind, long amountNanos, Instant expiresAt) {
    return ledger.credit(id, "acct", kind, amountNanos, expiresAt).join();
  }

  ReserveResult reserve(String id, long amountNanos) {
    return ledger.reserve(id, "acct", amountNanos, MINUTE).join();
  }

  SettleResult post(String id, long amountNanos) {
    return ledger.post(id, amountNanos).join();
  }
}
