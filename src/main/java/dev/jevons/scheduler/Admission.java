package dev.jevons.scheduler;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Late binding of requests to inference servers: requests wait in Jevons' {@link FairQueue}, not
 * in the servers' own queues, and are dispatched the moment a server that serves their model has
 * room. Rejects early, before any prefill is spent, when the queue is full or the predicted wait
 * exceeds the wait budget.
 *
 * <p>The predicted wait is the work fair queueing would serve before the request ({@link
 * FairQueue#tokensAheadOf}: a light account's request is not charged for a heavy account's
 * backlog) divided by the queued tokens per second the servers cleared for the model lately
 * (both in the queue's unit, estimated prompt plus max output). The wait
 * budget is the request's deadline less the measured time from dispatch to first token (so an
 * admitted request is predicted to produce its first token, not merely to start, within its
 * deadline); and while the model's queue is standing (no server of the model has had idle
 * capacity for {@code queueTarget}) the budget is at most {@code queueTarget}. Idle capacity, not
 * an empty queue, is the signal: admission itself keeps the queue short, so under overload it
 * may empty for a moment while every server is still busy, and that must not reopen the
 * deadline-long burst allowance. Under sustained overload a longer queue adds wait
 * without adding throughput: the servers are busy either way, so Jevons keeps just enough queue
 * to keep them fed and tells the rest to retry at once. A burst on a fleet that is catching up
 * still waits up to its deadline.
 *
 * <p>Work conservation: {@link #pump} runs whenever capacity may have appeared (a request ended,
 * a request arrived, the periodic timer) and dispatches until no server with room has a waiting
 * request it can serve. The {@link Router} chooses among the servers with room: prefix-cache
 * affinity first, then load (uncached prefill backlog, then slot use).
 */
public final class Admission {
  private final FairQueue queue;
  private final Supplier<List<? extends Server>> servers;
  private final LongSupplier nanoTime;
  private final Router router;
  private final ServiceRate rate = new ServiceRate(30);
  private final long queueTargetNanos;
  /** Per model: when its servers' current busy period began (the end of the last lasting idle spell). */
  private final Map<String, Long> lastIdleNanos = new ConcurrentHashMap<>();
  /** Per model: since when a server of it has had room with nothing queued for it; absent when not so now. */
  private final Map<String, Long> idleSinceNanos = new ConcurrentHashMap<>();
  private final long idleMinNanos;
  /** Per model: a moving average of the time from dispatch to first token, in nanoseconds. */
  private final Map<String, StartLatency> startLatency = new ConcurrentHashMap<>();
  /** Uncached prompt tokens dispatched to each server and not yet prefilled, for the router. */
  private final Map<String, AtomicLong> prefillBacklog = new ConcurrentHashMap<>();

  /** With the default standing-queue target, {@link #DEFAULT_QUEUE_TARGET_NANOS}. */
  public Admission(FairQueue queue, Supplier<List<? extends Server>> servers, Router router, LongSupplier nanoTime) {
    this(queue, servers, router, nanoTime, DEFAULT_QUEUE_TARGET_NANOS);
  }

  /**
   * @param queueTargetNanos the longest predicted wait admitted while the queue is standing, and
   *     how long it must go without emptying to count as standing; 0 turns the rule off (only
   *     deadlines bound the wait)
   */
  public Admission(
      FairQueue queue, Supplier<List<? extends Server>> servers, Router router, LongSupplier nanoTime, long queueTargetNanos) {
    if (queueTargetNanos < 0) {
      throw new IllegalArgumentException("queueTargetNanos must be >= 0: " + queueTargetNanos);
    }
    this.queue = queue;
    this.servers = servers;
    this.router = router;
    this.nanoTime = nanoTime;
    this.queueTargetNanos = queueTargetNanos;
    this.idleMinNanos = queueTargetNanos / 10;
  }

  public static final long DEFAULT_QUEUE_TARGET_NANOS = TimeUnit.SECONDS.toNanos(1);

  /**
   * Exponentially weighted moving average (weight 1/8 per sample, like TCP's smoothed RTT): recent
   * enough to follow a change in the servers' load, smooth enough that one slow prefill does not
   * swing the budget.
   */
  private static final class StartLatency {
    private double nanos = -1;

    synchronized void record(long sample) {
      nanos = nanos < 0 ? sample : nanos + (sample - nanos) / 8;
    }

    synchronized long nanos() {
      return nanos < 0 ? 0 : (long) nanos;
    }
  }

  /** The outcome of {@link #enqueue}: waiting (or already dispatched), or refused at once. */
  public sealed interface Result permits Waiting, Refused {}

  public record Waiting(Ticket ticket) implements Result {}

