package dev.jevons.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.billing.CreditKind;
import dev.jevons.billing.ForwardingStore;
import dev.jevons.billing.InMemoryLedgerStore;
import dev.jevons.billing.LedgerStore;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.Prices;
import dev.jevons.billing.Quote;
import dev.jevons.billing.ReserveResult;
import dev.jevons.upstream.Watchdog;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** How a stream's hold grows ({@link Charge#cover}), against a real ledger over an in-memory store. */
class ChargeTest {
  static final long PROMPT_BOUND = 40;
  final Ledger ledger = new Ledger(new InMemoryLedgerStore(), Clock.systemUTC());
  final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  final Watchdog watchdog = new Watchdog(timer, System::nanoTime, 10);
  final Quote quote = new Quote("m", "pv_test", Prices.of("0.028", "0.28", "0.42"), 0, Instant.now());
  int requests;

  @AfterEach
  void close() {
    ledger.close();
    watchdog.close();
    timer.shutdownNow();
  }

  String account(long toppedUpNanos) throws Exception {
    String id = "acct-" + ++requests;
    ledger.credit("seed-" + id, id, CreditKind.TOPPED_UP, toppedUpNanos, null).get(10, TimeUnit.SECONDS);
    return id;
  }

  Charge open(String account, Quote q, long initialTokens, long budgetTokens, long stepTokens) throws Exception {
    String id = "req-" + ++requests;
    long hold = q.cost(0, PROMPT_BOUND, initialTokens).nanos();
    ReserveResult r = ledger.reserve(id, account, hold, Duration.ofMinutes(10)).get(10, TimeUnit.SECONDS);
    assertThat(r.reserved()).isTrue();
    return new Charge(
        ledger, watchdog, q, id, account, "key", System.nanoTime(),
        new Charge.Hold(r.heldNanos(), PROMPT_BOUND, initialTokens, budgetTokens, stepTokens, Duration.ofMinutes(10)));
  }

  long held(Quote q, long outputTokens) {
    return q.cost(0, PROMPT_BOUND, outputTokens).nanos();
  }

