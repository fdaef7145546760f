package dev.jevons.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.config.JevonsConfig;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ReplicaEjectionTest {
  static final long MS = 1_000_000;
  final AtomicLong now = new AtomicLong(1_000 * MS);
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  final JevonsConfig.UpstreamPolicy policy = new JevonsConfig.UpstreamPolicy(100, 1000, 1000, 60_000, 1_000, 8_000, 3, 2);

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  UpstreamPool pool(int replicas, int maxConcurrency) {
    List<JevonsConfig.Upstream> ups =
        java.util.stream.IntStream.range(0, replicas)
            .mapToObj(i -> new JevonsConfig.Upstream("r" + i, URI.create("http://127.0.0.1:1/v1"), List.of("m"), null, maxConcurrency, 1))
            .toList();
    return new UpstreamPool(ups, policy, null, scheduler, now::get);
  }

  static UpstreamException serverError() {
    return new UpstreamException(UpstreamException.Kind.STATUS, "500", 500, null, null);
  }

  @Test
  void ejects_after_consecutive_failures_with_a_doubling_backoff_and_restores_after_success() {
    UpstreamPool pool = pool(1, 10);
    Replica r = pool.replicas().get(0);
    pool.failed(r, serverError());
    pool.failed(r, serverError());
    assertThat(r.available(now.get())).isTrue();
    pool.failed(r, serverError());
    assertThat(r.available(now.get())).isFalse();
    assertThat(r.ejectedForNanos(now.get())).isEqualTo(1_000 * MS);

    now.addAndGet(1_000 * MS);
    assertThat(r.available(now.get())).as("half-open after the backoff").isTrue();
    pool.failed(r, serverError());
    assertThat(r.ejectedForNanos(now.get())).as("a failed probe doubles the backoff").isEqualTo(2_000 * MS);

    now.addAndGet(2_000 * MS);
    pool.succeeded(r);
    assertThat(r.available(now.get())).isTrue();
    pool.failed(r, serverError());
    assertThat(r.available(now.get())).as("one failure after recovery does not eject").isTrue();
  }

  @Test
  void backoff_is_capped_at_the_maximum() {
    UpstreamPool pool = pool(1, 10);
    Replica r = pool.replicas().get(0);
    for (int i = 0; i < 20; i++) {
      for (int k = 0; k < 3; k++) {
        pool.failed(r, serverError());
      }
      assertThat(r.ejectedForNanos(now.get())).isLessThanOrEqualTo(Duration.ofMillis(8_000).toNanos());
      now.addAndGet(r.ejectedForNanos(now.get()));
    }
  }

  @Test
  void client_errors_do_not_count_against_a_replica() {
    UpstreamPool pool = pool(1, 10);
    Replica r = pool.replicas().get(0);
    for (int i = 0; i < 10; i++) {
      pool.failed(r, new UpstreamException(UpstreamException.Kind.STATUS, "400", 400, null, null));
    }
    assertThat(r.available(now.get())).isTrue();
  }

  @Test
  void picks_the_least_loaded_replica_and_respects_max_concurrency() {
    UpstreamPool pool = pool(3, 2);
    Replica a = pool.acquire("m", Set.of()).orElseThrow();
    Replica b = pool.acquire("m", Set.of()).orElseThrow();
    Replica c = pool.acquire("m", Set.of()).orElseThrow();
    assertThat(Set.of(a, b, c)).hasSize(3);
    for (int i = 0; i < 3; i++) {
      pool.acquire("m", Set.of()).orElseThrow();
    }
    assertThat(pool.acquire("m", Set.of())).isEmpty();
    assertThat(pool.onlyBusy("m")).isTrue();
    assertThat(pool.whyUnavailable("m", Set.of())).contains("3 at max_concurrency");
    pool.release(b);
    assertThat(pool.acquire("m", Set.of())).contains(b);
    assertThat(pool.acquire("other", Set.of())).isEmpty();
  }

  @Test
  void skips_replicas_already_tried_for_this_request() {
    UpstreamPool pool = pool(2, 10);
    Replica first = pool.acquire("m", Set.of()).orElseThrow();
    Replica second = pool.acquire("m", Set.of(first)).orElseThrow();
    assertThat(second).isNotSameAs(first);
    assertThat(pool.acquire("m", Set.of(first, second))).isEmpty();
  }
}
