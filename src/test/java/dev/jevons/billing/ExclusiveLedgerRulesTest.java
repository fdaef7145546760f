package dev.jevons.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Every rule of {@link LedgerRulesTest} again, on a ledger that is its store's only writer, and
 * what that mode adds: holds answered while a commit is in progress, a hold and its post in one
 * commit, and what a failed commit forgets.
 */
class ExclusiveLedgerRulesTest extends LedgerRulesTest {
  @Override
  Ledger.Mode mode() {
    return Ledger.Mode.EXCLUSIVE;
  }

  /** A store whose writes wait, once {@link #block} is called, until {@link #release}. */
  static final class GatedStore extends ForwardingStore {
    final List<Batch> written = new ArrayList<>();
    volatile CountDownLatch gate = new CountDownLatch(0);
    final CountDownLatch writing = new CountDownLatch(1);

    GatedStore(LedgerStore delegate) {
      super(delegate);
    }

    void block() {
      gate = new CountDownLatch(1);
    }

    void release() {
      gate.countDown();
    }

    @Override
    public void write(Batch batch) {
      if (gate.getCount() > 0) {
        writing.countDown();
      }
      try {
        gate.await();
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
      super.write(batch);
      synchronized (written) {
        written.add(batch);
      }
    }
  }

  /**
   * A post that arrives while a batch is being written goes out when that batch is through, by
   * the committer's own doing: here no other caller comes, and the flush deadline is a minute
   * away, so a post left to either would miss the 10 s bound.
   */
  @Test
  void a_charge_arriving_during_a_commit_is_written_next_without_another_caller_or_the_flush_deadline() throws Exception {
    GatedStore gated = gatedWithFlushAfterAMinute();
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r0", 1 * USD);
    reserve("r1", 1 * USD);
    gated.block();
    CompletableFuture<SettleResult> first = ledger.post("r0", 1 * USD);
    assertThat(gated.writing.await(10, TimeUnit.SECONDS)).as("the first post's commit started").isTrue();
    CompletableFuture<SettleResult> next = ledger.post("r1", 1 * USD); // arrives while a batch is written
    gated.release();

    assertThat(first.get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(next.get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
  }

  /**
   * Group commit: a charge waits for the others still being served to share its commit, but
   * never longer than the delay, and not at all when too few others are open.
   */
  @Test
  void a_charge_waits_for_open_siblings_to_share_its_commit() throws Exception {
    GatedStore gated = withCommitDelay(TimeUnit.SECONDS.toMicros(30), 1);
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    int before = gated.written.size();
    reserve("r0", 1 * USD);
    reserve("r1", 1 * USD);
    CompletableFuture<SettleResult> first = ledger.post("r0", 1 * USD);
    Thread.sleep(200);
    assertThat(first).as("r1 is still open: r0's charge waits for it").isNotDone();

    CompletableFuture<SettleResult> second = ledger.post("r1", 1 * USD); // no hold is open any more
    assertThat(first.get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(second.get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
    synchronized (gated.written) {
      assertThat(gated.written.subList(before, gated.written.size())).as("one commit for both charges").hasSize(1);
    }
  }

  @Test
  void a_charge_with_fewer_open_siblings_than_the_threshold_commits_at_once() throws Exception {
    withCommitDelay(TimeUnit.SECONDS.toMicros(30), 2);
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r0", 1 * USD);
    reserve("r1", 1 * USD); // one sibling open when r0 posts, the threshold is two

    assertThat(ledger.post("r0", 1 * USD).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
  }

  @Test
  void a_charge_waits_no_longer_than_the_commit_delay() throws Exception {
    withCommitDelay(TimeUnit.MILLISECONDS.toMicros(100), 1);
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r0", 1 * USD);
    reserve("r1", 1 * USD); // never settled here: r0 must not wait for it

    assertThat(ledger.post("r0", 1 * USD).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
  }

  @Test
  void a_flush_or_close_does_not_wait_for_company() throws Exception {
    withCommitDelay(TimeUnit.SECONDS.toMicros(30), 1);
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r0", 1 * USD);
    reserve("r1", 1 * USD);
    CompletableFuture<SettleResult> waiting = ledger.post("r0", 1 * USD);
    ledger.flush().get(10, TimeUnit.SECONDS);
    assertThat(waiting.get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);

    reserve("r2", 1 * USD);
    CompletableFuture<SettleResult> atClose = ledger.post("r1", 1 * USD);
    Thread.sleep(100);
    assertThat(atClose).as("r2 is open: r1's charge waits").isNotDone();
    ledger.close();
    assertThat(atClose.get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(store.journal()).as("r1's charge is in the store")
        .anyMatch(e -> "r1".equals(e.reservationId()) && e.kind().posted());
  }

  /**
   * A claim lost while a charge waits for company ends the wait; the committer then sleeps between
   * its attempts to take the claim again instead of spinning on a wait whose end has passed.
   */
  @Test
  void a_claim_lost_during_a_wait_for_company_leaves_no_busy_committer() throws Exception {
    AtomicBoolean held = new AtomicBoolean(true);
    AtomicInteger claims = new AtomicInteger();
    LedgerStore losing = new ForwardingStore(store) {
      @Override
      public Claim claim(Ledger.Mode mode) {
        if (claims.getAndIncrement() == 0) {
          return new Claim() {
            @Override
            public boolean held() {
              return held.get();
            }

            @Override
            public void close() {}
          };
        }
        throw new IllegalStateException("held by another node");
      }
    };
    ledger.close();
    // The claim is checked every 5 s; the wait (6 s) must still be on when the loss is found.
    long start = System.nanoTime();
    ledger = new Ledger(losing, clock, Ledger.Options.DEFAULTS.withCommitDelay(TimeUnit.SECONDS.toMicros(6), 1), Ledger.Mode.EXCLUSIVE);
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r0", 1 * USD);
    reserve("r1", 1 * USD);
    CompletableFuture<SettleResult> waiting = ledger.post("r0", 1 * USD);
    held.set(false); // the committer finds out at its next claim check, within 5 s

    assertThat(catchThrowable(() -> waiting.get(15, TimeUnit.SECONDS)))
        .as("the waiting charge is refused once the claim is found lost")
        .isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(LedgerUnavailableException.class);
    // Past the end of the wait, where a wait left on would have the committer spinning.
    Thread.sleep(Math.max(0, TimeUnit.SECONDS.toMillis(7) - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)));
    int before = claims.get();
    Thread.sleep(1_000);
    // Sleeping out the flush deadline between attempts: ~20 a second; spinning: hundreds of thousands.
    assertThat(claims.get() - before).as("attempts to take the claim again in a second").isLessThan(1_000);
  }

  /** Replaces the ledger by one on a gated store (open) with the given group-commit delay and siblings. */
  private GatedStore withCommitDelay(long delayMicros, int siblings) {
    GatedStore gated = new GatedStore(store);
    ledger.close();
    ledger = new Ledger(gated, clock, Ledger.Options.DEFAULTS.withCommitDelay(delayMicros, siblings), Ledger.Mode.EXCLUSIVE);
    return gated;
  }

  /** Replaces the ledger by one on a gated store whose open batch is flushed only after a minute. */
  private GatedStore gatedWithFlushAfterAMinute() {
    GatedStore gated = new GatedStore(store);
    ledger.close();
    Ledger.Options d = Ledger.Options.DEFAULTS;
    ledger = new Ledger(gated, clock, new Ledger.Options(d.queueCapacity(), d.maxBatch(), d.maxCachedAccounts(), d.maxRememberedOutcomes(),
        d.maxAttempts(), 60_000, 0, 0), Ledger.Mode.EXCLUSIVE);
    return gated;
  }

  @Test
  void holds_are_answered_while_a_commit_is_in_progress_and_posts_wait_for_theirs() throws Exception {
    GatedStore gated = new GatedStore(store);
    ledger.close();
    ledger = newLedger(gated);
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r0", 1 * USD);
    gated.block();
    CompletableFuture<SettleResult> firstPost = ledger.post("r0", 1 * USD);
    assertThat(gated.writing.await(10, TimeUnit.SECONDS)).as("the first post's commit started").isTrue();

    ReserveResult held = ledger.reserve("r1", "acct", 2 * USD, MINUTE).get(10, TimeUnit.SECONDS);
    CompletableFuture<SettleResult> secondPost = ledger.post("r1", 2 * USD);

    assertThat(held.reserved()).as("answered from memory while the commit waits").isTrue();
    assertThat(ledger.balance("acct").availableNanos()).as("the balance counts the unwritten hold").isEqualTo(7 * USD);
    assertThat(firstPost).isNotDone();
    assertThat(secondPost).isNotDone();
    gated.release();
    assertThat(firstPost.get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(secondPost.get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
    LedgerStore.Batch shared = gated.written.getLast();
    assertThat(shared.newReservations()).as("r1's hold and post were written together, once, already posted")
        .singleElement()
        .satisfies(r -> {
          assertThat(r.id()).isEqualTo("r1");
          assertThat(r.state()).isEqualTo(ReservationState.POSTED);
        });
    assertThat(store.findReservations(List.of("r1")).get("r1").postedNanos()).isEqualTo(2 * USD);
  }

  @Test
  void a_young_hold_waits_for_its_post_so_that_both_are_written_once_and_versions_stay_gapless() throws Exception {
    // Any hold younger than a minute is young here, however slow the machine.
    GatedStore gated = gatedWithFlushAfterAMinute();
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("first", 1 * USD);
    reserve("young", 1 * USD);

    post("first", 1 * USD); // hands the open batch over while "young" is still pending
    LedgerStore.Batch withFirst = gated.written.getLast();
    post("young", 1 * USD);
    LedgerStore.Batch withYoung = gated.written.getLast();

    assertThat(withFirst.newReservations()).extracting(LedgerStore.ReservationRow::id).containsExactly("first");
    assertThat(withFirst.entries()).extracting(LedgerStore.EntryRow::reservationId).doesNotContain("young");
    assertThat(withYoung.newReservations()).singleElement().satisfies(r -> {
      assertThat(r.id()).isEqualTo("young");
      assertThat(r.state()).isEqualTo(ReservationState.POSTED);
    });
    assertThat(withYoung.changedReservations()).isEmpty();
    // Held and charged in one batch, each hold is journaled by its debit alone (the reservation
    // row keeps the hold), and the journal as written numbers the account's operations 1, 2, ...
    // with no gap at any commit: the credit, the charge of "first", the charge of "young".
    assertThat(store.journal()).extracting(LedgerStore.EntryRow::kind).doesNotContain(EntryKind.RESERVE);
    List<Long> versions = store.journal().stream().map(LedgerStore.EntryRow::accountVersion).distinct().sorted().toList();
    assertThat(versions).containsExactly(1L, 2L, 3L);
    assertThat(withFirst.accounts().getFirst().newVersion()).isEqualTo(2);
  }

  @Test
  void a_callback_on_an_answer_may_use_the_ledger_again() throws Exception {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    // Answers are given after the combiner lets go, so this cannot wait on itself.
    CompletableFuture<Balance> inCallback =
        ledger.reserve("r1", "acct", 1 * USD, MINUTE).thenApply(r -> ledger.balance("acct"));

    assertThat(inCallback.get(10, TimeUnit.SECONDS).availableNanos()).isEqualTo(9 * USD);
  }

  @Test
  void a_rule_failing_while_a_batch_is_written_refuses_until_that_batch_is_through() throws Exception {
    GatedStore gated = new GatedStore(store);
    ledger.close();
    ledger = newLedger(gated);
    credit("top", CreditKind.TOPPED_UP, Long.MAX_VALUE - 1, null);
    reserve("r0", 1 * USD);
    gated.block();
    CompletableFuture<SettleResult> inFlight = ledger.post("r0", 1 * USD);
    assertThat(gated.writing.await(10, TimeUnit.SECONDS)).isTrue();

    // Overflows: the rule fails, and the memory is not trusted until it can be reloaded.
    assertThatThrownBy(() -> credit("more", CreditKind.TOPPED_UP, 2 * USD, null)).hasCauseInstanceOf(ArithmeticException.class);
    assertThatThrownBy(() -> reserve("r1", 1 * USD)).hasCauseInstanceOf(LedgerUnavailableException.class);

    gated.release();
    assertThat(inFlight.get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(reserve("r2", 1 * USD).reserved()).as("reloaded from the store once the batch was written").isTrue();
    assertThat(post("r2", 1 * USD).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(ledger.balance("acct").toppedUpNanos()).isEqualTo(Long.MAX_VALUE - 1 - 2 * USD);
  }

  @Test
  void a_hold_nobody_waits_for_is_written_soon_anyway() throws Exception {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    reserve("r1", 1 * USD);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (store.findReservations(List.of("r1")).isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(store.findReservations(List.of("r1"))).containsKey("r1");
  }

  @Override
  @Test
  void a_full_queue_rejects_at_once() throws Exception {
    GatedStore gated = new GatedStore(store);
    ledger.close();
    // Callers apply up to maxBatch (2) commands while the committer is busy; the queue holds 2 more.
    ledger = new Ledger(gated, clock, new Ledger.Options(2, 2, 100, 100, 3), Ledger.Mode.EXCLUSIVE);
    gated.block();
    List<CompletableFuture<CreditResult>> accepted = new ArrayList<>();
    accepted.add(ledger.credit("c0", "acct", CreditKind.TOPPED_UP, 1, null));
    assertThat(gated.writing.await(10, TimeUnit.SECONDS)).isTrue();
    try {
      accepted.add(ledger.credit("c1", "acct", CreditKind.TOPPED_UP, 1, null));
      accepted.add(ledger.credit("c2", "acct", CreditKind.TOPPED_UP, 1, null));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (ledger.queued() > 0 && System.nanoTime() < deadline) {
        Thread.sleep(1);
      }
      accepted.add(ledger.credit("c3", "acct", CreditKind.TOPPED_UP, 1, null));
      accepted.add(ledger.credit("c4", "acct", CreditKind.TOPPED_UP, 1, null));

      assertThatThrownBy(() -> ledger.credit("c5", "acct", CreditKind.TOPPED_UP, 1, null))
          .isInstanceOf(LedgerOverloadedException.class)
          .hasMessageContaining("2 commands waiting (limit 2)");
    } finally {
      gated.release();
    }
    accepted.forEach(CompletableFuture::join);
    assertThat(ledger.balance("acct").toppedUpNanos()).isEqualTo(5);
  }

  @Override
  @Test
  void a_batch_that_conflicts_with_another_writer_is_applied_again_on_fresh_state() {
    // Exclusive: another writer is a misconfiguration, not a race to retry. The batch fails with a
    // message that says so, the memory is dropped, and the next command sees the store as it is.
    AtomicInteger conflicts = new AtomicInteger(1);
    LedgerStore racing = new ForwardingStore(store) {
      @Override
      public void write(Batch batch) {
        if (conflicts.getAndDecrement() > 0) {
          store.write(new Batch(List.of(new AccountWrite("acct", 0, 1, 5 * USD, 0, 0)), List.of(), List.of(), List.of(), List.of(),
              List.of(new EntryRow("c:other", "acct", 1, EntryKind.TOP_UP, 5 * USD, null, null, null, 0)), List.of()));
        }
        super.write(batch);
      }
    };
    ledger.close();
    ledger = newLedger(racing);

    assertThatThrownBy(() -> credit("top", CreditKind.TOPPED_UP, 1 * USD, null))
        .hasCauseInstanceOf(LedgerUnavailableException.class)
        .hasMessageContaining("another writer")
        .hasMessageContaining("billing.ledger: shared");
    credit("top", CreditKind.TOPPED_UP, 1 * USD, null);
    assertThat(ledger.balance("acct").toppedUpNanos()).isEqualTo(6 * USD);
  }

  @Override
  @Test
  void a_failing_store_fails_the_batch_and_keeps_no_uncommitted_state() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    ledger.close();
    ledger = newLedger(failingWrites(store, 1));

    assertThat(reserve("r1", 10 * USD).reserved()).as("answered from memory before its commit").isTrue();
    assertThatThrownBy(() -> post("r1", 10 * USD)).hasCauseInstanceOf(LedgerUnavailableException.class).hasMessageContaining("disk full");

    assertThat(post("r1", 10 * USD).status()).as("the unwritten hold was forgotten with the failed commit")
        .isEqualTo(SettleResult.Status.NOT_FOUND);
    assertThat(ledger.balance("acct").availableNanos()).isEqualTo(10 * USD);
    assertThat(reserve("r2", 10 * USD).reserved()).isTrue();
    assertThat(post("r2", 3 * USD).status()).isEqualTo(SettleResult.Status.POSTED);
    assertThat(ledger.balance("acct").totalNanos()).isEqualTo(7 * USD);
  }

  @Test
  void a_flush_returns_once_everything_before_it_is_durable() {
    credit("top", CreditKind.TOPPED_UP, 10 * USD, null);
    ledger.reserve("r1", "acct", 1 * USD, Duration.ofMinutes(5)).join();

    ledger.flush().join();

    assertThat(store.findReservations(List.of("r1")).get("r1").state()).isEqualTo(ReservationState.PENDING);
  }
}
