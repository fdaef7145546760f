package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.scheduler.RateLimiter.Admitted;
import dev.jevons.scheduler.RateLimiter.Decision;
import dev.jevons.scheduler.RateLimiter.Kind;
import dev.jevons.scheduler.RateLimiter.Permit;
import dev.jevons.scheduler.RateLimiter.Rejected;
import dev.jevons.scheduler.RateLimiter.Scope;
import dev.jevons.scheduler.RateLimiter.Snapshot;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What every {@link RateLimiter} must do, whether its state lives in this process or in Redis:
 * run once per implementation by the subclasses, on a fake clock. The limits' arithmetic is exact,
 * so both must give the same decisions, counts and times to the nano.
 */
public abstract class RateLimiterContract {
  protected static final long SECOND = 1_000_000_000L;
  protected static final LimitKeys ALICE = new LimitKeys("acct-a", "key-a1");
  protected static final LimitKeys ALICE_2 = new LimitKeys("acct-a", "key-a2");

  // Starts negative: System.nanoTime may, and the limiter must not care.
  protected final AtomicLong now = new AtomicLong(-5 * SECOND);
  protected RateLimiter limiter;

  /** A limiter on {@code nanoTime} whose concurrency refusals say to retry after one second. */
  protected abstract RateLimiter newLimiter(LongSupplier nanoTime, Duration concurrencyRetryAfter);

  /** Rounds of the concurrency stress test; a limiter behind a network may ask for fewer. */
  protected int stressIterations() {
    return 2_000;
  }

  @BeforeEach
  void createLimiter() {
    limiter = newLimiter(now::get, Duration.ofSeconds(1));
  }

  protected static Limits rpm(long n) {
    return new Limits(n, null, null);
  }

  protected static Limits tpm(long n) {
    return new Limits(null, n, null);
  }

  protected static Limits concurrent(int n) {
    return new Limits(null, null, n);
  }

  protected Decision acquire(Limits account, Limits key, long tokens) {
    return limiter.tryAcquire(ALICE, account, key, tokens);
  }

  protected static Permit admitted(Decision d) {
    assertThat(d).isInstanceOf(Admitted.class);
    return ((Admitted) d).permit();
  }

  protected static Rejected rejected(Decision d) {
    assertThat(d).isInstanceOf(Rejected.class);
    return (Rejected) d;
  }

  protected void advance(long nanos) {
    now.addAndGet(nanos);
  }

  @Test
  public void admits_a_burst_of_the_per_minute_limit_then_one_request_per_interval() {
    for (int i = 0; i < 10; i++) {
      admitted(acquire(Limits.UNLIMITED, rpm(10), 0));
    }
    Rejected r = rejected(acquire(Limits.UNLIMITED, rpm(10), 0));
    assertThat(r.scope()).isEqualTo(Scope.KEY);
    assertThat(r.kind()).isEqualTo(Kind.REQUESTS_PER_MINUTE);
    assertThat(r.limit()).isEqualTo(10);
    assertThat(r.remaining()).isZero();
    assertThat(r.retryAfterNanos()).as("one request's share of the minute").isEqualTo(6 * SECOND);
    assertThat(r.retryAfterSeconds()).isEqualTo(6);

    advance(6 * SECOND - 1);
    rejected(acquire(Limits.UNLIMITED, rpm(10), 0));
    advance(1);
    admitted(acquire(Limits.UNLIMITED, rpm(10), 0));
    rejected(acquire(Limits.UNLIMITED, rpm(10), 0));
  }

  @Test
  public void resets_to_the_full_limit_one_window_after_the_last_admission() {
    for (int i = 0; i < 4; i++) {
      admitted(acquire(rpm(4), Limits.UNLIMITED, 0));
    }
    Snapshot s = limiter.snapshot(ALICE, rpm(4), Limits.UNLIMITED);
    assertThat(s.requests()).isEqualTo(new RateLimiter.Window(4, 0, 60 * SECOND));
    advance(30 * SECOND);
    assertThat(limiter.snapshot(ALICE, rpm(4), Limits.UNLIMITED).requests())
        .isEqualTo(new RateLimiter.Window(4, 2, 30 * SECOND));
    advance(30 * SECOND);
    assertThat(limiter.snapshot(ALICE, rpm(4), Limits.UNLIMITED).requests())
        .isEqualTo(new RateLimiter.Window(4, 4, 0));
  }

