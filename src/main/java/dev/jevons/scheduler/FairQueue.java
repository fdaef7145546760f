package dev.jevons.scheduler;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The queue requests wait in for capacity: strict priority bands, and within a band fair sharing
 * across accounts by Virtual Token Counter.
 *
 * <p>Implementation note. Follows VTC (Sheng et al., "Fairness in Serving Large Language Models",
 * OSDI 2024): every account has a counter of weighted service, {@code (input + 2 x output) /
 * weight} tokens; among backlogged accounts the one with the smallest counter is served next; an
 * account that becomes backlogged is lifted to the smallest counter of those already backlogged, so
 * it cannot bank idle time. Counters are charged with the request's estimate at dispatch (prompt
 * plus {@code max_tokens}) and corrected with the actual usage on completion ({@link #correct}).
 * Bands are strict: a lower band (higher number) is served only when no higher band has a ticket
 * for the capacity being offered. Within one account, tickets are FIFO; among accounts with equal
 * counters, the one whose oldest ticket has waited longest goes first.
 *
 * <p>Invariants: a ticket is in exactly one lane while QUEUED and in none after; the queued token
 * total equals the sum over queued tickets; the queue never holds more than {@code
 * maxQueuedTokens}. A new ticket that does not fit displaces queued tickets of strictly lower
 * bands, newest first; then, within its own band, the newest ticket of the account whose backlog
 * reaches furthest in counter terms, but only if VTC would serve that ticket after the new one
 * (so a heavy account's excess is shed before a light account is refused); otherwise it is shed
 * itself. Concurrency: one lock guards everything; enqueue and dispatch are O(log n) in queued
 * accounts when the queue has room; {@link #cancel} is linear in that account's own tickets,
 * displacement and {@link #tokensAheadOf} in the accounts of a band. Deadlines are enforced by
 * {@link #expireDue} from a timer and by waiters themselves.
 * What is approximate: counters use doubles (they are not money), and correction on completion
 * may move an account that is no longer backlogged, which only affects its lift.
 */
public final class FairQueue {
  static final int MAX_BANDS = 8;

  private final LongSupplier nanoTime;
  private final long maxQueuedTokens;
  private final int maxTickets;

  // All state below is guarded by `this`.
  private final Map<String, Lane> lanes = new HashMap<>();
  private final Map<String, Account> accounts = new HashMap<>();
  private final TreeSet<Account> backlogged = new TreeSet<>(Account.BY_COUNTER);
  // A sorted set, not a PriorityQueue: every dispatch removes its ticket from here, and a heap's
  // remove(Object) is a linear scan (about 5 us per dispatch at 10,000 queued; docs/BENCHMARKS.md).
  private final TreeSet<Ticket> byDeadline =
      new TreeSet<>(Comparator.comparingLong(Ticket::deadlineNanos).thenComparingLong(t -> t.seq));
  private final long[] queuedTokensByBand = new long[MAX_BANDS];
  /** Per model: tickets queued and since when the model's queue has been non-empty. */
  private final Map<String, long[]> backlogByModel = new HashMap<>();
  private long queuedTokens;
  private int queuedTickets;
  private long seq;
  /** Per lane key: what each account asked for lately and what the lane was served, for the GPS floor's weight. */
  private final Map<String, Demand> demand = new HashMap<>();

  /**
   * The time constant of the demand rates: what an account asked for (and what a lane was served)
   * counts with weight e^(-age / this), so a rate is measured over about the last 2 s.
   */
  static final long DEMAND_NANOS = 2_000_000_000L;
  /** An account that has not asked for this long is forgotten: its rate is under 2% of one request per 2 s. */
  static final long FORGET_NANOS = 4 * DEMAND_NANOS;
  /** The water-filled weight is recomputed at most this often (and whenever an account joins or leaves). */
  static final long REFRESH_NANOS = 10_000_000L;
  /** At most this many recently asking accounts are remembered per lane (the least recent go first). */
  static final int MAX_DEMAND_ACCOUNTS = 100_000;

  public FairQueue(LongSupplier nanoTime, long maxQueuedTokens, int maxTickets) {
    this.nanoTime = nanoTime;
    this.maxQueuedTokens = maxQueuedTokens;
    this.maxTickets = maxTickets;
  }

  /** A queue of one (model, band): the backlogged accounts ordered by counter. */
  private static final class Lane {
    final String model;
    final int band;
    final TreeSet<Account> accounts = new TreeSet<>(Account.BY_COUNTER);
    final Map<Account, Backlog> tickets = new HashMap<>();
    long tokens;

    Lane(String model, int band) {
      this.model = model;
      this.band = band;
    }
  }

  /**
   * The demand on one lane, for the weight of the GPS floor in {@link #tokensAheadOf}: each
   * account's rate of asking (admitted or refused, in VTC cost per second) and the lane's rate of
   * service (cost dispatched per second), both exponentially decaying sums with time constant
   * {@link #DEMAND_NANOS}.
   *
   * <p>The weight is water-filled (max-min fairness, as GPS itself shares): an account that asks
   * for less than its fair share of the service receives only what it asks for and counts as the
   * fraction of a full weight that its demand is of the fair level; the service it leaves is
   * shared by the others, who count at full weight. Counting every account that asked lately at
   * full weight (branch {@code admission}) made a light account asking 5% of the fleet hold a
   * tenth of it in the estimate: at exactly the fleet's capacity the heavy account, asking half,
   * was predicted to wait as if it got a tenth, and was refused (docs/BENCHMARKS.md, session 4).
   * Under overload every account asks for more than its share and all count in full, as before.
   *
   * <p>Rates decay together, so their ratios, and the weight, need no decay of their own between
   * asks. The weight is recomputed (a sort of the lane's accounts by demand per weight) when an
   * account joins or leaves, and otherwise at most every {@link #REFRESH_NANOS}, so an arrival
   * costs O(1) amortized however many accounts ask.
   */
  private static final class Demand {
    private static final class Asked {
      long nanos;
      double weight;
      /** Cost asked for, decayed to {@code nanos}. */
      double cost;
    }

    final java.util.LinkedHashMap<String, Asked> byAccount = new java.util.LinkedHashMap<>(16, 0.75f, true);
    /** Cost dispatched from the lane, decayed to {@code servedNanos}. */
    double served;
    long servedNanos;
    double weight;
    long weightNanos;
    boolean stale = true;

    static double decayed(double value, long ageNanos) {
      return ageNanos <= 0 ? value : value * Math.exp(-(double) ageNanos / DEMAND_NANOS);
    }

    void asked(String accountId, double w, long cost, long now) {
      forget(now);
      Asked e = byAccount.get(accountId);
      if (e == null) {
        if (byAccount.size() >= MAX_DEMAND_ACCOUNTS) {
          var eldest = byAccount.entrySet().iterator();
          eldest.next();
          eldest.remove();
        }
        e = new Asked();
        byAccount.put(accountId, e);
        stale = true;
      }
      e.cost = decayed(e.cost, now - e.nanos) + cost;
      e.nanos = now;
      e.weight = w;
    }

    void served(long cost, long now) {
      served = decayed(served, now - servedNanos) + cost;
      servedNanos = now;
    }

    boolean knows(String accountId) {
      return byAccount.containsKey(accountId);
    }

    private void forget(long now) {
      for (var it = byAccount.values().iterator(); it.hasNext(); ) {
        if (now - it.next().nanos < FORGET_NANOS) {
          break;
        }
        it.remove();
        stale = true;
      }
    }

    /** The water-filled weight of the accounts that asked lately (see the class comment). */
    double weight(long now) {
      forget(now);
      if (stale || now - weightNanos >= REFRESH_NANOS) {
        weight = waterFilled(now);
        weightNanos = now;
        stale = false;
      }
      return weight;
    }

    private double waterFilled(long now) {
      int n = byAccount.size();
      double[][] byRatio = new double[n][];
      double asked = 0;
      double total = 0;
      int i = 0;
      for (Asked e : byAccount.values()) {
        double d = decayed(e.cost, now - e.nanos);
        byRatio[i++] = new double[] {d / e.weight, d, e.weight};
        asked += d;
        total += e.weight;
      }
      double service = decayed(served, now - servedNanos);
      if (n == 0 || !(service > 0)) {
        // Nothing served lately: no fair level to measure, so every account counts in full.
        return total;
      }
      java.util.Arrays.sort(byRatio, Comparator.comparingDouble((double[] x) -> x[0]));
      if (asked <= service) {
        // The lane is not short: every account gets what it asks; the fair level is the largest ask.
        double level = byRatio[n - 1][0];
        return level > 0 ? asked / level : total;
      }
      // Raise the level until the service is used up: accounts below it are satisfied.
      double left = service;
      double capped = total;
      double satisfied = 0;
      for (double[] x : byRatio) {
        if (x[1] > x[2] * left / capped) {
          break;
        }
        left -= x[1];
        capped -= x[2];
        satisfied += x[1];
      }
      double level = left / capped;
      return capped + (level > 0 ? satisfied / level : 0);
    }
  }

  /**
   * One account's tickets in one lane, oldest first, with their totals: queued tokens (the queue's
   * unit) and VTC cost divided by weight (the counter's unit), so the wait and shedding rules can
   * ask "how much of this account's backlog comes before counter value x" without a walk.
   */
  private static final class Backlog {
    final ArrayDeque<Ticket> tickets = new ArrayDeque<>();
    long tokens;
    double cost;

    void add(Ticket t) {
      tickets.addLast(t);
      tokens += t.queuedTokens();
      cost += t.costTokens() / t.weight;
    }

    boolean remove(Ticket t) {
      if (!tickets.remove(t)) {
        return false;
      }
      tokens -= t.queuedTokens();
      // Floating-point drift must not leave a phantom cost behind an empty backlog.
      cost = tickets.isEmpty() ? 0 : cost - t.costTokens() / t.weight;
      return true;
    }
  }

  private static final class Account {
    /**
     * Least served first; among equal counters (common: requests of one size charge equal
     * amounts, and a returning account is lifted to exactly the smallest counter), the one whose
     * oldest ticket has waited longest. Breaking ties by id instead let an account that arrived
     * later, at the same counter, overtake a request already waiting, so that request waited for
     * the next free slots after it had been predicted to take these.
     */
    static final Comparator<Account> BY_COUNTER =
        Comparator.comparingDouble((Account a) -> a.counter).thenComparingLong(a -> a.oldestSeq).thenComparing(a -> a.id);

    final String id;
    double counter;
    /** The sequence number of its oldest queued ticket when it last took its place in the orders; fixed while there. */
    long oldestSeq;
    int queued;
    final List<Lane> lanes = new ArrayList<>(2);

    Account(String id) {
      this.id = id;
    }
  }

  /**
   * Records that an account asked for service (admitted or not): its rate of asking sets its
   * weight in the GPS floor of {@link #tokensAheadOf}, backlogged or not. Every arrival should be
   * recorded, refused ones too: an account refused because it asks for more than its share must
   * still count as asking for more.
   */
  public synchronized void asked(TicketSpec spec) {
    demandOn(spec.model(), spec.band()).asked(spec.accountId(), spec.weight(), spec.promptTokens() + 2 * spec.maxOutputTokens(), nanoTime.getAsLong());
  }

  private Demand demandOn(String model, int band) {
    return demand.computeIfAbsent(model + '\u0000' + band, k -> new Demand());
  }

  /** Adds a ticket, or returns it already SHED (with the reason) when it cannot be queued. */
  public synchronized Ticket enqueue(TicketSpec spec) {
    long now = nanoTime.getAsLong();
    Ticket t = new Ticket(++seq, spec, now);
    if (!makeRoom(t)) {
      return t;
    }
    Account a = accounts.computeIfAbsent(spec.accountId(), Account::new);
    if (a.queued == 0) {
      // Lift: an account returning from idle starts at the least served backlogged account.
      if (!backlogged.isEmpty()) {
        a.counter = Math.max(a.counter, backlogged.first().counter);
      }
      a.oldestSeq = t.seq;
      backlogged.add(a);
    }
    String laneKey = spec.model() + '\u0000' + spec.band();
    Lane lane = lanes.computeIfAbsent(laneKey, k -> new Lane(spec.model(), spec.band()));
    Backlog q = lane.tickets.get(a);
    if (q == null) {
      q = new Backlog();
      lane.tickets.put(a, q);
      lane.accounts.add(a);
      a.lanes.add(lane);
    }
    q.add(t);
    a.queued++;
    lane.tokens += t.queuedTokens();
    queuedTokens += t.queuedTokens();
    queuedTokensByBand[t.band] += t.queuedTokens();
    queuedTickets++;
    long[] m = backlogByModel.computeIfAbsent(t.model, k -> new long[] {0, now});
    m[0]++;
    byDeadline.add(t);
    return t;
  }

  private boolean makeRoom(Ticket t) {
    long need = t.queuedTokens();
    if (need > maxQueuedTokens) {
      t.finish(Ticket.State.SHED, "the request alone (" + need + " tokens) exceeds the queue's capacity of " + maxQueuedTokens + " tokens");
      return false;
    }
    while (queuedTokens + need > maxQueuedTokens || queuedTickets + 1 > maxTickets) {
      Ticket victim = newestOfLowestBandBelow(t.band);
      String why = "displaced from a full queue by higher-priority requests";
      if (victim == null) {
        victim = lastServedInBandAfter(t);
        why = "displaced from a full queue by an account that has received less service (fair share)";
      }
      if (victim == null) {
        t.finish(
            Ticket.State.SHED,
            "queue full: " + queuedTickets + " requests, " + queuedTokens + " tokens waiting (limits " + maxTickets + " requests, "
                + maxQueuedTokens + " tokens)");
        return false;
      }
      remove(victim);
      victim.finish(Ticket.State.SHED, why);
    }
    return true;
  }

  /**
   * The counter value at which VTC would serve a new ticket of {@code accountId}: its counter
   * (lifted as at enqueue when it is not backlogged) plus its own backlog in {@code lane} plus the
   * ticket's cost. Tickets whose accounts reach a larger value before they are served come after it.
   */
  private double finishTag(String accountId, double weight, long costTokens, @Nullable Lane lane) {
    Account a = accounts.get(accountId);
    double counter = a == null ? 0 : a.counter;
    if ((a == null || a.queued == 0) && !backlogged.isEmpty()) {
      counter = Math.max(counter, backlogged.first().counter);
    }
    Backlog own = a == null || lane == null ? null : lane.tickets.get(a);
    return counter + (own == null ? 0 : own.cost) + costTokens / weight;
  }

  /**
   * VTC-aware shedding within a band: the newest ticket of the account whose backlog reaches
   * furthest in counter terms, if that is further than the new ticket would. Such a ticket would
   * be served after the new one anyway, so trading it for the new one keeps in the queue what
   * fair queueing would serve first: a heavy account's excess is shed before a light account is
   * refused. Null when every queued ticket of the band comes before the new one.
   */
  private @Nullable Ticket lastServedInBandAfter(Ticket t) {
    double newFinish = finishTag(t.accountId, t.weight, t.costTokens(), lanes.get(t.model + '\u0000' + t.band));
    Ticket victim = null;
    double victimFinish = newFinish;
    for (Lane lane : lanes.values()) {
      if (lane.band != t.band) {
        continue;
      }
      for (Map.Entry<Account, Backlog> e : lane.tickets.entrySet()) {
        Account x = e.getKey();
        if (x.id.equals(t.accountId)) {
          continue;
        }
        double finish = x.counter + e.getValue().cost;
        if (finish > victimFinish) {
          victimFinish = finish;
          victim = e.getValue().tickets.peekLast();
        }
      }
    }
    return victim;
  }

  private @Nullable Ticket newestOfLowestBandBelow(int band) {
    for (int b = MAX_BANDS - 1; b > band; b--) {
      if (queuedTokensByBand[b] == 0) {
        continue;
      }
      Ticket newest = null;
      for (Lane lane : lanes.values()) {
        if (lane.band != b) {
          continue;
        }
        for (Backlog q : lane.tickets.values()) {
          Ticket last = q.tickets.peekLast();
          if (last != null && (newest == null || last.seq > newest.seq)) {
            newest = last;
          }
        }
      }
      if (newest != null) {
        return newest;
      }
    }
    return null;
  }

  /**
   * Takes the next ticket a replica serving {@code models} should run: highest band first, then
   * the least-served account, then that account's oldest ticket. The ticket is DISPATCHED with
   * {@code slot} by {@code slotFor} (called under the queue's lock; it must be cheap and may
   * return null to decline, e.g. when the replica turned out to be full).
   */
  public synchronized @Nullable Ticket dispatchNext(Set<String> models, java.util.function.Function<Ticket, @Nullable Object> slotFor) {
    Lane best = null;
    Account bestAccount = null;
    for (Lane lane : lanes.values()) {
      if (lane.accounts.isEmpty() || !models.contains(lane.model)) {
        continue;
      }
      Account head = lane.accounts.first();
      if (best == null
          || lane.band < best.band
          || (lane.band == best.band && Account.BY_COUNTER.compare(head, bestAccount) < 0)) {
        best = lane;
        bestAccount = head;
      }
    }
    if (best == null) {
      return null;
    }
    Ticket t = best.tickets.get(bestAccount).tickets.peekFirst();
    Object slot = slotFor.apply(t);
    if (slot == null) {
      return null;
    }
    remove(t);
    long now = nanoTime.getAsLong();
    t.dispatch(slot, now);
    charge(bestAccount, t.costTokens() / t.weight);
    demandOn(best.model, best.band).served(t.costTokens(), now);
    return t;
  }

  /** Corrects an account's counter once the actual usage of a dispatched request is known. */
  public synchronized void correct(String accountId, double weight, long estimatedCostTokens, long actualPromptTokens, long actualOutputTokens) {
    Account a = accounts.get(accountId);
    if (a == null) {
      return;
    }
    long actual = actualPromptTokens + 2 * actualOutputTokens;
    charge(a, (actual - estimatedCostTokens) / weight);
  }

  private void charge(Account a, double delta) {
    boolean queued = a.queued > 0;
    if (queued) {
      backlogged.remove(a);
      for (Lane l : a.lanes) {
        l.accounts.remove(a);
      }
    }
    a.counter += delta;
    if (queued) {
      a.oldestSeq = oldestQueuedSeq(a);
      backlogged.add(a);
      for (Lane l : a.lanes) {
        l.accounts.add(a);
      }
    } else if (!backlogged.isEmpty() && a.counter <= backlogged.first().counter) {
      // Idle and not ahead of anyone: it would be lifted on return anyway, so forget it.
      accounts.remove(a.id);
    } else if (backlogged.isEmpty()) {
      accounts.remove(a.id);
    }
  }

  private static long oldestQueuedSeq(Account a) {
    long oldest = Long.MAX_VALUE;
    for (Lane l : a.lanes) {
      Backlog b = l.tickets.get(a);
      Ticket head = b == null ? null : b.tickets.peekFirst();
      if (head != null) {
        oldest = Math.min(oldest, head.seq);
      }
    }
    return oldest;
  }

  /** Removes a waiting ticket whose client went away; false if it already left the queue. */
  public synchronized boolean cancel(Ticket t) {
    if (t.state() != Ticket.State.QUEUED) {
      return false;
    }
    remove(t);
    return t.finish(Ticket.State.CANCELLED, "the client went away");
  }

  /** Moves every ticket past its deadline to EXPIRED; returns how many. */
  public synchronized int expireDue() {
    long now = nanoTime.getAsLong();
    int n = 0;
    while (!byDeadline.isEmpty() && now - byDeadline.first().deadlineNanos >= 0) {
      Ticket t = byDeadline.pollFirst();
      if (t.state() == Ticket.State.QUEUED) {
        remove(t);
        t.finish(Ticket.State.EXPIRED, "the request did not start within its queue deadline of " + Ticket.millis(t.deadlineNanos - t.enqueuedNanos) + " ms");
        n++;
      }
    }
    prune();
    return n;
  }

  /**
   * Forgets idle accounts whose counter no longer matters: those at or below the least-served
   * backlogged account (they would be lifted to it on return), or all idle ones when nothing is
   * backlogged. Keeps the counter map bounded by the accounts that are active or recently ahead.
   */
  private void prune() {
    double floor = backlogged.isEmpty() ? Double.POSITIVE_INFINITY : backlogged.first().counter;
    accounts.values().removeIf(a -> a.queued == 0 && a.counter <= floor);
  }

  private void remove(Ticket t) {
    Lane lane = lanes.get(t.model + '\u0000' + t.band);
    Account a = accounts.get(t.accountId);
    if (lane == null || a == null) {
      return;
    }
    Backlog q = lane.tickets.get(a);
    if (q == null || !q.remove(t)) {
      return;
    }
    byDeadline.remove(t);
    lane.tokens -= t.queuedTokens();
    queuedTokens -= t.queuedTokens();
    queuedTokensByBand[t.band] -= t.queuedTokens();
    queuedTickets--;
    long[] m = backlogByModel.get(t.model);
    if (m != null && --m[0] == 0) {
      backlogByModel.remove(t.model);
    }
    a.queued--;
    if (q.tickets.isEmpty()) {
      lane.tickets.remove(a);
      lane.accounts.remove(a);
      a.lanes.remove(lane);
      if (lane.tickets.isEmpty()) {
        lanes.remove(t.model + '\u0000' + t.band);
      }
    }
    if (a.queued == 0) {
      backlogged.remove(a);
    }
  }

  /**
   * Queued tokens that fair queueing would serve before a new ticket like {@code spec}: everything
   * of its model in higher bands, and in its own band each backlogged account's tickets up to the
   * counter value at which the new ticket would be served (its account's lifted counter plus its
   * own backlog plus its cost). Accounts are visited in counter order and the walk stops at the
   * first one already past that value, so a light account's estimate is cheap and a heavy one's
   * visits at most the lane's accounts. Fluid approximation: an account's backlog is taken to be
   * served evenly in counter terms, so a partial backlog counts in proportion.
   *
   * <p>At least the GPS estimate: the ticket starts when the band's virtual time (its smallest
   * backlogged counter) reaches the ticket's start tag (its account's lifted counter plus its own
   * backlog), and until then every competing account gets that much service per unit of weight,
   * from what it has queued now or sends later, or, if it asks for less, what it asks for
   * ({@link Demand}: the weight is water-filled on the accounts' measured rates of asking, {@link
   * #asked}). The first estimate alone counts only what the others have queued now, which under
   * admission control is little, and misses their later requests that VTC will serve first: a
   * request would be admitted on a short prediction and then wait behind other accounts' next
   * requests (branch {@code admission}, docs/BENCHMARKS.md). The floor over-estimates when the
   * others are about to go quiet, and under-estimates when a quiet account is about to ask for
   * more. The request's own account counts in full if {@link #asked} did not record it. For an account's own backlog this is its backlog
   * over its share of the band.
   */
  public synchronized long tokensAheadOf(TicketSpec spec) {
    long sum = 0;
    Lane own = null;
    for (Lane l : lanes.values()) {
      if (!l.model.equals(spec.model())) {
        continue;
      }
      if (l.band < spec.band()) {
        sum += l.tokens;
      } else if (l.band == spec.band()) {
        own = l;
      }
    }
    if (own == null) {
      return sum;
    }
    long cost = spec.promptTokens() + 2 * spec.maxOutputTokens();
    double finish = finishTag(spec.accountId(), spec.weight(), cost, own);
    long fluid = 0;
    for (Account x : own.accounts) {
      if (x.counter >= finish) {
        break;
      }
      Backlog b = own.tickets.get(x);
      if (x.id.equals(spec.accountId()) || finish - x.counter >= b.cost) {
        fluid += b.tokens;
      } else {
        fluid += (long) (b.tokens * ((finish - x.counter) / b.cost));
      }
    }
    Demand lately = demandOn(spec.model(), spec.band());
    double laneWeight = lately.weight(nanoTime.getAsLong()) + (lately.knows(spec.accountId()) ? 0 : spec.weight());
    double startTag = finish - cost / spec.weight();
    double virtualTime = own.accounts.first().counter;
    // Counter units to queued tokens at this request's own mix of prompt and output.
    double tokensPerCost = cost == 0 ? 0 : (double) (spec.promptTokens() + spec.maxOutputTokens()) / cost;
    double gps = Math.max(0, startTag - virtualTime) * laneWeight * tokensPerCost;
    return sum + Math.max(fluid, (long) Math.min(Long.MAX_VALUE / 4, gps));
  }

  /** Tokens queued for {@code model} in bands up to and including {@code band}: work ahead of a new ticket. */
  public synchronized long tokensAhead(String model, int band) {
    long sum = 0;
    for (Lane l : lanes.values()) {
      if (l.model.equals(model) && l.band <= band) {
        sum += l.tokens;
      }
    }
    return sum;
  }

  /**
   * How long requests for {@code model} have been waiting without the queue ever emptying; 0 when
   * none waits. A queue that does not empty is standing: demand has exceeded what the servers
   * clear for at least this long (CoDel's distinction between a burst and a standing queue).
   */
  public synchronized long backlogAgeNanos(String model) {
    long[] m = backlogByModel.get(model);
    return m == null ? 0 : Math.max(0, nanoTime.getAsLong() - m[1]);
  }

  /** Whether any request for {@code model} is waiting. */
  public synchronized boolean hasWaiting(String model) {
    return backlogByModel.containsKey(model);
  }

  public synchronized int size() {
    return queuedTickets;
  }

  public synchronized long queuedTokens() {
    return queuedTokens;
  }

  public synchronized long queuedTokens(int band) {
    return queuedTokensByBand[band];
  }

  /** Sizes by band, for metrics: {@code [band] -> tickets}. */
  public synchronized int[] ticketsByBand() {
    int[] out = new int[MAX_BANDS];
    for (Lane l : lanes.values()) {
      for (Backlog q : l.tickets.values()) {
        out[l.band] += q.tickets.size();
      }
    }
    return out;
  }

  /** The account's current virtual token counter, for tests and diagnostics. */
  synchronized double counter(String accountId) {
    Account a = accounts.get(accountId);
    return a == null ? 0 : a.counter;
  }

  synchronized int trackedAccounts() {
    return accounts.size();
  }

  /** Checks internal consistency; for tests. */
  synchronized void checkInvariants() {
    long tokens = 0;
    int tickets = 0;
    for (Lane l : lanes.values()) {
      long laneTokens = 0;
      for (Iterator<Map.Entry<Account, Backlog>> it = l.tickets.entrySet().iterator(); it.hasNext(); ) {
        var e = it.next();
        if (e.getValue().tickets.isEmpty()) {
          throw new IllegalStateException("empty account queue left in a lane");
        }
        if (!l.accounts.contains(e.getKey())) {
          throw new IllegalStateException("backlogged account missing from its lane order");
        }
        long backlogTokens = 0;
        double backlogCost = 0;
        for (Ticket t : e.getValue().tickets) {
          if (t.state() != Ticket.State.QUEUED) {
            throw new IllegalStateException(t + " is " + t.state() + " but still queued");
          }
          backlogTokens += t.queuedTokens();
          backlogCost += t.costTokens() / t.weight;
          tickets++;
        }
        if (backlogTokens != e.getValue().tokens || Math.abs(backlogCost - e.getValue().cost) > 1e-6 * Math.max(1, backlogCost)) {
          throw new IllegalStateException("an account's backlog totals drifted");
        }
        laneTokens += backlogTokens;
      }
      if (laneTokens != l.tokens) {
        throw new IllegalStateException("lane token total drifted");
      }
      tokens += laneTokens;
    }
    long byModel = backlogByModel.values().stream().mapToLong(m -> m[0]).sum();
    if (tokens != queuedTokens || tickets != queuedTickets || byModel != queuedTickets) {
      throw new IllegalStateException("queue totals drifted: " + tokens + "/" + queuedTokens + " tokens, " + tickets + "/" + queuedTickets);
    }
    if (queuedTokens > maxQueuedTokens) {
      throw new IllegalStateException("queue over its token bound");
    }
  }
}
