package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.scheduler.LimitKeys;
import dev.jevons.scheduler.Limits;
import dev.jevons.scheduler.RateLimiter;
import dev.jevons.scheduler.RateLimiter.Admitted;
import dev.jevons.scheduler.RateLimiter.Kind;
import dev.jevons.scheduler.RateLimiter.Permit;
import dev.jevons.scheduler.RateLimiter.Rejected;
import dev.jevons.scheduler.RateLimiter.Snapshot;
import dev.jevons.scheduler.RateLimiterContract;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The rate-limit contract against a real Redis, and what only shared limits must do: two nodes
 * drawing on one budget exactly, leases that free a crashed node's slots, nothing left behind by
 * idle tenants, and failing open, without hanging, when Redis is gone or stalls.
 */
class RedisRateLimiterTest extends RateLimiterContract {
  static final Duration LEASE = Duration.ofSeconds(30);

  final String prefix = TestRedis.uniquePrefix();
  final ScheduledExecutorService renewals = Executors.newSingleThreadScheduledExecutor();
  final MeterRegistry registry = new SimpleMeterRegistry();
  final AtomicLong ticker = new AtomicLong();
  final List<AutoCloseable> toClose = new ArrayList<>();

  @Override
  protected RateLimiter newLimiter(LongSupplier nanoTime, Duration concurrencyRetryAfter) {
    return node(TestRedis.redis(), nanoTime, concurrencyRetryAfter);
  }

  @Override
  protected int stressIterations() {
    return 300;
  }

  /** Another gateway node: a limiter of its own on the same Redis and prefix. */
  RedisRateLimiter node(Redis redis, @Nullable LongSupplier nanoTime, Duration concurrencyRetryAfter) {
    RedisRateLimiter l =
        new RedisRateLimiter(
            redis,
            new RedisRateLimiter.Settings(prefix, LEASE, concurrencyRetryAfter, Duration.ofSeconds(1)),
            nanoTime,
            ticker::get,
            renewals,
            registry);
    toClose.add(l);
    return l;
  }

  RedisRateLimiter node() {
    return node(TestRedis.redis(), now::get, Duration.ofSeconds(1));
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
    renewals.shutdownNow();
    TestRedis.deleteAll(prefix);
  }

  @Test
  @Timeout(60)
  void two_nodes_draw_on_one_budget_exactly() throws Exception {
    List<RedisRateLimiter> nodes = List.of(node(), node());
    Limits account = new Limits(500L, 20_000L, null);
    Limits key = new Limits(150L, null, null);
    List<LimitKeys> keys = List.of(
        new LimitKeys("acct", "k0"), new LimitKeys("acct", "k1"), new LimitKeys("acct", "k2"), new LimitKeys("acct", "k3"));
    AtomicInteger[] perKey = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
    int threads = 16;
    CountDownLatch start = new CountDownLatch(1);
    try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < 60; i++) {
            int k = (thread + i) % 4;
            if (nodes.get((thread + i) % 2).tryAcquire(keys.get(k), account, key, 20) instanceof Admitted) {
              perKey[k].incrementAndGet();
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
      assertThat(n.get()).as("each key's own limit, across both nodes").isLessThanOrEqualTo(150);
      total += n.get();
    }
    assertThat(total).as("960 attempts on two nodes, the clock standing still: exactly the account's limit").isEqualTo(500);
    assertThat(nodes.get(1).snapshot(keys.get(0), account, Limits.UNLIMITED).tokens().remaining())
        .as("500 admissions of 20 tokens, seen from either node").isEqualTo(10_000);
  }

