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
 * (both in the queue's unit, estimated prompt plus max output); and, when every server is busy,
 * at least the time until the slot it would take frees, from when the running requests started
 * and their measured time per queued token (slots of requests that started together free
 * together, not evenly). The wait budget is the request's deadline less the measured time from
 * dispatch to first token (so an admitted request is predicted to produce its first token, not
 * merely to start, within its deadline); and while the model's queue is standing the budget is
 * at most {@code queueTarget}. The queue stands once every server of the model has been busy
 * with work waiting for a tenth of the target (the interval), and stops standing once some
 * server has had idle capacity (room, nothing queued for it) for an interval. Idle capacity, not
 * an empty queue, is the signal, and it must last: admission itself keeps the queue short, so
 * under overload it empties, and a slot sits free, for the few milliseconds until the next
 * arrival, and that must not reopen the deadline-long burst allowance. Under sustained overload
 * a longer queue adds wait without adding throughput: the servers are busy either way, so
 * Jevons keeps just enough queue to keep them fed and tells the rest to retry at once. A burst
 * (what arrives within the interval of the servers filling up) still waits up to its deadline.
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
  /**
   * How long a signal must last before the queue changes state: busy with work waiting, to start
   * standing; idle capacity, to stop. A tenth of the target (CoDel's 100 ms interval by default).
   */
  private final long intervalNanos;
  /** Per model: a moving average of the time from dispatch to first token, in nanoseconds. */
  private final Map<String, Smoothed> startLatency = new ConcurrentHashMap<>();
  /** Per model: a moving average of the time from dispatch to completion per queued token, in nanoseconds. */
  private final Map<String, Smoothed> serviceNanosPerToken = new ConcurrentHashMap<>();
  /** Per model: the dispatched tickets still holding a server's capacity, for when the next slots free. */
  private final Map<String, Set<Ticket>> running = new ConcurrentHashMap<>();
  /** Uncached prompt tokens dispatched to each server and not yet prefilled, for the router. */
  private final Map<String, AtomicLong> prefillBacklog = new ConcurrentHashMap<>();

  /** With the default standing-queue target, {@link #DEFAULT_QUEUE_TARGET_NANOS}. */
  public Admission(FairQueue queue, Supplier<List<? extends Server>> servers, Router router, LongSupplier nanoTime) {
    this(queue, servers, router, nanoTime, DEFAULT_QUEUE_TARGET_NANOS);
  }

  /**
   * @param queueTargetNanos the longest predicted wait admitted while the queue is standing; a
   *     tenth of it is how long the servers must stay busy with work waiting for the queue to
   *     count as standing, and how long idle capacity must last for it to stop; 0 turns the rule
   *     off (only deadlines bound the wait)
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
    this.intervalNanos = queueTargetNanos / 10;
  }

  public static final long DEFAULT_QUEUE_TARGET_NANOS = TimeUnit.SECONDS.toNanos(1);

  /**
   * Exponentially weighted moving average (weight 1/8 per sample, like TCP's smoothed RTT): recent
   * enough to follow a change in the servers' load, smooth enough that one slow prefill or one
   * request that stopped early does not swing the prediction.
   */
  private static final class Smoothed {
    private double value = -1;

    synchronized void record(double sample) {
      value = value < 0 ? sample : value + (sample - value) / 8;
    }

    /** The average, or 0 before any sample. */
    synchronized double value() {
      return Math.max(0, value);
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
    queue.asked(spec);
    double perSecond = rate.tokensPerSecond(spec.model(), now);
    if (perSecond > 0) {
      // Nothing ahead and a server with room means the request starts at once: no prediction.
      long ahead = queue.tokensAheadOf(spec);
      long own = spec.promptTokens() + spec.maxOutputTokens();
      // Only when every server is busy does the request wait for a running one to end.
      long untilSlotNanos = hasRoom(spec.model(), now) ? 0 : untilSlotFreesNanos(spec.model(), ahead, own, now);
      if (ahead > 0 || untilSlotNanos > 0) {
        long fluidNanos = ahead > 0 ? (long) ((ahead + own) / perSecond * 1e9) : 0;
        long predictedNanos = Math.max(fluidNanos, untilSlotNanos);
        long startNanos = startLatencyNanos(spec.model());
        long deadlineBudget = Math.max(0, spec.maxWaitNanos() - startNanos);
        long backlogAge = busyForNanos(spec.model(), now);
        boolean standing = queueTargetNanos > 0 && backlogAge >= intervalNanos;
        long budget = standing ? Math.min(deadlineBudget, queueTargetNanos) : deadlineBudget;
        if (predictedNanos > budget) {
          String limit =
              budget == deadlineBudget
                  ? String.format("the queue deadline of %.1f s less %.2f s from dispatch to first token", spec.maxWaitNanos() / 1e9, startNanos / 1e9)
                  : String.format("the %.1f s a standing queue is held to (no server of '%s' has had idle capacity for %.1f s)",
                      queueTargetNanos / 1e9, spec.model(), backlogAge / 1e9);
          String why =
              untilSlotNanos >= fluidNanos
                  ? String.format(
                      "every server of '%s' is busy and the slot this request would take (after %,d tokens ahead of it under fair sharing) is expected to free in %.1f s",
                      spec.model(), ahead, untilSlotNanos / 1e9)
                  : String.format(
                      "%,d tokens for '%s' are ahead of this request under fair sharing and the fleet completes %,.0f tokens/s",
                      ahead, spec.model(), perSecond);
          return new Refused(String.format("predicted wait %.1f s exceeds %s: %s", predictedNanos / 1e9, limit, why), predictedNanos - budget);
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
   * queued for it) and ends every other model's. A spell that lasted {@code intervalNanos} ends the
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
        if (now - spell.getValue() >= intervalNanos) {
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
   * end of the last idle spell (room with nothing queued) that lasted {@code intervalNanos}. A
   * model never seen, or idle for that long now, counts as not busy.
   */
  private long busyForNanos(String model, long now) {
    Long since = idleSinceNanos.get(model);
    if (since != null && now - since >= intervalNanos) {
      return 0;
    }
    Long busySince = lastIdleNanos.putIfAbsent(model, now);
    return busySince == null ? 0 : Math.max(0, now - busySince);
  }

  private boolean hasRoom(String model, long now) {
    for (Server s : servers.get()) {
      if (s.models().contains(model) && s.hasRoom(now)) {
        return true;
      }
    }
    return false;
  }

  /**
   * When the slot a new request would take frees, from the requests now running: with {@code
   * ahead} queued tokens before it (about {@code ahead / own} requests), it takes the next slot
   * after theirs, and a running request is expected to end its measured time per queued token
   * after its dispatch. The fluid estimate (tokens ahead over the service rate) assumes slots
   * free evenly; they do not when requests of one length started together (an overload's onset
   * fills every slot at once, and each freed slot is refilled at once, so they keep ending in
   * waves a request's length apart), and a request queued just after a wave then waits a whole
   * request's time, not the fluid estimate. 0 when no completion has been measured yet; beyond
   * the running requests, the last of them (a lower bound; the fluid estimate covers the rest).
   */
  private long untilSlotFreesNanos(String model, long ahead, long own, long now) {
    Smoothed perToken = serviceNanosPerToken.get(model);
    Set<Ticket> busy = running.get(model);
    if (perToken == null || busy == null || perToken.value() <= 0) {
      return 0;
    }
    double nanosPerToken = perToken.value();
    long[] left = new long[busy.size()];
    int n = 0;
    for (Ticket t : busy) {
      if (n == left.length) {
        break;
      }
      left[n++] = Math.max(0, t.dispatchedNanos() + (long) (nanosPerToken * t.queuedTokens()) - now);
    }
    if (n == 0) {
      return 0;
    }
    long position = ahead / Math.max(1, own);
    return kthSmallest(left, n, (int) Math.min(n - 1, position));
  }

  /**
   * The k-th smallest (from 0) of {@code values[0..n)}, reordering them: Hoare's selection, linear
   * on average, so a fleet of thousands of slots costs no sort per arrival.
   */
  static long kthSmallest(long[] values, int n, int k) {
    int lo = 0;
    int hi = n - 1;
    while (lo < hi) {
      long pivot = values[(lo + hi) >>> 1];
      int i = lo;
      int j = hi;
      while (i <= j) {
        while (values[i] < pivot) {
          i++;
        }
        while (values[j] > pivot) {
          j--;
        }
        if (i <= j) {
          long swap = values[i];
          values[i] = values[j];
          values[j] = swap;
          i++;
          j--;
        }
      }
      if (k <= j) {
        hi = j;
      } else if (k >= i) {
        lo = i;
      } else {
        return values[k];
      }
    }
    return values[k];
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
    running.computeIfAbsent(ticket.model(), m -> ConcurrentHashMap.newKeySet()).add(ticket);
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
      startLatency.computeIfAbsent(t.model(), m -> new Smoothed()).record(Math.max(0, nanoTime.getAsLong() - t.dispatchedNanos()));
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
    long now = nanoTime.getAsLong();
    if (!t.released.get() && outputTokens > 0 && t.queuedTokens() > 0) {
      // Only a request that held its slot to the end says how long a slot stays taken.
      serviceNanosPerToken.computeIfAbsent(t.model(), m -> new Smoothed()).record((double) Math.max(0, now - t.dispatchedNanos()) / t.queuedTokens());
    }
    release(t);
    queue.correct(t.accountId(), weight, t.costTokens(), promptTokens, outputTokens);
    // The rate is measured in the queue's own unit (estimated prompt + max output per request):
    // queued tokens over queued tokens cleared per second is an unbiased wait however far the
    // estimates are from actual usage (requests that stop early, a rough prompt estimate).
    rate.record(t.model(), t.queuedTokens(), now);
    pump();
  }

  /**
   * Gives the dispatched server's capacity back before the request ends (its first attempt failed
   * and it moves to another server); idempotent, and {@link #complete} will not give it back again.
   */
  public void handBack(Ticket t) {
    if (release(t)) {
      pump();
    }
  }

  /** Frees the ticket's server, once; whether this call did (the caller dispatches what fits). */
  private boolean release(Ticket t) {
    if (!t.released.compareAndSet(false, true)) {
      return false;
    }
    clearPrefill(t);
    Set<Ticket> busy = running.get(t.model());
    if (busy != null) {
      busy.remove(t);
    }
    if (t.slot() instanceof Server s) {
      s.release();
    }
    return true;
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
    Smoothed l = startLatency.get(model);
    return l == null ? 0 : (long) l.value();
  }

  static long seconds(long nanos) {
    return TimeUnit.NANOSECONDS.toSeconds(nanos);
  }
}
