package dev.jevons.scheduler;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * One request waiting in (or dispatched from) the {@link FairQueue}. The request's thread blocks
 * in {@link #await}; the dispatcher hands it a slot on a replica, or the queue sheds it.
 */
public final class Ticket {
  /** Where a ticket is in its life; it moves only forward. */
  public enum State { QUEUED, DISPATCHED, SHED, EXPIRED, CANCELLED }

  final long seq;
  final String accountId;
  final double weight;
  final int band;
  final String model;
  final long promptTokens;
  final long maxOutputTokens;
  final long enqueuedNanos;
  final long deadlineNanos;
  final PromptPrefix prefix;
  /** Uncached prompt tokens the chosen server still has to prefill for this ticket. */
  final java.util.concurrent.atomic.AtomicLong prefillPending = new java.util.concurrent.atomic.AtomicLong();
  /** Set at the first token, so the start latency is measured once per request. */
  final java.util.concurrent.atomic.AtomicBoolean firstToken = new java.util.concurrent.atomic.AtomicBoolean();
  /** Set once the dispatched server's capacity has been given back, so it is given back once. */
  final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

  /** Taken to change the state and to wait for a change; reads need not take it (see {@link #transition}). */
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private volatile State state = State.QUEUED;
  private volatile @Nullable Object slot;
  private volatile @Nullable String reason;
  private volatile long dispatchedNanos;

  Ticket(long seq, TicketSpec spec, long nowNanos) {
    this.seq = seq;
    this.accountId = spec.accountId();
    this.weight = spec.weight();
    this.band = spec.band();
    this.model = spec.model();
    this.promptTokens = spec.promptTokens();
    this.maxOutputTokens = spec.maxOutputTokens();
    this.enqueuedNanos = nowNanos;
    this.deadlineNanos = nowNanos + spec.maxWaitNanos();
    this.prefix = spec.prefix();
  }

  /** Weighted tokens this request is expected to cost in VTC terms (input x1, output x2). */
  long costTokens() {
    return promptTokens + 2 * maxOutputTokens;
  }

  long queuedTokens() {
    return promptTokens + maxOutputTokens;
  }

  public String accountId() {
    return accountId;
  }

  public String model() {
    return model;
  }

  public int band() {
    return band;
  }

  public long enqueuedNanos() {
    return enqueuedNanos;
  }

  public long deadlineNanos() {
    return deadlineNanos;
  }

  public State state() {
    return state;
  }

  /** The dispatcher's slot object (a replica handle) once dispatched. */
  public @Nullable Object slot() {
    return slot;
  }

  /** Why the ticket was shed or expired, for the client's error. */
  public @Nullable String reason() {
    return reason;
  }

  long dispatchedNanos() {
    return dispatchedNanos;
  }

  public long waitedNanos() {
    long dispatched = dispatchedNanos;
    return dispatched == 0 ? 0 : dispatched - enqueuedNanos;
  }

  boolean dispatch(Object slot, long nowNanos) {
    return transition(State.DISPATCHED, slot, null, nowNanos);
  }

  boolean finish(State end, String why) {
    return transition(end, null, why, 0);
  }

  private boolean transition(State to, @Nullable Object slot, @Nullable String why, long nowNanos) {
    lock.lock();
    try {
      if (state != State.QUEUED) {
        return false;
      }
      // The state is written last: a reader that sees it changed sees the rest.
      this.slot = slot;
      this.reason = why;
      this.dispatchedNanos = nowNanos;
      state = to;
      changed.signalAll();
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the ticket leaves the queue or {@code maxNanos} pass; returns the state then.
   * Waiting in slices lets a caller send keep-alives between slices.
   */
  public State await(long maxNanos) throws InterruptedException {
    State now = state;
    if (now != State.QUEUED) {
      return now; // dispatched at once, as it mostly is when a server has room
    }
    lock.lock();
    try {
      long left = maxNanos;
      while (state == State.QUEUED && left > 0) {
        left = changed.awaitNanos(left);
      }
      return state;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public String toString() {
    return "ticket#" + seq + "(" + accountId + ", " + model + ", band " + band + ")";
  }

  static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }
}
