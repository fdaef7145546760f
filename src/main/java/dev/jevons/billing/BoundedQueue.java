package dev.jevons.billing;

import java.util.Collection;
import java.util.concurrent.LinkedTransferQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The ledger's command queue: many threads offer, whoever combines (or the shared mode's writer)
 * drains. Lock-free on both sides, with a capacity: an {@link java.util.concurrent.ArrayBlockingQueue}
 * puts offers, drains and every emptiness check under one lock, which the gateway's request
 * threads contended for twice per billed request (docs/BENCHMARKS.md, session 9).
 */
final class BoundedQueue<E> {
  private final LinkedTransferQueue<E> elements = new LinkedTransferQueue<>();
  /**
   * Elements in the queue plus offers under way, never above {@link #capacity}: an offer claims a
   * place before it adds (so a full queue never grows) and a take gives it back after it removes.
   */
  private final AtomicInteger count = new AtomicInteger();
  private final int capacity;

  BoundedQueue(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1: " + capacity);
    }
    this.capacity = capacity;
  }

  /** Adds {@code e} unless the queue is full. */
  boolean offer(E e) {
    // Claimed only while there is room: a refused offer never counts, even for a moment, so it
    // cannot crowd out an offer that fits (as incrementing first and undoing would).
    for (int n = count.get(); ; n = count.get()) {
      if (n >= capacity) {
        return false;
      }
      if (count.compareAndSet(n, n + 1)) {
        break;
      }
    }
    elements.offer(e);
    return true;
  }

  @Nullable E poll() {
    return taken(elements.poll());
  }

  /** Waits up to {@code timeout} for an element. */
  @Nullable E poll(long timeout, TimeUnit unit) throws InterruptedException {
    return taken(elements.poll(timeout, unit));
  }

  /** Moves up to {@code max} elements, oldest first, to {@code into}; returns how many. */
  int drainTo(Collection<? super E> into, int max) {
    int n = 0;
    for (E e; n < max && (e = poll()) != null; n++) {
      into.add(e);
    }
    return n;
  }

  /** Moves what is queued now to {@code into} (at most the capacity, so steady offers cannot stretch it). */
  int drainTo(Collection<? super E> into) {
    return drainTo(into, capacity);
  }

  /** Takes {@code e} out if it is still queued. */
  boolean remove(E e) {
    if (elements.remove(e)) {
      count.decrementAndGet();
      return true;
    }
    return false;
  }

  boolean isEmpty() {
    return elements.isEmpty();
  }

  /** Elements queued, counting offers under way and takes not yet given back; at most the capacity. */
  int size() {
    return count.get();
  }

  private @Nullable E taken(@Nullable E e) {
    if (e != null) {
      count.decrementAndGet();
    }
    return e;
  }
}