  /** Refused before waiting, with the state behind the decision and when a retry may succeed. */
  public record Refused(String reason, long retryAfterNanos) implements Result {}

  /**
   * Queues a request and dispatches at once if a server has room. Refuses when the queue is full
   * (lower bands, then accounts past their fair share, are displaced first) or the predicted wait
   * is longer than the wait budget (see the class comment).
   */
  public Result enqueue(TicketSpec spec) {
    long now = nanoTime.getAsLong();
    double perSecond = rate.tokensPerSecond(spec.model(), now);
    if (perSecond > 0) {
      // Nothing ahead means the request takes the next free slot: never refused on a prediction.
      long ahead = queue.tokensAheadOf(spec);
      if (ahead > 0) {
        long predictedNanos = (long) ((ahead + spec.promptTokens() + spec.maxOutputTokens()) / perSecond * 1e9);
        long startNanos = startLatencyNanos(spec.model());
        long deadlineBudget = Math.max(0, spec.maxWaitNanos() - startNanos);
        long backlogAge = busyForNanos(spec.model(), now);
        boolean standing = queueTargetNanos > 0 && backlogAge >= queueTargetNanos;
        long budget = standing ? Math.min(deadlineBudget, queueTargetNanos) : deadlineBudget;
        if (predictedNanos > budget) {
          String limit =
              budget == deadlineBudget
                  ? String.format("the queue deadline of %.1f s less %.2f s from dispatch to first token", spec.maxWaitNanos() / 1e9, startNanos / 1e9)
                  : String.format("the %.1f s a standing queue is held to (no server of '%s' has had idle capacity for %.1f s)",
                      queueTargetNanos / 1e9, spec.model(), backlogAge / 1e9);
          return new Refused(
              String.format(
                  "predicted wait %.1f s exceeds %s: %,d tokens for '%s' are ahead of this request under fair sharing and the fleet completes %,.0f tokens/s",
                  predictedNanos / 1e9, limit, ahead, spec.model(), perSecond),
              predictedNanos - budget);
        }
      }
    }
    Ticket t = queue.enqueue(spec);
    if (t.state() == Ticket.State.SHED) {
      return new Refused(String.valueOf(t.reason()), TimeUnit.SECONDS.toNanos(1));
    }
    try {
      pump();
    } catch (RuntimeException e) {
      // The ticket is queued and its waiter will see it dispatched by the next tick.
      System.getLogger(Admission.class.getName()).log(System.Logger.Level.ERROR, "dispatch failed; the timer retries", e);
    }
    return new Waiting(t);
  }

  /** Dispatches waiting tickets to servers with room until none can take more. */
  public void pump() {
    long now = nanoTime.getAsLong();
    while (true) {
      List<Server> withRoom = new ArrayList<>();
      Set<String> models = new HashSet<>();
      for (Server s : servers.get()) {
        if (s.hasRoom(now)) {
          withRoom.add(s);
          models.addAll(s.models());
        }
      }
      if (withRoom.isEmpty()) {
        idleNow(Set.of(), now);
        return;
      }
      Ticket t = queue.dispatchNext(models, ticket -> route(withRoom, ticket, now));
      if (t == null) {
        // Capacity offered and nothing queued for it: those models have idle capacity now.
        Set<String> idle = new HashSet<>();
        for (String m : models) {
          if (!queue.hasWaiting(m)) {
            idle.add(m);
          }
        }
        idleNow(idle, now);
        return;
      }
    }
  }

  /**
   * Starts an idle spell for each model in {@code idle} (a server of it has room and nothing is
   * queued for it) and ends every other model's. A spell that lasted {@code idleMinNanos} ends the
   * model's standing queue: its busy period starts again when the spell ends. A shorter one is
   * the gap between a slot freeing and the next arrival taking it, which under overload happens
   * many times a second while demand still exceeds the servers; it changes nothing.
   */
  private synchronized void idleNow(Set<String> idle, long now) {
    for (String m : idle) {
      idleSinceNanos.putIfAbsent(m, now);
    }
    for (var it = idleSinceNanos.entrySet().iterator(); it.hasNext(); ) {
      var spell = it.next();
      if (!idle.contains(spell.getKey())) {
        if (now - spell.getValue() >= idleMinNanos) {
          lastIdleNanos.put(spell.getKey(), now);
        } else {
          // A model's first busy period starts when its first idle spell ends, however short.
          lastIdleNanos.putIfAbsent(spell.getKey(), now);
        }
        it.remove();
      }
    }
  }