  /** The committed hold; an extension sent ahead commits on the ledger's own thread. */
  long reservedSettling(String account, long expected) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    long reserved = ledger.balance(account).reservedNanos();
    while (reserved != expected && System.nanoTime() < deadline) {
      Thread.sleep(5);
      reserved = ledger.balance(account).reservedNanos();
    }
    return reserved;
  }

  /**
   * A settlement the ledger does not confirm in time is given up (the shared watchdog fails the
   * wait; the request then ends with an error), and the charge, committed later, is made once.
   */
  @Test
  void a_settlement_the_ledger_does_not_answer_in_time_is_given_up_and_charged_once() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    AtomicBoolean blocking = new AtomicBoolean();
    LedgerStore slowDisk = new ForwardingStore(new InMemoryLedgerStore()) {
      @Override
      public void write(Batch batch) {
        try {
          if (blocking.get()) {
            gate.await(30, TimeUnit.SECONDS);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        super.write(batch);
      }
    };
    try (Ledger stuck = new Ledger(slowDisk, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
      stuck.credit("seed", "acct", CreditKind.TOPPED_UP, 1_000_000_000L, null).get(10, TimeUnit.SECONDS);
      long hold = held(quote, 100);
      assertThat(stuck.reserveNew("req-stuck", "acct", hold, Duration.ofMinutes(10)).get(10, TimeUnit.SECONDS).reserved()).isTrue();
      Charge c = new Charge(stuck, watchdog, quote, "req-stuck", "acct", "key", System.nanoTime(),
          new Charge.Hold(hold, PROMPT_BOUND, 100, 100, 100, Duration.ofMinutes(10)));
      c.ledgerTimeouts(Duration.ofMillis(200), Duration.ofMillis(200));
      blocking.set(true);

      assertThat(c.settle(new Usage(30, 20, 0, false), new RequestRecord("req-stuck", System.nanoTime())))
          .as("not confirmed within 200 ms").isFalse();
      assertThat(c.settle(new Usage(30, 20, 0, false), new RequestRecord("req-stuck", System.nanoTime())))
          .as("settled once: asking again changes nothing").isTrue();
      gate.countDown();
      stuck.flush().get(10, TimeUnit.SECONDS);
      long cost = quote.cost(0, 30, 20).nanos();
      assertThat(stuck.balance("acct").toppedUpNanos()).as("charged once, when the commit went through").isEqualTo(1_000_000_000L - cost);
      assertThat(stuck.balance("acct").reservedNanos()).isZero();
    }
  }

  @Test
  void grows_in_steps_and_never_past_the_output_budget() throws Exception {
    String a = account(1_000_000_000L);
    Charge c = open(a, quote, 16, 100, 16);
    assertThat(c.cover(16)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(c.cover(17)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(c.heldOutputTokens()).isGreaterThanOrEqualTo(17);
    assertThat(c.cover(100)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(c.heldOutputTokens()).isEqualTo(100);
    // An upstream that ignores max_tokens is relayed, but the hold does not follow it.
    assertThat(c.cover(150)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(c.heldOutputTokens()).isEqualTo(100);
    assertThat(reservedSettling(a, held(quote, 100))).isEqualTo(held(quote, 100));
  }

  @Test
  void sends_the_next_extension_before_the_stream_reaches_its_hold() throws Exception {
    String a = account(1_000_000_000L);
    Charge c = open(a, quote, 16, 1000, 16);
    assertThat(c.cover(7)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(ledger.balance(a).reservedNanos()).as("more than half a step left: nothing sent").isEqualTo(held(quote, 16));
    assertThat(c.cover(8)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(reservedSettling(a, held(quote, 32))).as("sent ahead at half a step left").isEqualTo(held(quote, 32));
    assertThat(c.cover(20)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(c.heldOutputTokens()).isEqualTo(32);
    assertThat(c.extensions()).isEqualTo(1);
  }

  @Test
  void spends_down_to_the_last_whole_token_and_then_reports_insufficient() throws Exception {
    long perToken = quote.cost(0, 0, 1).nanos();
    // The first hold, five more tokens, and a little less than a sixth.
    String a = account(held(quote, 16) + 5 * perToken + perToken - 1);
    Charge c = open(a, quote, 16, 1000, 16);
    assertThat(c.cover(17)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(c.heldOutputTokens()).isEqualTo(21);
    assertThat(c.cover(21)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(c.cover(22)).isEqualTo(Charge.Coverage.INSUFFICIENT);
    assertThat(c.heldOutputTokens()).isEqualTo(21);
    assertThat(ledger.balance(a).availableNanos()).isEqualTo(perToken - 1);
  }

  @Test
  void a_top_up_during_the_stream_lets_it_continue() throws Exception {
    String a = account(held(quote, 16));
    Charge c = open(a, quote, 16, 1000, 16);
    assertThat(c.cover(17)).isEqualTo(Charge.Coverage.INSUFFICIENT);
    ledger.credit("top-up-" + a, a, CreditKind.TOPPED_UP, 1_000_000_000L, null).get(10, TimeUnit.SECONDS);
    assertThat(c.cover(17)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(c.heldOutputTokens()).isEqualTo(32);
  }

  @Test
  void free_output_grows_the_hold_without_asking_the_ledger() throws Exception {
    Quote freeOutput = new Quote("m", "pv_free", Prices.of("0.028", "0.28", "0"), 0, Instant.now());
    String a = account(held(freeOutput, 16));
    Charge c = open(a, freeOutput, 16, 1000, 16);
    assertThat(c.cover(500)).isEqualTo(Charge.Coverage.COVERED);
    assertThat(c.heldOutputTokens()).isGreaterThanOrEqualTo(500);
    assertThat(c.extensions()).isZero();
  }
}