  @Test
  public void counts_tokens_with_the_estimate_and_refunds_the_difference_on_settlement() {
    Permit p = admitted(acquire(Limits.UNLIMITED, tpm(1000), 800));
    Rejected r = rejected(acquire(Limits.UNLIMITED, tpm(1000), 300));
    assertThat(r.kind()).isEqualTo(Kind.TOKENS_PER_MINUTE);
    assertThat(r.remaining()).isEqualTo(200);
    assertThat(r.requested()).isEqualTo(300);
    assertThat(r.retryAfterNanos()).as("100 tokens at 60 ms each").isEqualTo(6 * SECOND);

    p.settleTokens(100);
    assertThat(limiter.snapshot(ALICE, Limits.UNLIMITED, tpm(1000)).tokens().remaining()).isEqualTo(900);
    admitted(acquire(Limits.UNLIMITED, tpm(1000), 300));
    p.settleTokens(0);
    assertThat(limiter.snapshot(ALICE, Limits.UNLIMITED, tpm(1000)).tokens().remaining())
        .as("a second settlement is ignored").isEqualTo(600);
  }

  @Test
  public void an_overrun_found_at_settlement_puts_the_tenant_in_debt() {
    admitted(acquire(Limits.UNLIMITED, tpm(1000), 500)).settleTokens(1500);
    RateLimiter.Window w = limiter.snapshot(ALICE, Limits.UNLIMITED, tpm(1000)).tokens();
    assertThat(w.remaining()).isZero();
    assertThat(w.resetNanos()).isEqualTo(90 * SECOND);
    Rejected r = rejected(acquire(Limits.UNLIMITED, tpm(1000), 100));
    assertThat(r.retryAfterNanos()).as("the 500-token debt plus 100 tokens").isEqualTo(36 * SECOND);
  }

  @Test
  public void a_request_larger_than_the_whole_token_limit_never_fits_and_says_so() {
    Rejected r = rejected(acquire(tpm(1000), Limits.UNLIMITED, 2000));
    assertThat(r.neverFits()).isTrue();
    assertThat(r.scope()).isEqualTo(Scope.ACCOUNT);
    assertThat(r.message()).contains("needs 2,000 tokens, more than the account limit of 1,000 tokens per minute");
  }

  @Test
  public void concurrency_permits_are_returned_on_release_exactly_once() {
    Permit a = admitted(acquire(Limits.UNLIMITED, concurrent(2), 0));
    admitted(acquire(Limits.UNLIMITED, concurrent(2), 0));
    Rejected r = rejected(acquire(Limits.UNLIMITED, concurrent(2), 0));
    assertThat(r.kind()).isEqualTo(Kind.CONCURRENT_REQUESTS);
    assertThat(r.remaining()).isZero();
    assertThat(r.retryAfterNanos()).as("the configured hint").isEqualTo(SECOND);

    a.release();
    a.release();
    admitted(acquire(Limits.UNLIMITED, concurrent(2), 0));
    rejected(acquire(Limits.UNLIMITED, concurrent(2), 0));
  }

  @Test
  public void a_refusal_by_the_key_does_not_consume_the_account() {
    Limits account = new Limits(5L, 1000L, 10);
    admitted(limiter.tryAcquire(ALICE, account, rpm(1), 100));
    Rejected r = rejected(limiter.tryAcquire(ALICE, account, rpm(1), 100));
    assertThat(r.scope()).isEqualTo(Scope.KEY);
    for (int i = 0; i < 4; i++) {
      admitted(limiter.tryAcquire(ALICE_2, account, Limits.UNLIMITED, 100));
    }
    Rejected byAccount = rejected(limiter.tryAcquire(ALICE_2, account, Limits.UNLIMITED, 100));
    assertThat(byAccount.scope()).isEqualTo(Scope.ACCOUNT);
    assertThat(byAccount.kind()).isEqualTo(Kind.REQUESTS_PER_MINUTE);
    assertThat(limiter.snapshot(ALICE_2, account, Limits.UNLIMITED).tokens().remaining())
        .as("five admissions of 100 tokens, nothing for the refused ones").isEqualTo(500);
  }

  @Test
  public void a_refusal_names_the_limit_that_frees_last() {
    // Key: 60 rpm (1 s per request). Account: 100 tokens per minute (0.6 s per token).
    admitted(limiter.tryAcquire(ALICE, tpm(100), rpm(1), 90));
    Rejected r = rejected(limiter.tryAcquire(ALICE, tpm(100), rpm(1), 20));
    assertThat(r.kind()).as("key rpm frees in 60 s, account tokens in 6 s").isEqualTo(Kind.REQUESTS_PER_MINUTE);
    assertThat(r.retryAfterNanos()).isEqualTo(60 * SECOND);
    assertThat(r.message())
        .isEqualTo("rate limit exceeded: key limit of 1 requests per minute, 0 remaining, this request needs 1; retry after 1m0s");
  }