  /**
   * How long the servers of {@code model} have been busy with work waiting for them: since the
   * end of the last idle spell (room with nothing queued) that lasted {@code idleMinNanos}. A
   * model never seen, or idle for that long now, counts as not busy.
   */
  private long busyForNanos(String model, long now) {
    Long since = idleSinceNanos.get(model);
    if (since != null && now - since >= idleMinNanos) {
      return 0;
    }
    Long busySince = lastIdleNanos.putIfAbsent(model, now);
    return busySince == null ? 0 : Math.max(0, now - busySince);
  }

  /** Picks the server for a ticket among those with room; runs under the queue's lock. */
  private @Nullable Server route(List<Server> withRoom, Ticket ticket, long now) {
    List<Server> serving = new ArrayList<>(withRoom.size());
    List<Router.Candidate> candidates = new ArrayList<>(withRoom.size());
    for (Server s : withRoom) {
      if (s.models().contains(ticket.model())) {
        serving.add(s);
        candidates.add(
            new Router.Candidate(
                s.name(),
                s.inFlight(),
                Math.max(1, s.maxConcurrency()),
                Math.max(0, backlog(s).get()),
                s.prefillTokensPerSecond(),
                false));
      }
    }
    Optional<Router.Route> route = router.route(ticket.model(), candidates, ticket.prefix, ticket.promptTokens);
    if (route.isEmpty()) {
      return null;
    }
    Server chosen = serving.get(route.get().index());
    if (!chosen.tryAcquire(now)) {
      return null;
    }
    router.dispatched(ticket.model(), route.get(), ticket.prefix);
    long uncached = route.get().uncachedPromptTokens();
    ticket.prefillPending.set(uncached);
    backlog(chosen).addAndGet(uncached);
    return chosen;
  }

  private AtomicLong backlog(Server s) {
    return prefillBacklog.computeIfAbsent(s.name(), k -> new AtomicLong());
  }

  /**
   * The server produced the ticket's first token: its prompt no longer waits for prefill, and the
   * time since dispatch feeds the start-latency margin of the wait budget.
   */
  public void prefilled(Ticket t) {
    if (t.state() == Ticket.State.DISPATCHED && t.firstToken.compareAndSet(false, true)) {
      startLatency.computeIfAbsent(t.model(), m -> new StartLatency()).record(Math.max(0, nanoTime.getAsLong() - t.dispatchedNanos()));
    }
    clearPrefill(t);
  }

  private void clearPrefill(Ticket t) {
    long pending = t.prefillPending.getAndSet(0);
    if (pending > 0 && t.slot() instanceof Server s) {
      backlog(s).addAndGet(-pending);
    }
  }

  /**
   * Ends a dispatched request: frees its server, corrects the account's fair-share counter with
   * the actual usage, feeds the service-rate measurement and dispatches what now fits.
   */
  public void complete(Ticket t, double weight, long promptTokens, long outputTokens) {
    handBack(t);
    queue.correct(t.accountId(), weight, t.costTokens(), promptTokens, outputTokens);
    // The rate is measured in the queue's own unit (estimated prompt + max output per request):
    // queued tokens over queued tokens cleared per second is an unbiased wait however far the
    // estimates are from actual usage (requests that stop early, a rough prompt estimate).
    rate.record(t.model(), t.queuedTokens(), nanoTime.getAsLong());
    pump();
  }

  /**
   * Gives the dispatched server's capacity back before the request ends (its first attempt failed
   * and it moves to another server); idempotent, and {@link #complete} will not give it back again.
   */
  public void handBack(Ticket t) {
    if (!t.released.compareAndSet(false, true)) {
      return;
    }
    clearPrefill(t);
    if (t.slot() instanceof Server s) {
      s.release();
    }
    pump();
  }

  public boolean cancel(Ticket t) {
    return queue.cancel(t);
  }

  /** For the periodic timer: expires overdue tickets and dispatches anything that fits. */
  public void tick() {
    // Runs on a periodic timer, which stops for good if an exception escapes it: nothing may.
    try {
      queue.expireDue();
      pump();
    } catch (RuntimeException e) {
      System.getLogger(Admission.class.getName()).log(System.Logger.Level.ERROR, "admission tick failed", e);
    }
  }

  public FairQueue queue() {
    return queue;
  }

  public Router router() {
    return router;
  }

  public double tokensPerSecond(String model) {
    return rate.tokensPerSecond(model, nanoTime.getAsLong());
  }

  /** The smoothed time from dispatch to first token for {@code model}; 0 before any was seen. */
  public long startLatencyNanos(String model) {
    StartLatency l = startLatency.get(model);
    return l == null ? 0 : l.nanos();
  }

  static long seconds(long nanos) {
    return TimeUnit.NANOSECONDS.toSeconds(nanos);
  }
}