  @Test
  @Timeout(60)
  void two_nodes_on_the_servers_clock_never_admit_more_than_the_limit_allows() throws Exception {
    // No fake clock: both nodes take the time from Redis, so their own clocks cannot matter. The
    // limit refills one request every 600 ms while the test runs, so the bound allows for that.
    List<RedisRateLimiter> nodes = List.of(node(TestRedis.redis(), null, Duration.ofSeconds(1)), node(TestRedis.redis(), null, Duration.ofSeconds(1)));
    Limits key = rpm(100);
    AtomicInteger admitted = new AtomicInteger();
    long started = System.nanoTime();
    try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
      for (int t = 0; t < 8; t++) {
        int thread = t;
        pool.submit(() -> {
          for (int i = 0; i < 40; i++) {
            if (nodes.get((thread + i) % 2).tryAcquire(ALICE, Limits.UNLIMITED, key, 0) instanceof Admitted) {
              admitted.incrementAndGet();
            }
          }
        });
      }
    }
    long elapsed = System.nanoTime() - started;
    assertThat(admitted.get()).isBetween(100, 100 + (int) (elapsed / 600_000_000L) + 1);
    Rejected r = rejected(nodes.get(0).tryAcquire(ALICE, Limits.UNLIMITED, key, 0));
    assertThat(r.retryAfterNanos()).isPositive().isLessThanOrEqualTo(600_000_000L);
  }

  @Test
  @Timeout(60)
  void two_nodes_never_hold_more_concurrent_slots_than_the_limit() throws Exception {
    List<RedisRateLimiter> nodes = List.of(node(), node());
    Limits key = concurrent(5);
    AtomicInteger holding = new AtomicInteger();
    AtomicInteger maxHeld = new AtomicInteger();
    AtomicInteger admissions = new AtomicInteger();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(12)) {
      for (int t = 0; t < 12; t++) {
        int thread = t;
        pool.submit(() -> {
          try {
            for (int i = 0; i < 100; i++) {
              if (nodes.get((thread + i) % 2).tryAcquire(ALICE, Limits.UNLIMITED, key, 0) instanceof Admitted a) {
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
    assertThat(maxHeld.get()).isBetween(1, 5);
    assertThat(admissions.get()).isPositive();
    for (int i = 0; i < 5; i++) {
      admitted(nodes.get(i % 2).tryAcquire(ALICE, Limits.UNLIMITED, key, 0));
    }
    Rejected r = rejected(nodes.get(0).tryAcquire(ALICE, Limits.UNLIMITED, key, 0));
    assertThat(r.kind()).isEqualTo(Kind.CONCURRENT_REQUESTS);
    assertThat(r.remaining()).isZero();
  }

  @Test
  void a_crashed_nodes_slots_free_when_their_leases_expire() {
    RedisRateLimiter crashing = node();
    RedisRateLimiter survivor = node();
    admitted(crashing.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(2), 0));
    admitted(crashing.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(2), 0));
    crashing.close(); // stops renewing and never releases: what a dead process does
    rejected(survivor.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(2), 0));
    advance(LEASE.toNanos() - 1_000_000);
    rejected(survivor.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(2), 0));
    advance(1_000_000);
    admitted(survivor.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(2), 0));
    admitted(survivor.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(2), 0));
    rejected(survivor.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(2), 0));
  }

  @Test
  void a_running_request_keeps_its_slot_while_its_node_renews_the_lease() {
    RedisRateLimiter running = node();
    RedisRateLimiter other = node();
    Permit p = admitted(running.tryAcquire(ALICE, concurrent(1), Limits.UNLIMITED, 0));
    for (int i = 0; i < 10; i++) {
      advance(LEASE.toNanos() / 2);
      running.renewLeases();
      rejected(other.tryAcquire(ALICE, concurrent(1), Limits.UNLIMITED, 0));
    }
    p.release();
    assertThat(running.liveLeases()).isZero();
    admitted(other.tryAcquire(ALICE, concurrent(1), Limits.UNLIMITED, 0));
  }

  @Test
  void a_lease_that_expired_is_not_brought_back_by_a_late_renewal() {
    RedisRateLimiter slow = node();
    RedisRateLimiter other = node();
    admitted(slow.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(1), 0));
    advance(LEASE.toNanos());
    Permit taken = admitted(other.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(1), 0));
    slow.renewLeases();
    taken.release();
    admitted(other.tryAcquire(ALICE, Limits.UNLIMITED, concurrent(1), 0));
  }

  @Test
  void idle_tenants_leave_nothing_behind_but_keys_that_expire() {
    // On the server's clock, so that the keys' TTLs are the production ones.
    RedisRateLimiter serverTime = node(TestRedis.redis(), null, Duration.ofSeconds(1));
    Permit p = admitted(serverTime.tryAcquire(ALICE, new Limits(10L, 1_000L, 3), new Limits(null, null, 2), 500));
    var redis = TestRedis.redis().commands();
    List<String> keys = redis.keys(prefix + "*");
    assertThat(keys).as("the account's meter and in-flight set, the key's in-flight set (it has no rate to meter)")
        .containsExactlyInAnyOrder(prefix + "{acct-a}:m:a", prefix + "{acct-a}:f:a", prefix + "{acct-a}:f:k:key-a1");
    for (String k : keys) {
      assertThat(redis.pttl(k)).as(k).isPositive().isLessThanOrEqualTo(60_001L);
    }
    assertThat(redis.pttl(prefix + "{acct-a}:m:a")).as("the later TAT: 500 of 1,000 tokens, 30 s").isBetween(29_000L, 30_002L);
    p.settleTokens(500);
    p.release();
    assertThat(redis.keys(prefix + "*")).as("in-flight sets go with their last request")
        .containsExactly(prefix + "{acct-a}:m:a");
    admitted(serverTime.tryAcquire(ALICE_2, Limits.UNLIMITED, Limits.UNLIMITED, 1)).release();
    assertThat(redis.keys(prefix + "*")).as("unlimited tenants write nothing").hasSize(1);
  }

  @Test
  void a_refund_that_empties_a_meter_deletes_it() {
    Permit p = admitted(acquire(tpm(1_000), Limits.UNLIMITED, 500));
    p.settleTokens(0);
    assertThat(TestRedis.redis().commands().keys(prefix + "*")).isEmpty();
  }

  @Test
  void scripts_are_loaded_again_after_redis_forgets_them() {
    admitted(acquire(Limits.UNLIMITED, rpm(2), 0));
    TestRedis.redis().commands().scriptFlush();
    admitted(acquire(Limits.UNLIMITED, rpm(2), 0));
    rejected(acquire(Limits.UNLIMITED, rpm(2), 0));
  }

  @Test
  @Timeout(30)
  void fails_open_when_redis_cannot_be_reached() throws Exception {
    try (Redis nowhere = Redis.connect("redis://127.0.0.1:" + closedPort() + "/0", Duration.ofMillis(200))) {
      RedisRateLimiter l = node(nowhere, now::get, Duration.ofSeconds(1));
      for (int i = 0; i < 3; i++) {
        RateLimiter.Decision d = l.tryAcquire(ALICE, rpm(1), concurrent(1), 100);
        assertThat(d.snapshot()).isEqualTo(Snapshot.NONE);
        Permit p = admitted(d);
        p.settleTokens(1_000);
        p.release();
        ticker.addAndGet(Duration.ofSeconds(2).toNanos());
      }
      assertThat(l.snapshot(ALICE, rpm(1), Limits.UNLIMITED)).isEqualTo(Snapshot.NONE);
      assertThat(registry.counter("jevons.rate_limiter.unchecked").count()).isEqualTo(3);
      assertThat(registry.counter("jevons.rate_limiter.redis_errors", "operation", "acquire").count()).isEqualTo(3);
    }
  }

  @Test
  @Timeout(60)
  void a_stalled_redis_costs_one_timeout_then_requests_pass_unchecked_until_it_answers_again() throws Exception {
    URI real = URI.create(TestRedis.URL);
    TestRedis.redis();
    try (StallingProxy proxy = new StallingProxy(real.getHost(), real.getPort());
        Redis redis = Redis.connect("redis://127.0.0.1:" + proxy.port() + real.getPath(), Duration.ofMillis(300))) {
      RedisRateLimiter l = node(redis, now::get, Duration.ofSeconds(1));
      admitted(l.tryAcquire(ALICE, Limits.UNLIMITED, rpm(1), 0));
      rejected(l.tryAcquire(ALICE, Limits.UNLIMITED, rpm(1), 0));

      proxy.stall();
      admitted(l.tryAcquire(ALICE, Limits.UNLIMITED, rpm(1), 0));
      assertThat(registry.counter("jevons.rate_limiter.redis_errors", "operation", "acquire").count())
          .as("the first request waited for the timeout").isEqualTo(1);
      for (int i = 0; i < 5; i++) {
        admitted(l.tryAcquire(ALICE, Limits.UNLIMITED, rpm(1), 0));
      }
      assertThat(registry.counter("jevons.rate_limiter.redis_errors", "operation", "acquire").count())
          .as("within the back-off nobody asks Redis").isEqualTo(1);
      assertThat(registry.counter("jevons.rate_limiter.unchecked").count()).isEqualTo(6);

      proxy.resume();
      ticker.addAndGet(Duration.ofSeconds(1).toNanos());
      Rejected r = rejected(l.tryAcquire(ALICE, Limits.UNLIMITED, rpm(1), 0));
      assertThat(r.kind()).as("enforced again once Redis answers").isEqualTo(Kind.REQUESTS_PER_MINUTE);
    }
  }

  static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
