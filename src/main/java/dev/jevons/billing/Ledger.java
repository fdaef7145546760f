package dev.jevons.billing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The prepaid ledger: credits, and two-phase reservations (reserve, then post or void exactly
 * once, or expire), after TigerBeetle's two-phase transfers. All amounts are nanos (1e-9 USD),
 * exact, with overflow checked.
 *
 * <h2>Invariants</h2>
 *
 * <ul>
 *   <li>Every operation carries a caller-supplied id (entry id, reservation id, extension id,
 *       change id); replaying an id answers the first outcome and changes nothing. Refusals
 *       (INSUFFICIENT, EXCEEDS_HOLD, REFUSED) write nothing, so a replay of one is evaluated
 *       afresh. Ids are primary keys in the store, so this holds across restarts and nodes.
 *   <li>available = spendable grants + topped-up - pending holds, and never falls below
 *       -creditLimit. Stronger, and what the rules keep ({@link AccountState#holdsCoverable}):
 *       every pending hold can be posted in full at any instant before it expires. That is why a
 *       reserve counts only the grants that stay valid past the new hold's expiry: a grant that
 *       lapses while the hold is pending cannot be what pays for it. A post at time t pays from
 *       grants valid at t, earliest expiry first, then from topped-up credit, which may go
 *       negative down to -creditLimit; an exchange argument shows earliest-first never spends a
 *       grant that a later-expiring hold needed. A post after the hold's expiry is refused
 *       (EXPIRED): the hold was only ever guaranteed until then.
 *   <li>A post is at most the hold (extend first); the rest is released. A settled reservation
 *       (POSTED, VOIDED, EXPIRED) never changes again.
 *   <li>Every state change writes an immutable journal row; an account's posted balance is the sum
 *       of the posted kinds ({@link EntryKind#posted()}), and its rows are ordered by the account
 *       version they carry. The journal is the entry rows and the usage records that carry an
 *       account version: a gateway request held and posted in one batch from topped-up credit is
 *       journaled by its usage record alone, as a debit of its cost ({@link Changes#toBatch}).
 * </ul>
 *
 * <h2>Concurrency: group commit over an in-memory authority</h2>
 *
 * <p>Callers enqueue commands on a bounded queue (full: {@link LedgerOverloadedException}, fast)
 * and get a future. The account state lives in memory (loaded from the store on first touch, in
 * one query per batch) and only ledger threads touch it; every change is applied in arrival order
 * and then written, batched, in one transaction. How answers relate to commits depends on the
 * {@link Mode}:
 *
 * <ul>
 *   <li>{@link Mode#EXCLUSIVE}: this ledger is the only writer of its store, which its {@link
 *       LedgerStore#claim claim} enforces. The memory is then the authority: commands are applied
 *       as they come, by the callers themselves under one lock (flat combining: whoever holds it
 *       applies everything queued, so a caller usually applies its own command and no thread is
 *       woken), and holds (reserve, extend) are answered at once; a committer thread writes what
 *       was applied while callers go on, and every other answer (post, void, credit, limit,
 *       expiry) waits for its commit. A batch is handed to the committer as
 *       soon as someone waits for it, when it is full, or 50 ms ({@link Options#flushAfterMillis}) after its
 *       first change, so a request's hold and its post usually share one commit. A hold not yet
 *       written when the process dies is lost with the process, which is what its expiry would
 *       have done. A failed commit fails everything not yet durable and empties the memory; holds
 *       answered since the last commit are forgotten, so their posts answer NOT_FOUND (the
 *       gateway then fails the request without charging it). New ids are looked up in the store
 *       before they are applied, so replays across restarts answer their first outcome; only
 *       {@link #reserveNew}, for ids that cannot have been used (the gateway's request ids),
 *       skips that query.
 *   <li>{@link Mode#SHARED}: several ledgers (gateway nodes) share one store. One writer thread
 *       drains up to {@code maxBatch} commands, applies them, writes them, and only then answers
 *       them all. Each account row carries a version; the batch updates accounts in id order (no
 *       deadlocks) and only where the version is still the one this node read. When another node
 *       got there first, the store rolls the batch back, this node drops the batch's accounts from
 *       its cache and applies the whole batch again on fresh state ({@code maxAttempts} in all).
 *       The cache is thus an optimistic copy, never the authority over another node's writes. New
 *       ids are assumed new (the cache remembers recent ones): a reserve or credit whose id
 *       already exists in the store makes the insert fail; the batch is then rolled back and
 *       applied again "carefully", looking every id up first.
 * </ul>
 *
 * <h2>Deliberately approximate</h2>
 *
 * <ul>
 *   <li>Overdue holds and expired grants stop counting as soon as the writer touches the account
 *       (and the sweeper's {@link #expireDue} catches the rest, including a dead node's holds);
 *       until then an overdue hold still reduces available, which errs on the safe side.
 *   <li>{@link #balance} reads the committed rows, not this node's queue (nor, in exclusive
 *       mode, the holds applied but not yet written).
 *   <li>A replayed extension found only in the store answers the reservation's current hold.
 * </ul>
 */
public final class Ledger implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Ledger.class);
  static final int MAX_ID_LENGTH = 200;

  /**
   * Limits; every one is a bound on memory or work. {@code flushAfterMillis} (exclusive mode): the
   * longest a change waits for a commit when nobody waits for it, and the age under which a
   * pending hold is kept for the next batch. {@code maxRememberedOutcomes}: settled reservations
   * and operation outcomes kept in memory for replays (older ones are answered from the store,
   * as after a restart); 10,000 by default, about a second and a half of billed requests at peak.
   * It was 100,000: every settled request then lived ~15 s, long enough to be copied by young
   * collections and promoted, and young pauses with billing on averaged 11-12 ms against 6.5 ms
   * with 10,000 (docs/BENCHMARKS.md, session 5).
   */
  public record Options(
      int queueCapacity,
      int maxBatch,
      int maxCachedAccounts,
      int maxRememberedOutcomes,
      int maxAttempts,
      long flushAfterMillis,
      long commitDelayMicros,
      int commitSiblings) {
    public static final Options DEFAULTS = new Options(65_536, 2_048, 100_000, 10_000, 10);

    public Options(int queueCapacity, int maxBatch, int maxCachedAccounts, int maxRememberedOutcomes, int maxAttempts) {
      this(queueCapacity, maxBatch, maxCachedAccounts, maxRememberedOutcomes, maxAttempts, 50, 0, 0);
    }

    public Options {
      if (queueCapacity < 1 || maxBatch < 1 || maxCachedAccounts < 1 || maxRememberedOutcomes < 0 || maxAttempts < 1
          || flushAfterMillis < 1 || commitDelayMicros < 0 || commitDelayMicros > 60_000_000 || commitSiblings < 0) {
        // Named one by one: in a compact constructor the fields are not assigned yet, so toString would print zeros.
        throw new IllegalArgumentException("ledger options out of range: queueCapacity=" + queueCapacity + ", maxBatch=" + maxBatch
            + ", maxCachedAccounts=" + maxCachedAccounts + ", maxRememberedOutcomes=" + maxRememberedOutcomes + ", maxAttempts="
            + maxAttempts + ", flushAfterMillis=" + flushAfterMillis + ", commitDelayMicros=" + commitDelayMicros + ", commitSiblings="
            + commitSiblings);
      }
    }

    /**
     * These options with a group-commit delay (exclusive mode): a batch that callers wait for
     * is held back up to {@code delayMicros} after its first waiter while at least {@code
     * siblings} other holds are open (requests still being served, whose charges will follow),
     * so that more charges share one commit and its sync. 0 writes at once, as before.
     */
    public Options withCommitDelay(long delayMicros, int siblings) {
      return new Options(
          queueCapacity, maxBatch, maxCachedAccounts, maxRememberedOutcomes, maxAttempts, flushAfterMillis, delayMicros, siblings);
    }
  }

  /** Whether this ledger is its store's only writer; see the class note. */
  public enum Mode {
    /** The only writer of its store (claimed exclusively): holds answered from memory at once. */
    EXCLUSIVE,
    /** One of several ledgers (gateway nodes) on one store: every answer waits for its commit. */
    SHARED
  }

  private static final long CLAIM_CHECK_NANOS = TimeUnit.SECONDS.toNanos(5);

  /** At most this many rounds of combining per call, so that no caller works for others for long. */
  private static final int COMBINING_ROUNDS = 8;

  private final LedgerStore store;
  private final Clock clock;
  private final Options options;
  private final long flushAfterNanos;
  private final Mode mode;
  /** Replaced when a lost claim is taken again (exclusive mode, under the combiner's lock). */
  private volatile LedgerStore.Claim claim;
  /** Exclusive mode: the claim was found lost; nothing is applied until it is taken again. */
  private volatile boolean claimLost;
  private long claimCheckedNanos = System.nanoTime();
  private final BoundedQueue<Command<?>> queue;
  /** Shared mode's writer thread; null in exclusive mode, where callers apply (see {@link #combine}). */
  private final @Nullable Thread writer;
  private final @Nullable Thread committer;
  /** Exclusive mode: held by whichever thread applies queued commands (flat combining). */
  private final ReentrantLock combiner = new ReentrantLock();
  private final List<Command<?>> drained = new ArrayList<>();
  /** Answers decided under the combiner's lock, given after it is let go (so callbacks never run under it). */
  private List<Runnable> answers = new ArrayList<>();
  /** Exclusive mode: a rule failed while a batch was in flight; the memory is reset once that batch is through. */
  private @Nullable LedgerUnavailableException poisoned;
  private volatile boolean terminated;
  private volatile boolean closed;
  private final LongAdder batchesCommitted = new LongAdder();
  private final LongAdder commandsCommitted = new LongAdder();
  private final LongAdder retries = new LongAdder();
  private final LongAdder writeNanos = new LongAdder();

  // Writer-thread state (in exclusive mode, the combiner's: guarded by its lock); nothing else touches these.
  private final LruMap<String, AccountState> accounts;
  private final Map<String, AccountState> pendingIndex = new HashMap<>();
  private final LruMap<String, Reservation> settled;
  private final LruMap<String, Object> outcomes;

  // Exclusive mode: what was applied since the last hand-over, and the batch being committed.
  private Changes open = new Changes();
  private final List<Command<?>> openWaiting = new ArrayList<>();
  private int openCommands;
  /** System.nanoTime() of the open batch's first change (real time, whatever the ledger's clock). */
  private long openSinceNanos;
  private volatile @Nullable InFlight inFlight;
  /** The batch handed to the committer and not yet taken by it; the committer is unparked to take it. */
  private final AtomicReference<@Nullable InFlight> handOver = new AtomicReference<>();
  private final long commitDelayNanos;
  /** System.nanoTime() when the open batch got its first waiting command (under the combiner's lock). */
  private long firstWaitNanos;
  /** Whether a Flush waits for the open batch (under the combiner's lock). */
  private boolean flushWaiting;
  /** The open batch waits for company ({@link #waitForCompany}) until {@link #lingerUntilNanos}; read by the committer. */
  private volatile boolean lingering;
  private volatile long lingerUntilNanos;
  /** Whether this round of {@link #step} decided to wait for company (under the combiner's lock). */
  private boolean waitDecided;
  private volatile boolean committerStopping;

  /** A shared ledger: see {@link Mode#SHARED}. */
  public Ledger(LedgerStore store, Clock clock) {
    this(store, clock, Options.DEFAULTS, Mode.SHARED);
  }

  public Ledger(LedgerStore store, Clock clock, Options options) {
    this(store, clock, options, Mode.SHARED);
  }

  /**
   * Claims {@code store} in {@code mode} and starts the ledger's threads.
   *
   * @throws IllegalStateException when the store is claimed by another ledger in a mode that
   *     excludes this one (the message says which setting to change)
   */
  public Ledger(LedgerStore store, Clock clock, Options options, Mode mode) {
    this.store = store;
    this.clock = clock;
    this.options = options;
    this.flushAfterNanos = TimeUnit.MILLISECONDS.toNanos(options.flushAfterMillis());
    this.commitDelayNanos = TimeUnit.MICROSECONDS.toNanos(options.commitDelayMicros());
    this.mode = mode;
    this.queue = new BoundedQueue<>(options.queueCapacity());
    this.accounts = new LruMap<>(Integer.MAX_VALUE);
    this.settled = new LruMap<>(options.maxRememberedOutcomes());
    this.outcomes = new LruMap<>(options.maxRememberedOutcomes());
    this.claim = store.claim(mode);
    if (mode == Mode.EXCLUSIVE) {
      this.writer = null;
      this.committer = Thread.ofPlatform().name("ledger-committer").daemon(true).unstarted(this::runCommitter);
      committer.start();
    } else {
      this.writer = Thread.ofPlatform().name("ledger-writer").daemon(true).unstarted(this::run);
      this.committer = null;
      writer.start();
    }
  }

  public Mode mode() {
    return mode;
  }

  // ---------------------------------------------------------------- API

  /** Credits topped-up credit (no expiry; {@code expiresAt} must be null) or a grant expiring at {@code expiresAt}. */
  public CompletableFuture<CreditResult> credit(
      String entryId, String accountId, CreditKind kind, long amountNanos, @Nullable Instant expiresAt) {
    checkId(entryId, "entryId");
    checkId(accountId, "accountId");
    checkPositive(amountNanos, "amountNanos");
    Objects.requireNonNull(kind, "kind");
    if ((kind == CreditKind.GRANTED) != (expiresAt != null)) {
      throw new IllegalArgumentException("a grant needs an expiry and only a grant has one: " + kind + ", " + expiresAt);
    }
    if (expiresAt != null && !expiresAt.isAfter(clock.instant())) {
      throw new IllegalArgumentException("grant " + entryId + " expires at " + expiresAt + ", which has passed");
    }
    long expiresAtMillis = expiresAt == null ? Long.MAX_VALUE : expiresAt.toEpochMilli();
    return submit(new Credit(entryId, accountId, kind, amountNanos, expiresAtMillis));
  }

  /** Holds {@code amountNanos} for {@code ttl}, or answers INSUFFICIENT with what is available. */
  public CompletableFuture<ReserveResult> reserve(String reservationId, String accountId, long amountNanos, Duration ttl) {
    return reserve(reservationId, accountId, amountNanos, ttl, false);
  }

  /**
   * Reserves as {@link #reserve} for an id the caller guarantees was never used, such as a request
   * id with 80 random bits: it is not looked up in the store first (in exclusive mode that lookup
   * is a query per batch of holds). A replay in this process answers the first outcome while the
   * reservation is remembered ({@link Options#maxRememberedOutcomes}); an
   * id that is nevertheless in the store fails a commit on a unique key (its reservation row, or,
   * when the first use left none, its settlement entries or its usage record once it settles),
   * which fails the batch (and in exclusive mode drops what was not written), so nothing is applied
   * twice. A second use whose post carries a usage record may be journaled by that record alone
   * ({@link Changes#toBatch}); it then collides only with a first use that also wrote a usage
   * record, as every gateway request does.
   */
  public CompletableFuture<ReserveResult> reserveNew(String reservationId, String accountId, long amountNanos, Duration ttl) {
    return reserve(reservationId, accountId, amountNanos, ttl, true);
  }

  private CompletableFuture<ReserveResult> reserve(String reservationId, String accountId, long amountNanos, Duration ttl, boolean fresh) {
    checkId(reservationId, "reservationId");
    checkId(accountId, "accountId");
    checkPositive(amountNanos, "amountNanos");
    checkPositive(ttl.toMillis(), "ttl in milliseconds");
    return submit(new Reserve(reservationId, accountId, amountNanos, ttl.toMillis(), fresh));
  }

  /**
   * Grows a pending hold by {@code additionalNanos} and moves its expiry to at least now +
   * {@code newTtl} (never earlier), if the account can cover it; {@code extensionId} identifies
   * this extension for replays.
   */
  public CompletableFuture<ExtendResult> extend(String extensionId, String reservationId, long additionalNanos, Duration newTtl) {
    checkId(extensionId, "extensionId");
    checkId(reservationId, "reservationId");
    checkPositive(additionalNanos, "additionalNanos");
    checkPositive(newTtl.toMillis(), "newTtl in milliseconds");
    return submit(new Extend(extensionId, reservationId, additionalNanos, newTtl.toMillis()));
  }

  /** Posts the actual cost (at most the hold) and releases the rest; exactly once per reservation. */
  public CompletableFuture<SettleResult> post(String reservationId, long actualNanos) {
    return post(reservationId, actualNanos, null);
  }

  /**
   * Posts as {@link #post(String, long)} and, when this call settles the reservation, writes
   * {@code usage} (with the cost actually posted) in the same transaction.
   */
  public CompletableFuture<SettleResult> post(String reservationId, long actualNanos, @Nullable UsageRecord usage) {
    checkId(reservationId, "reservationId");
    if (actualNanos < 0) {
      throw new IllegalArgumentException("actualNanos must not be negative: " + actualNanos);
    }
    return submit(new Post(reservationId, actualNanos, usage));
  }

  /** Releases the whole hold (the request failed before any token was delivered). */
  public CompletableFuture<SettleResult> voidReservation(String reservationId) {
    return voidReservation(reservationId, null);
  }

  /** Voids as {@link #voidReservation(String)}, recording {@code usage} (at cost 0) when it settles it. */
  public CompletableFuture<SettleResult> voidReservation(String reservationId, @Nullable UsageRecord usage) {
    checkId(reservationId, "reservationId");
    return submit(new Post(reservationId, -1, usage));
  }

  /** Sets the account's credit limit (the overdraft allowed); lowering it below what pending holds need is refused. */
  public CompletableFuture<CreditLimitResult> setCreditLimit(String changeId, String accountId, long creditLimitNanos) {
    checkId(changeId, "changeId");
    checkId(accountId, "accountId");
    if (creditLimitNanos < 0) {
      throw new IllegalArgumentException("creditLimitNanos must not be negative: " + creditLimitNanos);
    }
    return submit(new Limit(changeId, accountId, creditLimitNanos));
  }

  /**
   * Expires the pending holds due at {@code now} and lapses the grants expired by then, on every
   * account in the store (up to {@code maxBatch} accounts per call; call until it answers 0).
   * Answers how many holds and grants it ended.
   */
  public CompletableFuture<Integer> expireDue(Instant now) {
    return submit(new Expire(now.toEpochMilli()));
  }

  /** Completes when every command submitted before it is durable (and answered). */
  public CompletableFuture<Void> flush() {
    return submit(new Flush());
  }

  /**
   * The balance: in exclusive mode the ledger's own (holds included as soon as they are
   * answered), in shared mode, or once closed, the committed rows read from the store (see the
   * class note).
   */
  public Balance balance(String accountId) {
    checkId(accountId, "accountId");
    if (mode == Mode.EXCLUSIVE && !closed) {
      CompletableFuture<Balance> read;
      try {
        read = submit(new Read(accountId));
      } catch (IllegalStateException closedMeanwhile) {
        read = null; // closing writes everything, so the store is the ledger now
      }
      if (read != null) {
        try {
          return read.join();
        } catch (CompletionException e) {
          throw e.getCause() instanceof RuntimeException r ? r : e;
        }
      }
    }
    LedgerStore.AccountRow row = store.load(List.of(accountId)).get(accountId);
    return row == null ? new Balance(accountId, 0, 0, 0, 0) : AccountState.of(row).balance(clock.millis());
  }

  /** Stops taking commands, finishes those queued, stops the ledger's threads and releases the claim. */
  @Override
  public void close() {
    closed = true;
    try {
      if (writer != null) {
        writer.join(TimeUnit.SECONDS.toMillis(30));
      }
      if (committer != null) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!combine() && System.nanoTime() < deadline) {
          Thread.sleep(1); // the committer finishes what is in flight
        }
        committerStopping = true;
        LockSupport.unpark(committer); // asleep until the flush deadline otherwise
        committer.join(TimeUnit.SECONDS.toMillis(30));
      }
      terminated = true;
      for (Command<?> c; (c = queue.poll()) != null; ) {
        c.future.completeExceptionally(new IllegalStateException("ledger is closed"));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      claim.close();
    }
  }

  /** Counters since start, for metrics and benchmarks. */
  public record Stats(long batches, long commands, long retries, long writeNanos) {}

  public Stats stats() {
    return new Stats(batchesCommitted.sum(), commandsCommitted.sum(), retries.sum(), writeNanos.sum());
  }

  /** Commands waiting for the writer; for metrics. */
  public int queued() {
    return queue.size();
  }

  // ---------------------------------------------------------------- commands

  private abstract static sealed class Command<R> permits Credit, Reserve, Extend, Post, Limit, Expire, Flush, Read {
    final CompletableFuture<R> future = new CompletableFuture<>();
    @Nullable R result;
  }

  private static final class Credit extends Command<CreditResult> {
    final String entryId, accountId;
    final CreditKind kind;
    final long amountNanos, expiresAtMillis;

    Credit(String entryId, String accountId, CreditKind kind, long amountNanos, long expiresAtMillis) {
      this.entryId = entryId;
      this.accountId = accountId;
      this.kind = kind;
      this.amountNanos = amountNanos;
      this.expiresAtMillis = expiresAtMillis;
    }
  }

  private static final class Reserve extends Command<ReserveResult> {
    final String reservationId, accountId;
    final long amountNanos, ttlMillis;
    /** The caller vouches that the id is new: not looked up in the store. */
    final boolean fresh;

    Reserve(String reservationId, String accountId, long amountNanos, long ttlMillis, boolean fresh) {
      this.reservationId = reservationId;
      this.accountId = accountId;
      this.amountNanos = amountNanos;
      this.ttlMillis = ttlMillis;
      this.fresh = fresh;
    }
  }

  private static final class Extend extends Command<ExtendResult> {
    final String extensionId, reservationId;
    final long additionalNanos, ttlMillis;

    Extend(String extensionId, String reservationId, long additionalNanos, long ttlMillis) {
      this.extensionId = extensionId;
      this.reservationId = reservationId;
      this.additionalNanos = additionalNanos;
      this.ttlMillis = ttlMillis;
    }
  }

  /** A post, or a void when {@code actualNanos} is -1. */
  private static final class Post extends Command<SettleResult> {
    final String reservationId;
    final long actualNanos;
    final @Nullable UsageRecord usage;

    Post(String reservationId, long actualNanos, @Nullable UsageRecord usage) {
      this.reservationId = reservationId;
      this.actualNanos = actualNanos;
      this.usage = usage;
    }
  }

  private static final class Limit extends Command<CreditLimitResult> {
    final String changeId, accountId;
    final long creditLimitNanos;

    Limit(String changeId, String accountId, long creditLimitNanos) {
      this.changeId = changeId;
      this.accountId = accountId;
      this.creditLimitNanos = creditLimitNanos;
    }
  }

  private static final class Expire extends Command<Integer> {
    final long nowMillis;

    Expire(long nowMillis) {
      this.nowMillis = nowMillis;
    }
  }

  /** Changes nothing; answered once everything before it is durable. */
  private static final class Flush extends Command<Void> {}

  /** An account's balance from memory (exclusive mode); answered at once. */
  private static final class Read extends Command<Balance> {
    final String accountId;

    Read(String accountId) {
      this.accountId = accountId;
    }
  }

  /** A batch handed from the combining callers to the committer (exclusive mode). */
  private static final class InFlight {
    final Changes changes;
    final LedgerStore.@Nullable Batch batch;
    /** The commands answered at this commit. */
    final List<Command<?>> waiting;
    final int commands;
    /** Set by the committer before {@link #done}. */
    @Nullable RuntimeException failure;
    volatile boolean done;

    InFlight(Changes changes, LedgerStore.@Nullable Batch batch, List<Command<?>> waiting, int commands) {
      this.changes = changes;
      this.batch = batch;
      this.waiting = waiting;
      this.commands = commands;
    }
  }

  private <R> CompletableFuture<R> submit(Command<R> command) {
    if (closed) {
      throw new IllegalStateException("ledger is closed");
    }
    if (!queue.offer(command)) {
      throw new LedgerOverloadedException(
          "ledger queue full: " + queue.size() + " commands waiting (limit " + options.queueCapacity() + "); retry later");
    }
    if (terminated && queue.remove(command)) {
      throw new IllegalStateException("ledger is closed"); // it closed between the check above and the offer
    }
    if (mode == Mode.EXCLUSIVE) {
      combine();
    }
    return command.future;
  }

  // ---------------------------------------------------------------- writer thread

  private void run() {
    List<Command<?>> batch = new ArrayList<>(options.maxBatch());
    while (true) {
      try {
        Command<?> first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first != null) {
          batch.add(first);
          queue.drainTo(batch, options.maxBatch() - 1);
          process(batch);
          batch.clear();
        } else if (closed) {
          return;
        }
      } catch (InterruptedException e) {
        // Nobody interrupts the writer but the JVM; closing is by the flag, after the queue drains.
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException | Error e) {
        // process() completes every future itself; reaching here is a bug, so fail the batch loudly.
        log.error("ledger writer failed on a batch of {}", batch.size(), e);
        for (Command<?> c : batch) {
          c.future.completeExceptionally(e);
        }
        batch.clear();
      }
    }
  }

  // ---------------------------------------------------------------- exclusive mode: combining callers and committer

  /**
   * Applies what is queued, on the calling thread, unless another thread is doing so (flat
   * combining): a caller usually applies its own command, and a hold is answered before its
   * caller ever waits. Whoever holds the lock looks at the queue again after letting go, so no
   * command is left behind. Also finishes the committed batch and hands the open one over.
   * Answers whether the ledger is idle (nothing queued, open or in flight).
   */
  private boolean combine() {
    return combine(false);
  }

  /**
   * As {@link #combine()}; with {@code wait}, the first round waits for the lock instead of
   * leaving. The committer waits, so that after each batch and each wait it takes a step of its
   * own and the next batch goes out even when every caller is waiting for its charge.
   */
  private boolean combine(boolean wait) {
    if (combiner.isHeldByCurrentThread()) {
      return false; // a future completed while combining ran this caller's code: the loop below applies it
    }
    boolean idle = false;
    for (int round = 0; round < COMBINING_ROUNDS; round++) {
      if (round == 0 && wait) {
        combiner.lock();
      } else if (!combiner.tryLock()) {
        return false;
      }
      List<Runnable> given;
      try {
        idle = step();
      } catch (RuntimeException | Error e) {
        // applyOpen and finished answer every command themselves; reaching here is a bug.
        log.error("ledger combiner failed", e);
        drained.forEach(c -> fail(c, e));
        drained.clear();
      } finally {
        given = answers;
        answers = new ArrayList<>();
        combiner.unlock();
      }
      given.forEach(Runnable::run);
      InFlight f = inFlight;
      if (queue.isEmpty() && (f == null || !f.done)) {
        break;
      }
    }
    return idle;
  }

  /** Answers {@code c} once the combiner's lock is let go (exclusive mode; under the lock). */
  private void answer(Command<?> c) {
    answers.add(() -> complete(c));
  }

  private void fail(Command<?> c, Throwable e) {
    answers.add(() -> c.future.completeExceptionally(e));
  }

  /** Fails everything queued with {@code why}, applying none of it (under the lock). */
  private void refuseQueued(LedgerUnavailableException why) {
    queue.drainTo(drained);
    drained.forEach(c -> fail(c, why));
    drained.clear();
  }

  /**
   * One round of the exclusive ledger's work; holds {@link #combiner}. A wait for company lasts
   * only as long as each round decides it again: any round that does not (a lost claim, a failure,
   * a batch in flight, nothing left to write) ends it, so the committer never keeps waking for a
   * wait whose end has passed.
   */
  private boolean step() {
    waitDecided = false;
    try {
      return stepOnce();
    } finally {
      if (!waitDecided && lingering) {
        lingering = false;
      }
    }
  }

  private boolean stepOnce() {
    InFlight f = inFlight;
    if (f != null && f.done) {
      inFlight = null;
      finished(f);
    }
    if (committerStopping) {
      // close() is stopping the committer: a command that slipped in after it found the ledger
      // idle (its caller passed the closed check first) would be handed to nobody, never answered.
      queue.drainTo(drained);
      IllegalStateException closedNow = new IllegalStateException("ledger is closed");
      drained.forEach(c -> fail(c, closedNow));
      drained.clear();
      return true;
    }
    if (claimLost && !reclaim()) {
      refuseQueued(claimLostError());
      return inFlight == null && open.isEmpty() && openWaiting.isEmpty(); // idle enough to close
    }
    if (poisoned != null) {
      if (inFlight != null) {
        // The memory is suspect and its batch not yet through: refuse rather than apply on it.
        refuseQueued(poisoned);
        return false;
      }
      LedgerUnavailableException p = poisoned;
      poisoned = null;
      forgetAllUnwritten(p);
    }
    int room = options.maxBatch() - openCommands;
    if (room > 0) {
      queue.drainTo(drained, room);
      if (!drained.isEmpty()) {
        applyOpen(drained);
        drained.clear();
      }
    }
    boolean unwritten = !open.isEmpty() || !openWaiting.isEmpty();
    if (!unwritten) {
      openCommands = 0; // only answers that wrote nothing and wait for nothing (refusals, replays)
    }
    if (inFlight == null && unwritten && (!openWaiting.isEmpty() || openCommands >= options.maxBatch() || closed
        || System.nanoTime() - openSinceNanos >= flushAfterNanos) && !waitForCompany()) {
      handOver(clock.millis());
    }
    return queue.isEmpty() && inFlight == null && open.isEmpty() && openWaiting.isEmpty();
  }

  /** Applies commands to the open batch; answers holds at once, queues the rest for its commit. */
  private void applyOpen(List<Command<?>> batch) {
    Lookups lookups;
    try {
      lookups = resolve(batch, true);
    } catch (RuntimeException e) {
      LedgerUnavailableException unavailable =
          new LedgerUnavailableException("ledger store unreadable, " + batch.size() + " commands refused: " + e.getMessage(), e);
      batch.forEach(c -> fail(c, unavailable));
      return;
    }
    long nowMillis = clock.millis();
    for (int i = 0; i < batch.size(); i++) {
      Command<?> c = batch.get(i);
      boolean wasEmpty = open.isEmpty();
      try {
        apply(c, lookups, nowMillis, open);
      } catch (RuntimeException e) {
        // A rule failed halfway (an amount overflowed, say): what it changed cannot be told apart,
        // so nothing unwritten is trusted, and the rest of this drain was resolved against it.
        fail(c, e);
        LedgerUnavailableException unavailable = new LedgerUnavailableException("ledger state reset after a failure: " + e.getMessage(), e);
        batch.subList(i + 1, batch.size()).forEach(rest -> fail(rest, unavailable));
        if (inFlight == null) {
          forgetAllUnwritten(unavailable);
        } else {
          // Reloading now would read the store without the batch being written: wait for it.
          poisoned = unavailable;
        }
        return;
      }
      if (wasEmpty && !open.isEmpty()) {
        openSinceNanos = System.nanoTime();
      }
      openCommands++;
      if (c instanceof Reserve || c instanceof Extend || c instanceof Read) {
        answer(c);
      } else {
        if (openWaiting.isEmpty()) {
          firstWaitNanos = System.nanoTime();
        }
        openWaiting.add(c);
        flushWaiting |= c instanceof Flush;
      }
    }
  }

  /**
   * Hands the open batch to the committer. Holds applied in the last {@link Options#flushAfterMillis}
   * and still pending stay for the next batch (unless closing or a flush waits), so that a hold
   * and its post are usually written together, once.
   */
  private void handOver(long nowMillis) {
    boolean everything = closed || flushWaiting;
    long now = System.nanoTime();
    Changes carried = everything ? new Changes() : open.carryOverHoldsAppliedAfter(now - flushAfterNanos);
    InFlight f = new InFlight(open, open.hasWrites() ? open.toBatch(nowMillis) : null, List.copyOf(openWaiting), openCommands);
    open = carried;
    openSinceNanos = carried.firstAppliedNanos(now);
    openWaiting.clear();
    flushWaiting = false;
    openCommands = 0;
    lingering = false;
    inFlight = f;
    if (!handOver.compareAndSet(null, f)) {
      throw new IllegalStateException("ledger committer still busy with the previous batch");
    }
    LockSupport.unpark(committer);
  }

  /**
   * Holds not yet settled, in memory (under the combiner's lock, with no batch in flight): a
   * settled reservation leaves {@link #pendingIndex} when its batch commits, so the open batch's
   * settlements are taken off.
   */
  private int openHolds() {
    return pendingIndex.size() - open.settled.size();
  }

  /**
   * Whether the open batch, which callers wait for, waits a little longer for more charges to
   * share its commit (group commit as PostgreSQL's {@code commit_delay} with {@code
   * commit_siblings}): only with a commit delay configured, only while at least {@link
   * Options#commitSiblings} holds are still open (requests being served, whose charges are
   * coming), and at most the delay after its first waiter. A lone request never waits; under
   * load each commit and its sync are shared by more requests. Open streams count as siblings
   * too, so with that many streams open every charge may wait the delay, whatever the request
   * rate; {@code commitSiblings} 0 makes every charge wait it. Tells the committer when to look
   * again (under the combiner's lock).
   */
  private boolean waitForCompany() {
    long until = firstWaitNanos + commitDelayNanos;
    if (commitDelayNanos == 0 || closed || flushWaiting || openWaiting.isEmpty() || openCommands >= options.maxBatch()
        || openHolds() < options.commitSiblings() || until - System.nanoTime() <= 0) {
      return false; // step() ends a wait it did not decide again
    }
    waitDecided = true;
    if (!lingering || lingerUntilNanos != until) {
      lingerUntilNanos = until;
      lingering = true;
      LockSupport.unpark(committer); // it may be asleep until the flush deadline: wake it to sleep until this one
    }
    return true;
  }

  private void runCommitter() {
    while (true) {
      InFlight f = handOver.getAndSet(null);
      if (f == null) {
        if (committerStopping) {
          return;
        }
        // Asleep until a batch is handed over, the end of a wait for company, or the flush
        // deadline of what is open. Commands left queued by a combiner that ran out of rounds
        // (their callers found the lock taken and went on waiting) are applied now, not later.
        long sleep = queue.isEmpty() ? flushAfterNanos : 0;
        if (lingering) {
          sleep = Math.min(sleep, lingerUntilNanos - System.nanoTime());
        }
        if (sleep > 0) {
          LockSupport.parkNanos(this, sleep);
          if (Thread.interrupted()) {
            return; // nobody interrupts the committer but the JVM; closing is by committerStopping
          }
          if (handOver.get() != null) {
            continue;
          }
        }
        checkClaim();
        combine(true); // the flush deadline of what is open, the end of a wait, anything a combiner left queued
        continue;
      }
      checkClaim();
      try {
        if (f.batch != null) {
          long writeStart = System.nanoTime();
          store.write(f.batch);
          writeNanos.add(System.nanoTime() - writeStart);
          batchesCommitted.increment();
        }
        commandsCommitted.add(f.commands);
      } catch (RuntimeException e) {
        f.failure = e;
      }
      // Done before anyone is answered: a caller answered here acts next on a ledger that knows
      // its batch is through (and finishes it in its own step if this thread has not yet).
      f.done = true;
      if (f.failure == null) {
        // Answered here, so that a post's caller wakes as soon as its charge is durable.
        f.waiting.forEach(Ledger::complete);
      }
      combine(true); // finish this batch and hand over the next at once, whoever else is about
    }
  }

  /**
   * Every {@link #CLAIM_CHECK_NANOS}, on the committer: whether the exclusive claim still
   * holds (a PostgreSQL session can end under it, and then another node may claim the ledger).
   */
  private void checkClaim() {
    long now = System.nanoTime();
    if (now - claimCheckedNanos < CLAIM_CHECK_NANOS) {
      return;
    }
    claimCheckedNanos = now;
    if (!claimLost && !claim.held()) {
      log.error("the ledger's exclusive claim on its database was lost (session ended); refusing ledger commands until it is taken again");
      claimLost = true;
    }
  }

  /**
   * Under the combiner's lock, while the claim is lost: forgets what is unwritten (another node
   * may have written since) and tries to take the claim again; the caller refuses what is queued
   * until it is.
   */
  private boolean reclaim() {
    if (inFlight != null) {
      return false; // let the batch being written finish (or fail) first
    }
    if (!open.isEmpty() || !openWaiting.isEmpty() || !accounts.isEmpty()) {
      forgetAllUnwritten(claimLostError());
    }
    try {
      LedgerStore.Claim again = store.claim(mode);
      claim.close();
      claim = again;
      claimLost = false;
      log.warn("the ledger's exclusive claim is held again; state reloads from the store");
      return true;
    } catch (RuntimeException e) {
      return false; // held elsewhere or unreachable: try again at the next check
    }
  }

  private static LedgerUnavailableException claimLostError() {
    return new LedgerUnavailableException("the ledger lost its exclusive claim on the database; retry shortly");
  }

  /** The committer is through with {@code f}: the cache now matches the store, or must be dropped. */
  private void finished(InFlight f) {
    RuntimeException failure = f.failure;
    if (failure == null) {
      committed(f.changes, f.batch);
      return;
    }
    String why = failure instanceof LedgerConflictException
        ? "another writer changed accounts " + ((LedgerConflictException) failure).accountIds()
            + " of a ledger claimed exclusively; is a second node running on this database without billing.ledger: shared?"
        : failure.getMessage();
    LedgerUnavailableException unavailable =
        new LedgerUnavailableException("ledger batch of " + f.commands + " commands not committed: " + why, failure);
    f.waiting.forEach(c -> fail(c, unavailable));
    forgetAllUnwritten(unavailable);
  }

  /**
   * Exclusive mode, after a failure: fails what waits for the open batch (it was applied on top
   * of state that is not durable) and empties the memory, which reloads from the store. Holds
   * answered since the last commit are forgotten with it.
   */
  private void forgetAllUnwritten(LedgerUnavailableException cause) {
    int holds = open.newReservationCount();
    log.error("ledger state not written is dropped ({} commands waiting, {} holds answered since the last commit are forgotten): {}",
        openWaiting.size(), holds, cause.getMessage());
    openWaiting.forEach(c -> fail(c, cause));
    openWaiting.clear();
    flushWaiting = false;
    open = new Changes();
    openCommands = 0;
    accounts.clear();
    pendingIndex.clear();
    settled.clear();
    outcomes.clear();
  }

  /** The reservations and ids looked up in the store for one attempt at a batch. */
  private static final class Lookups {
    final Map<String, LedgerStore.ReservationRow> reservations = new HashMap<>();
    final Set<String> missingReservations = new HashSet<>();
    final Map<String, LedgerStore.EntryRow> entries = new HashMap<>();
    final Map<Expire, List<String>> dueAccounts = new HashMap<>();
  }

  private void process(List<Command<?>> batch) {
    RuntimeException failure = null;
    for (int attempt = 0; attempt < options.maxAttempts(); attempt++) {
      boolean careful = attempt > 0;
      if (careful) {
        retries.increment();
      }
      Changes changes = new Changes();
      long nowMillis = clock.millis();
      try {
        Lookups lookups = resolve(batch, careful);
        for (Command<?> c : batch) {
          apply(c, lookups, nowMillis, changes);
        }
        LedgerStore.Batch written = null;
        if (!changes.isEmpty()) {
          written = changes.toBatch(nowMillis);
          long writeStart = System.nanoTime();
          store.write(written);
          writeNanos.add(System.nanoTime() - writeStart);
        }
        committed(changes, written);
        batchesCommitted.increment();
        commandsCommitted.add(batch.size());
        for (Command<?> c : batch) {
          complete(c);
        }
        return;
      } catch (LedgerConflictException e) {
        failure = e;
        undo(changes);
        forget(e.accountIds());
        backOff(attempt);
      } catch (RuntimeException e) {
        failure = e;
        undo(changes);
        if (careful) {
          break; // it failed with every id looked up: not a replay, so the store is failing.
        }
      }
    }
    LedgerUnavailableException unavailable =
        new LedgerUnavailableException("ledger batch of " + batch.size() + " commands not committed: " + failure.getMessage(), failure);
    for (Command<?> c : batch) {
      c.future.completeExceptionally(unavailable);
    }
  }

  /**
   * Waits a random 0 to 2^attempt milliseconds after a conflict, so that two nodes fighting over a
   * hot account stop colliding in lockstep. Blocking the writer is intended: nothing else can use
   * it until this batch is through.
   */
  private static void backOff(int attempt) {
    try {
      Thread.sleep(ThreadLocalRandom.current().nextLong(1L << Math.min(attempt + 1, 8)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @SuppressWarnings("unchecked")
  private static <R> void complete(Command<R> c) {
    c.future.complete(c.result);
  }

  /** Looks up, in as few queries as possible, what the batch needs and the cache lacks. */
  private Lookups resolve(List<Command<?>> batch, boolean careful) {
    Lookups lookups = new Lookups();
    Set<String> reservationIds = new HashSet<>();
    Set<String> entryIds = new HashSet<>();
    Set<String> accountIds = new HashSet<>();
    for (Command<?> c : batch) {
      switch (c) {
        case Credit cr -> {
          accountIds.add(cr.accountId);
          if (careful && !outcomes.containsKey("c:" + cr.entryId)) {
            entryIds.add("c:" + cr.entryId);
          }
        }
        case Limit l -> {
          accountIds.add(l.accountId);
          if (careful && !outcomes.containsKey("k:" + l.changeId)) {
            entryIds.add("k:" + l.changeId);
          }
        }
        case Reserve r -> {
          accountIds.add(r.accountId);
          if (careful && !r.fresh && unknownReservation(r.reservationId)) {
            reservationIds.add(r.reservationId);
          }
        }
        case Extend x -> {
          if (unknownReservation(x.reservationId)) {
            reservationIds.add(x.reservationId);
          }
          if (careful && !outcomes.containsKey("x:" + x.extensionId)) {
            entryIds.add("x:" + x.extensionId);
          }
        }
        case Post p -> {
          if (unknownReservation(p.reservationId)) {
            reservationIds.add(p.reservationId);
          }
        }
        case Flush f -> {}
        case Read r -> accountIds.add(r.accountId);
        case Expire e -> {
          List<String> due = dueAccounts(e.nowMillis);
          lookups.dueAccounts.put(e, due);
          accountIds.addAll(due);
        }
      }
    }
    if (!reservationIds.isEmpty()) {
      lookups.reservations.putAll(store.findReservations(reservationIds));
      for (String id : reservationIds) {
        LedgerStore.ReservationRow row = lookups.reservations.get(id);
        if (row == null) {
          lookups.missingReservations.add(id);
        } else if (row.state() == ReservationState.PENDING) {
          // Pending in the store but not in our cache. Shared: another node made it, so our copy
          // of its account (if any) is stale. Exclusive: its account was evicted after the hold
          // was written, so it is not cached and loads as written.
          if (mode == Mode.SHARED) {
            forget(Set.of(row.accountId()));
          }
          accountIds.add(row.accountId());
        } else {
          settled.put(id, Reservation.of(row));
        }
      }
    }
    if (!entryIds.isEmpty()) {
      lookups.entries.putAll(store.findEntries(entryIds));
    }
    List<String> toLoad = new ArrayList<>();
    for (String id : accountIds) {
      if (!accounts.containsKey(id)) {
        toLoad.add(id);
      }
    }
    if (!toLoad.isEmpty()) {
      Map<String, LedgerStore.AccountRow> rows = store.load(toLoad);
      for (String id : toLoad) {
        LedgerStore.AccountRow row = rows.get(id);
        AccountState state = row == null ? new AccountState(id) : AccountState.of(row);
        accounts.put(id, state);
        for (String reservationId : state.pending.keySet()) {
          pendingIndex.put(reservationId, state);
        }
      }
    }
    return lookups;
  }

  /**
   * Up to {@code maxBatch} accounts with a hold or grant due at {@code nowMillis}: as the store has
   * them, and in exclusive mode also those cached with changes not yet written.
   */
  private List<String> dueAccounts(long nowMillis) {
    List<String> due = new ArrayList<>(store.accountsWithDue(nowMillis, options.maxBatch()));
    if (mode == Mode.EXCLUSIVE) {
      Set<String> seen = new HashSet<>(due);
      for (AccountState a : accounts.values()) {
        if (due.size() >= options.maxBatch()) {
          break;
        }
        if (a.hasDue(nowMillis) && seen.add(a.accountId)) {
          due.add(a.accountId);
        }
      }
    }
    return due;
  }

  private boolean unknownReservation(String id) {
    return !pendingIndex.containsKey(id) && !settled.containsKey(id);
  }

  private AccountState account(String accountId) {
    AccountState state = accounts.get(accountId);
    if (state == null) {
      throw new IllegalStateException("account " + accountId + " was not loaded for its batch");
    }
    return state;
  }

  private void apply(Command<?> command, Lookups lookups, long nowMillis, Changes changes) {
    switch (command) {
      case Credit c -> c.result = credit(c, lookups, nowMillis, changes);
      case Limit l -> l.result = limit(l, lookups, nowMillis, changes);
      case Reserve r -> r.result = reserve(r, lookups, nowMillis, changes);
      case Extend x -> x.result = extend(x, lookups, nowMillis, changes);
      case Post p -> p.result = post(p, lookups, nowMillis, changes);
      case Flush f -> f.result = null;
      case Read r -> r.result = account(r.accountId).balance(nowMillis);
      case Expire e -> {
        int count = 0;
        for (String id : lookups.dueAccounts.getOrDefault(e, List.of())) {
          count += account(id).expireOverdue(e.nowMillis, changes);
        }
        e.result = count;
      }
    }
  }

  private CreditResult credit(Credit c, Lookups lookups, long nowMillis, Changes changes) {
    String key = "c:" + c.entryId;
    Object known = known(key, changes);
    if (known instanceof CreditResult result) {
      return result;
    }
    LedgerStore.EntryRow stored = lookups.entries.get(key);
    if (stored != null) {
      Instant expiresAt = stored.expiresAtMillis() == null ? null : Instant.ofEpochMilli(stored.expiresAtMillis());
      CreditKind kind = stored.kind() == EntryKind.GRANT ? CreditKind.GRANTED : CreditKind.TOPPED_UP;
      return remember(key, new CreditResult(c.entryId, stored.accountId(), kind, stored.amountNanos(), expiresAt), changes);
    }
    AccountState account = account(c.accountId);
    // A grant that expired while queued is still credited (the caller was told it would be) and
    // lapses at the account's next touch, leaving both facts in the journal.
    account.expireOverdue(nowMillis, changes);
    return remember(key, account.credit(c.entryId, c.kind, c.amountNanos, c.expiresAtMillis, nowMillis, changes), changes);
  }

  private CreditLimitResult limit(Limit l, Lookups lookups, long nowMillis, Changes changes) {
    String key = "k:" + l.changeId;
    Object known = known(key, changes);
    if (known instanceof CreditLimitResult result) {
      return result;
    }
    LedgerStore.EntryRow stored = lookups.entries.get(key);
    if (stored != null) {
      return remember(key, new CreditLimitResult(CreditLimitResult.Status.APPLIED, stored.accountId(), stored.amountNanos()), changes);
    }
    AccountState account = account(l.accountId);
    account.expireOverdue(nowMillis, changes);
    CreditLimitResult result = account.setCreditLimit(l.changeId, l.creditLimitNanos, nowMillis, changes);
    return result.status() == CreditLimitResult.Status.APPLIED ? remember(key, result, changes) : result;
  }

  private ReserveResult reserve(Reserve r, Lookups lookups, long nowMillis, Changes changes) {
    Reservation known = findReservation(r.reservationId, lookups, changes);
    if (known != null) {
      return known.reserveResult();
    }
    LedgerStore.ReservationRow stored = lookups.reservations.get(r.reservationId);
    if (stored != null) {
      return Reservation.of(stored).reserveResult();
    }
    AccountState account = account(r.accountId);
    account.expireOverdue(nowMillis, changes);
    return account.reserve(r.reservationId, r.amountNanos, Math.addExact(nowMillis, r.ttlMillis), r.fresh, nowMillis, changes, pendingIndex);
  }

  private ExtendResult extend(Extend x, Lookups lookups, long nowMillis, Changes changes) {
    String key = "x:" + x.extensionId;
    Object knownOutcome = known(key, changes);
    if (knownOutcome instanceof ExtendResult result) {
      return result;
    }
    Reservation r = findReservation(x.reservationId, lookups, changes);
    if (r == null) {
      return new ExtendResult(ExtendResult.Status.NOT_FOUND, x.reservationId, 0, 0, null, null);
    }
    if (lookups.entries.containsKey(key)) {
      return remember(key, new ExtendResult(ExtendResult.Status.EXTENDED, r.id, r.holdNanos, 0, Instant.ofEpochMilli(r.expiresAtMillis), r.state), changes);
    }
    if (r.state == ReservationState.PENDING) {
      account(r.accountId).expireOverdue(nowMillis, changes);
    }
    if (r.state != ReservationState.PENDING) {
      return new ExtendResult(ExtendResult.Status.NOT_PENDING, r.id, r.holdNanos, 0, Instant.ofEpochMilli(r.expiresAtMillis), r.state);
    }
    ExtendResult result = account(r.accountId).extend(r, x.extensionId, x.additionalNanos, Math.addExact(nowMillis, x.ttlMillis), nowMillis, changes);
    return result.status() == ExtendResult.Status.EXTENDED ? remember(key, result, changes) : result;
  }

  private SettleResult post(Post p, Lookups lookups, long nowMillis, Changes changes) {
    Reservation r = findReservation(p.reservationId, lookups, changes);
    if (r == null) {
      return new SettleResult(SettleResult.Status.NOT_FOUND, p.reservationId, 0, 0);
    }
    if (r.state == ReservationState.PENDING) {
      account(r.accountId).expireOverdue(nowMillis, changes);
    }
    if (r.state != ReservationState.PENDING) {
      return r.settleResult();
    }
    AccountState account = account(r.accountId);
    SettleResult result =
        p.actualNanos < 0 ? account.voidReservation(r, nowMillis, changes) : account.post(r, p.actualNanos, nowMillis, changes);
    if (p.usage != null && (result.status() == SettleResult.Status.POSTED || result.status() == SettleResult.Status.VOIDED)) {
      // Settled by this command, now: its usage record commits with the debit it explains.
      changes.usage(p.usage.withCost(result.postedNanos()));
    }
    return result;
  }

  /** The reservation as this batch sees it (pending or settled), or null when the store has none. */
  private @Nullable Reservation findReservation(String id, Lookups lookups, Changes changes) {
    AccountState owner = pendingIndex.get(id);
    if (owner != null) {
      Reservation r = owner.pending.get(id);
      if (r != null) {
        return r;
      }
    }
    Reservation settledNow = changes.settled.get(id);
    if (settledNow != null) {
      return settledNow;
    }
    InFlight f = inFlight;
    Reservation settledInFlight = f == null ? null : f.changes.settled.get(id);
    if (settledInFlight != null) {
      return settledInFlight;
    }
    Reservation settledBefore = settled.get(id);
    if (settledBefore != null) {
      return settledBefore;
    }
    LedgerStore.ReservationRow stored = lookups.reservations.get(id);
    if (stored != null && stored.state() != ReservationState.PENDING) {
      return Reservation.of(stored);
    }
    // A pending reservation from the store is in its freshly loaded account, hence in pendingIndex;
    // anything else was never reserved (or not yet, when a later command of this batch reserves it).
    return null;
  }

  /**
   * Remembers an operation's outcome for replays of its id: with its batch until that is durable
   * (the bounded cache might drop it before), and in the cache.
   */
  private <T> T remember(String key, T outcome, Changes changes) {
    changes.outcomes.put(key, outcome);
    outcomes.put(key, outcome);
    return outcome;
  }

  private @Nullable Object known(String key, Changes changes) {
    Object unwritten = changes.outcomes.get(key);
    if (unwritten != null) {
      return unwritten;
    }
    InFlight f = inFlight;
    Object inFlightOutcome = f == null ? null : f.changes.outcomes.get(key);
    return inFlightOutcome != null ? inFlightOutcome : outcomes.get(key);
  }

  /**
   * {@code written} (null when the batch changed nothing) is durable: the store now holds, for
   * every account it touched, the version it wrote; in exclusive mode the memory may be ahead.
   */
  private void committed(Changes changes, LedgerStore.@Nullable Batch written) {
    if (written != null) {
      for (LedgerStore.AccountWrite w : written.accounts()) {
        changes.touched.get(w.accountId()).storedVersion = w.newVersion();
      }
    }
    for (Reservation r : changes.settled.values()) {
      pendingIndex.remove(r.id);
      settled.put(r.id, r);
    }
    // An account with changes not yet written stays: reloading it would lose them.
    Changes unwritten = open;
    accounts.trimTo(options.maxCachedAccounts(), a -> unwritten.touched.containsKey(a.accountId), this::dropPendingOf);
  }

  /** Forgets what a failed attempt did in memory: its accounts reload from the store. */
  private void undo(Changes changes) {
    for (String id : changes.settled.keySet()) {
      pendingIndex.remove(id);
    }
    forget(changes.touched.keySet());
  }

  /** Drops accounts from the cache; they are reloaded from the store when next needed. */
  private void forget(Set<String> accountIds) {
    for (String id : accountIds) {
      AccountState state = accounts.remove(id);
      if (state != null) {
        dropPendingOf(state);
      }
    }
    // Outcomes remembered during a failed attempt may not be durable: forget those too. They are
    // few (only successful credits, limits and extensions), so clearing is simpler than tracking.
    outcomes.clear();
  }

  private void dropPendingOf(AccountState state) {
    for (String id : state.pending.keySet()) {
      pendingIndex.remove(id, state);
    }
  }

  private static void checkId(String id, String name) {
    if (id == null || id.isBlank() || id.length() > MAX_ID_LENGTH) {
      throw new IllegalArgumentException(name + " must be 1 to " + MAX_ID_LENGTH + " characters: " + id);
    }
  }

  private static void checkPositive(long value, String name) {
    if (value <= 0) {
      throw new IllegalArgumentException(name + " must be positive: " + value);
    }
  }

  /** An access-ordered map that keeps at most {@code limit} entries. */
  static final class LruMap<K, V> extends LinkedHashMap<K, V> {
    private final int limit;

    LruMap(int limit) {
      super(1024, 0.75f, true);
      this.limit = limit;
    }

    @Override
    protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
      return size() > limit;
    }

    /** Evicts eldest first, skipping those to {@code keep}, until at most {@code max} are left. */
    void trimTo(int max, Predicate<V> keep, Consumer<V> onEvict) {
      var it = entrySet().iterator();
      while (size() > max && it.hasNext()) {
        V v = it.next().getValue();
        if (!keep.test(v)) {
          it.remove();
          onEvict.accept(v);
        }
      }
    }
  }
}