  @Test
  public void headers_report_the_tighter_of_key_and_account() {
    Limits account = new Limits(100L, 10_000L, null);
    Limits key = new Limits(3L, 1_000_000L, null);
    Decision d = limiter.tryAcquire(ALICE, account, key, 2_000);
    assertThat(d.snapshot().headers())
        .containsExactly(
            java.util.Map.entry("x-ratelimit-limit-requests", "3"),
            java.util.Map.entry("x-ratelimit-remaining-requests", "2"),
            java.util.Map.entry("x-ratelimit-reset-requests", "20s"),
            java.util.Map.entry("x-ratelimit-limit-tokens", "10000"),
            java.util.Map.entry("x-ratelimit-remaining-tokens", "8000"),
            java.util.Map.entry("x-ratelimit-reset-tokens", "12s"));
    assertThat(limiter.snapshot(ALICE, Limits.UNLIMITED, Limits.UNLIMITED).headers()).isEmpty();
  }

  @Test
  @Timeout(60)
  public void many_threads_never_admit_more_than_the_limits_allow() throws Exception {
    Limits account = new Limits(1_000L, 50_000L, null);
    Limits key = new Limits(300L, null, null);
    int threads = 16;
    int attemptsEach = Math.max(200, stressIterations() / 10);
    List<LimitKeys> keys = List.of(
        new LimitKeys("acct", "k0"), new LimitKeys("acct", "k1"), new LimitKeys("acct", "k2"), new LimitKeys("acct", "k3"));
    AtomicInteger[] perKey = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
    AtomicLong tokens = new AtomicLong();
    CountDownLatch start = new CountDownLatch(1);
    try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < attemptsEach; i++) {
            int k = (thread + i) % 4;
            long estimate = 40;
            if (limiter.tryAcquire(keys.get(k), account, key, estimate) instanceof Admitted) {
              perKey[k].incrementAndGet();
              tokens.addAndGet(estimate);
            }
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get();
      }
    }
    int total = 0;
    for (AtomicInteger n : perKey) {
      assertThat(n.get()).isLessThanOrEqualTo(300);
      total += n.get();
    }
    assertThat(total).as("the clock stands still: exactly the account's request limit").isEqualTo(1_000);
    assertThat(tokens.get()).isEqualTo(40_000);
    assertThat(limiter.snapshot(keys.get(0), account, Limits.UNLIMITED).tokens().remaining())
        .as("refused attempts consumed nothing").isEqualTo(10_000);
  }

  @Test
  @Timeout(60)
  public void many_threads_never_hold_more_concurrent_permits_than_the_limit() throws Exception {
    Limits key = concurrent(8);
    AtomicInteger holding = new AtomicInteger();
    AtomicInteger maxHeld = new AtomicInteger();
    AtomicInteger admissions = new AtomicInteger();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(16)) {
      for (int t = 0; t < 16; t++) {
        pool.submit(() -> {
          try {
            for (int i = 0; i < stressIterations(); i++) {
              if (limiter.tryAcquire(ALICE, Limits.UNLIMITED, key, 0) instanceof Admitted a) {
                admissions.incrementAndGet();
                maxHeld.accumulateAndGet(holding.incrementAndGet(), Math::max);
                holding.decrementAndGet();
                a.permit().release();
              }
            }
          } catch (Throwable e) {
            errors.add(e);
          }
        });
      }
    }
    assertThat(errors).isEmpty();
    assertThat(maxHeld.get()).isBetween(1, 8);
    assertThat(admissions.get()).isPositive();
    for (int i = 0; i < 8; i++) {
      admitted(limiter.tryAcquire(ALICE, Limits.UNLIMITED, key, 0));
    }
    rejected(limiter.tryAcquire(ALICE, Limits.UNLIMITED, key, 0));
  }

  @Test
  public void rejects_negative_token_counts() {
    assertThatThrownBy(() -> acquire(rpm(1), rpm(1), -1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  public void unlimited_tenants_get_no_headers_and_no_state() {
    Decision d = acquire(Limits.UNLIMITED, Limits.UNLIMITED, 1_000_000);
    assertThat(d.snapshot()).isEqualTo(Snapshot.NONE);
    admitted(d).release();
  }

  @Test
  public void a_second_tenant_is_counted_apart() {
    admitted(acquire(Limits.UNLIMITED, rpm(1), 0));
    rejected(acquire(Limits.UNLIMITED, rpm(1), 0));
    admitted(limiter.tryAcquire(new LimitKeys("acct-b", "key-b1"), Limits.UNLIMITED, rpm(1), 0));
  }

  @Test
  public void a_refund_after_the_limit_refilled_by_itself_changes_nothing() {
    Permit p = admitted(acquire(Limits.UNLIMITED, tpm(1000), 600));
    advance(60 * SECOND);
    p.settleTokens(0);
    assertThat(limiter.snapshot(ALICE, Limits.UNLIMITED, tpm(1000)).tokens()).isEqualTo(new RateLimiter.Window(1000, 1000, 0));
    admitted(acquire(Limits.UNLIMITED, tpm(1000), 1000));
    rejected(acquire(Limits.UNLIMITED, tpm(1000), 1));
  }
}
