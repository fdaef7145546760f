package dev.jevons.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(120)
class BoundedQueueTest {
  @Test
  void refuses_offers_past_its_capacity_and_takes_them_again_once_drained() {
    BoundedQueue<Integer> q = new BoundedQueue<>(3);
    assertThat(q.offer(1)).isTrue();
    assertThat(q.offer(2)).isTrue();
    assertThat(q.offer(3)).isTrue();
    assertThat(q.offer(4)).isFalse();
    assertThat(q.size()).isEqualTo(3);
    List<Integer> out = new ArrayList<>();
    assertThat(q.drainTo(out, 2)).isEqualTo(2);
    assertThat(out).containsExactly(1, 2);
    assertThat(q.offer(5)).isTrue();
    assertThat(q.remove(3)).isTrue();
    assertThat(q.remove(3)).isFalse();
    assertThat(q.poll()).isEqualTo(5);
    assertThat(q.poll()).isNull();
    assertThat(q.isEmpty()).isTrue();
    assertThat(q.size()).isZero();
    assertThatThrownBy(() -> new BoundedQueue<>(0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void concurrent_offers_never_exceed_the_capacity() throws Exception {
    int capacity = 1_000;
    BoundedQueue<Integer> q = new BoundedQueue<>(capacity);
    AtomicInteger accepted = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int base = t * 10_000;
      threads.add(Thread.ofPlatform().start(() -> {
        awaitQuietly(go);
        for (int i = 0; i < 500; i++) {
          if (q.offer(base + i)) {
            accepted.incrementAndGet();
          }
        }
      }));
    }
    go.countDown();
    for (Thread t : threads) {
      t.join();
    }
    assertThat(accepted).hasValue(capacity);
    assertThat(q.size()).isEqualTo(capacity);
    List<Integer> out = new ArrayList<>();
    assertThat(q.drainTo(out)).isEqualTo(capacity);
    assertThat(new HashSet<>(out)).hasSize(capacity);
  }

  /** Producers and a draining consumer at once: every element comes out exactly once, each producer's in order. */
  @Test
  void drains_every_element_once_while_producers_offer() throws Exception {
    BoundedQueue<long[]> q = new BoundedQueue<>(64);
    int producers = 6;
    int each = 20_000;
    CountDownLatch go = new CountDownLatch(1);
    AtomicBoolean stop = new AtomicBoolean(); // a failed assertion below must not leave producers spinning
    List<Thread> threads = new ArrayList<>();
    for (int p = 0; p < producers; p++) {
      long id = p;
      threads.add(Thread.ofPlatform().daemon().start(() -> {
        awaitQuietly(go);
        for (long i = 0; i < each && !stop.get(); ) {
          if (q.offer(new long[] {id, i})) {
            i++;
          } else {
            Thread.onSpinWait(); // full: the consumer drains
          }
        }
      }));
    }
    long[] next = new long[producers];
    Set<String> seen = new HashSet<>();
    List<long[]> batch = new ArrayList<>();
    go.countDown();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    int taken = 0;
    try {
    while (taken < producers * each && System.nanoTime() < deadline) {
      long[] first = q.poll(10, TimeUnit.MILLISECONDS);
      if (first == null) {
        continue;
      }
      batch.add(first);
      q.drainTo(batch, 31);
      for (long[] e : batch) {
        assertThat(e[1]).as("producer %d's elements in order", e[0]).isEqualTo(next[(int) e[0]]);
        next[(int) e[0]]++;
        assertThat(seen.add(e[0] + ":" + e[1])).isTrue();
      }
      taken += batch.size();
      batch.clear();
    }
    } finally {
      stop.set(true);
    }
    for (Thread t : threads) {
      t.join();
    }
    assertThat(taken).isEqualTo(producers * each);
    assertThat(q.isEmpty()).isTrue();
    assertThat(q.size()).isZero();
  }

  /**
   * Refused offers never count, even for a moment: with the queue full and threads offering all
   * along, its size never reads above the capacity. (Counting first and undoing on refusal made
   * a full ledger report "1,003 commands waiting (limit 1,000)" and refuse an offer that fitted
   * right after a take.)
   */
  @Test
  void refused_offers_never_count_past_the_capacity() throws Exception {
    BoundedQueue<Integer> q = new BoundedQueue<>(4);
    for (int i = 0; i < 4; i++) {
      assertThat(q.offer(i)).isTrue();
    }
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> refused = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      refused.add(Thread.ofPlatform().daemon().start(() -> {
        while (!stop.get()) {
          q.offer(-1);
        }
      }));
    }
    int largest = 0;
    try {
      for (int i = 0; i < 2_000_000; i++) {
        largest = Math.max(largest, q.size());
      }
    } finally {
      stop.set(true);
    }
    for (Thread t : refused) {
      t.join();
    }
    assertThat(largest).isEqualTo(4);
    assertThat(q.size()).isEqualTo(4);
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
