package dev.jevons.scheduler.bench;

import dev.jevons.scheduler.Admission;
import dev.jevons.scheduler.FairQueue;
import dev.jevons.scheduler.PrefixIndex;
import dev.jevons.scheduler.PromptPrefix;
import dev.jevons.scheduler.Router;
import dev.jevons.scheduler.Server;
import dev.jevons.scheduler.Ticket;
import dev.jevons.scheduler.TicketSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What one scheduling decision costs (issue 4: under 5 us per dispatch with 10,000 queued
 * requests from 1,000 accounts). Not a test: surefire never runs it. Run it as shown in
 * docs/BENCHMARKS.md, "Scheduler decision cost".
 *
 * <p>Every benchmark is single-threaded and measures the decision alone, in steady state: the
 * queue stays at its size because each operation takes one ticket out and puts one back.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class SchedulerBenchmarks {
  static final long WAIT_NANOS = TimeUnit.HOURS.toNanos(1);
  static final String[] MODELS = {"llama-70b", "qwen-32b"};
  static final int SPEC_RING = 1 << 16;

  /** Specs drawn from 1,000 accounts, three bands (10% / 60% / 30%) and two models. */
  static TicketSpec[] specs(String accounts, int accountCount, int prefixBlocks, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    double[] cumulative = new double[accountCount];
    double sum = 0;
    for (int i = 0; i < accountCount; i++) {
      // Zipf with s = 1: account i is drawn in proportion to 1 / (i + 1).
      sum += accounts.equals("zipf") ? 1.0 / (i + 1) : 1.0;
      cumulative[i] = sum;
    }
    TicketSpec[] out = new TicketSpec[SPEC_RING];
    for (int i = 0; i < out.length; i++) {
      int idx = java.util.Arrays.binarySearch(cumulative, rnd.nextDouble() * sum);
      int account = Math.min(accountCount - 1, idx >= 0 ? idx : -idx - 1);
      double b = rnd.nextDouble();
      int band = b < 0.1 ? 0 : b < 0.7 ? 1 : 2;
      long[] hashes = new long[prefixBlocks];
      for (int h = 0; h < prefixBlocks; h++) {
        hashes[h] = rnd.nextLong();
      }
      out[i] =
          new TicketSpec(
              "acct-" + account,
              1 + account % 3,
              band,
              MODELS[rnd.nextInt(MODELS.length)],
              100 + rnd.nextInt(2_000),
              1 + rnd.nextInt(1_000),
              WAIT_NANOS,
              PromptPrefix.ofHashes(hashes));
    }
    return out;
  }

  /** A queue of 10,000 tickets; each operation dispatches one and enqueues a replacement. */
  @State(Scope.Thread)
  public static class QueueState {
    @Param({"uniform", "zipf"})
    String accounts;

    @Param({"10000"})
    int queued;

    @Param({"1000"})
    int accountCount;

    final Set<String> models = Set.of(MODELS);
    final Object slot = new Object();
    FairQueue queue;
    TicketSpec[] specs;
    int next;
    long nowNanos;

    @Setup(Level.Trial)
    public void setUp() {
      specs = specs(accounts, accountCount, 0, 42);
      queue = new FairQueue(() -> nowNanos, Long.MAX_VALUE / 4, queued + 1);
      for (int i = 0; i < queued; i++) {
        enqueueNext();
      }
      if (queue.size() != queued) {
        throw new IllegalStateException("queue holds " + queue.size() + ", wanted " + queued);
      }
    }

    Ticket enqueueNext() {
      nowNanos += 1_000;
      return queue.enqueue(specs[next++ & (SPEC_RING - 1)]);
    }
  }

  @Benchmark
  public Ticket dispatchAndRefill(QueueState s) {
    Ticket out = s.queue.dispatchNext(s.models, t -> s.slot);
    s.enqueueNext();
    return out;
  }

  /** Eight-ish replicas behind a prefix index that has seen many 1,000-block prompts. */
  @State(Scope.Thread)
  public static class RouterState {
    @Param({"4", "8"})
    int candidates;

    /** hit: one replica holds the whole prompt, the others its first 100 blocks; miss: none holds any. */
    @Param({"hit", "miss"})
    String prefix;

    static final int PROMPT_BLOCKS = 1_000;
    Router router;
    List<Router.Candidate> list;
    PromptPrefix prompt;

    @Setup(Level.Trial)
    public void setUp() {
      SplittableRandom rnd = new SplittableRandom(7);
      PrefixIndex index = new PrefixIndex();
      router = new Router(index, new Router.Settings(Router.Policy.PREFIX, Map.of(), TimeUnit.SECONDS.toNanos(2), 16));
      long[] hashes = new long[PROMPT_BLOCKS];
      for (int i = 0; i < hashes.length; i++) {
        hashes[i] = rnd.nextLong();
      }
      prompt = PromptPrefix.ofHashes(hashes);
      list = new ArrayList<>();
      for (int c = 0; c < candidates; c++) {
        String name = "replica-" + c;
        list.add(new Router.Candidate(name, c % 5, 16, 1_000L * c, 20_000, false));
        // Background: each replica has seen 20 other 1,000-block prompts (20,000 blocks).
        for (int p = 0; p < 20; p++) {
          long[] other = new long[PROMPT_BLOCKS];
          for (int i = 0; i < other.length; i++) {
            other[i] = rnd.nextLong();
          }
          index.record(MODELS[0], name, PromptPrefix.ofHashes(other));
        }
        if (prefix.equals("hit")) {
          long[] held = c == candidates - 1 ? hashes : java.util.Arrays.copyOf(hashes, 100);
          index.record(MODELS[0], name, PromptPrefix.ofHashes(held));
        }
      }
    }
  }

  @Benchmark
  public Optional<Router.Route> route(RouterState s) {
    return s.router.route(MODELS[0], s.list, s.prompt, 64L * RouterState.PROMPT_BLOCKS);
  }

  /** A server that is always full but for the slot the benchmark frees before each operation. */
  static final class FakeServer implements Server {
    final String name;
    final int maxConcurrency;
    int inFlight;

    FakeServer(String name, int maxConcurrency) {
      this.name = name;
      this.maxConcurrency = maxConcurrency;
      this.inFlight = maxConcurrency;
    }

    @Override public String name() { return name; }
    @Override public Set<String> models() { return Set.of(MODELS); }
    @Override public boolean hasRoom(long nowNanos) { return inFlight < maxConcurrency; }
    @Override public boolean tryAcquire(long nowNanos) {
      if (inFlight >= maxConcurrency) {
        return false;
      }
      inFlight++;
      return true;
    }
    @Override public void release() { inFlight--; }
    @Override public double load() { return (double) inFlight / maxConcurrency; }
    @Override public int inFlight() { return inFlight; }
    @Override public int maxConcurrency() { return maxConcurrency; }
    @Override public double prefillTokensPerSecond() { return 20_000; }
    @Override public boolean saturated(long nowNanos) { return false; }
  }

  /**
   * Admission end to end: 10,000 queued behind 8 full servers; each operation frees one slot and
   * enqueues a request, which dispatches the next ticket and routes it (16-block prompts).
   */
  @State(Scope.Thread)
  public static class AdmissionState {
    List<FakeServer> servers;
    Admission admission;
    TicketSpec[] specs;
    int next;
    long nowNanos;

    @Setup(Level.Trial)
    public void setUp() {
      specs = specs("zipf", 1_000, 16, 43);
      servers = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        servers.add(new FakeServer("replica-" + i, 64));
      }
      FairQueue queue = new FairQueue(() -> nowNanos, Long.MAX_VALUE / 4, 10_001);
      Router router = new Router(new PrefixIndex(), new Router.Settings(Router.Policy.PREFIX, Map.of(), TimeUnit.SECONDS.toNanos(2), 16));
      admission = new Admission(queue, () -> servers, router, () -> nowNanos);
      for (int i = 0; i < 10_000; i++) {
        admission.enqueue(specs[next++]);
      }
      if (queue.size() != 10_000) {
        throw new IllegalStateException("queue holds " + queue.size());
      }
    }
  }

  @Benchmark
  public Admission.Result admissionEnqueueAndPump(AdmissionState s) {
    s.nowNanos += 1_000;
    s.servers.get(s.next & 7).release();
    return s.admission.enqueue(s.specs[s.next++ & (SPEC_RING - 1)]);
  }
}
