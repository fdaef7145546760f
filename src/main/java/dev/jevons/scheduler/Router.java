package dev.jevons.scheduler;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/*
 * Implementation note.
 *
 * Chooses the replica for one request among the candidates the caller passes (those serving the
 * model, healthy, not ejected), by the model's policy:
 *
 * - round_robin: the next candidate with room after the previous choice for this model.
 * - least_loaded: the candidate with the least queued prefill work, in seconds (in-flight uncached
 *   prefill tokens / prefill tokens per second), then the fewest in-flight requests per slot; exact
 *   ties rotate, so equal replicas share load evenly instead of the first one taking everything.
 * - prefix (llm-d's "precise prefix-cache aware" routing, simplified to one rule): find the
 *   candidate that likely holds the longest leading part of the prompt (PrefixIndex) and stay
 *   there ("sticky"), unless its lead in uncached in-flight prefill tokens over the least-loaded
 *   candidate exceeds what it can prefill within the TTFT target (prefillTokensPerSecond x
 *   ttftTarget); then spill over to the least-loaded one. With no cached prefix anywhere it is
 *   least_loaded. Sticky routing concentrates a tenant's shared system prompt on one replica
 *   (one prefill, many hits); the spill-over bound keeps a hot prefix from queueing behind itself.
 *
 * A candidate is skipped when it is marked saturated (stale engine metrics count as saturated) or
 * has no free slot under its max concurrency; no candidate left means the request waits in the
 * queue (empty result), which is how dispatch stays late-bound.
 *
 * Concurrency: the router holds no lock. Per-model round-robin and tie cursors are atomics (bounded
 * by maxModels; models beyond share one cursor pair, which only makes rotation coarser). Loads come
 * from the caller and may be stale by a dispatch or two under concurrency; that is fine for a
 * heuristic, and the caller's slot acquisition on the chosen replica is what enforces capacity.
 *
 * Learning: the caller reports each dispatch with dispatched(), which records the prompt's blocks
 * for the chosen replica and counts index hits (blocks looked up / blocks matched) for metrics.
 */

/** Picks a replica for a request by the model's routing policy: prefix, least_loaded or round_robin. */
public final class Router {
  public enum Policy {
    PREFIX,
    LEAST_LOADED,
    ROUND_ROBIN;

    /** The configuration spelling: {@code prefix}, {@code least_loaded}, {@code round_robin}. */
    public static Policy parse(String name) {
      for (Policy p : values()) {
        if (p.configName().equals(name)) {
          return p;
        }
      }
      throw new IllegalArgumentException("unknown routing policy '" + name + "'; accepted: prefix, least_loaded, round_robin");
    }

    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Why a route was chosen, for metrics and logs. */
  public enum Reason {
    /** prefix policy: stayed on the replica holding the longest prefix. */
    STICKY,
    /** prefix policy: the replica holding the prefix was too far behind; least-loaded instead. */
    SPILLED,
    /** least_loaded, or prefix with no cached prefix anywhere. */
    LEAST_LOADED,
    ROUND_ROBIN
  }

  /**
   * One replica as the router sees it. The caller keeps the in-flight counts: a request adds its
   * {@link Route#uncachedPromptTokens()} to {@code inFlightPrefillTokens} when dispatched and
   * removes them at its first token (or end).
   *
   * @param replica the replica's name, as used in the {@link PrefixIndex}
   * @param maxConcurrency the replica's slots (max_concurrency); a candidate with none free is skipped
   * @param prefillTokensPerSecond how fast it prefills uncached prompt tokens; > 0, may be infinite
   * @param saturated true to skip it (e.g. its engine metrics are stale or its engine queue is deep)
   */
  public record Candidate(
      String replica,
      int inFlightRequests,
      int maxConcurrency,
      long inFlightPrefillTokens,
      double prefillTokensPerSecond,
      boolean saturated) {
    public Candidate {
      if (maxConcurrency < 1 || inFlightRequests < 0 || inFlightPrefillTokens < 0) {
        throw new IllegalArgumentException("invalid candidate " + replica + ": slots " + maxConcurrency
            + ", in flight " + inFlightRequests + ", prefill tokens " + inFlightPrefillTokens);
      }
      if (!(prefillTokensPerSecond > 0)) {
        throw new IllegalArgumentException("prefillTokensPerSecond of " + replica + " must be > 0: " + prefillTokensPerSecond);
      }
    }

    boolean hasRoom() {
      return !saturated && inFlightRequests < maxConcurrency;
    }

    /** Seconds of prefill queued ahead of a new request. */
    double prefillBacklogSeconds() {
      return inFlightPrefillTokens / prefillTokensPerSecond;
    }

    double slotUse() {
      return (double) inFlightRequests / maxConcurrency;
    }
  }

  /**
   * @param index position of the chosen candidate in the list passed to {@link #route}
   * @param matchedBlocks leading prompt blocks the replica likely holds
   * @param uncachedPromptTokens prompt tokens it will likely have to prefill
   */
  public record Route(int index, Candidate candidate, Reason reason, int matchedBlocks, long uncachedPromptTokens) {
    public String replica() {
      return candidate.replica();
    }
  }

  /**
   * @param defaultPolicy for models without an entry in {@code policyByModel}
   * @param ttftTargetNanos the latency a sticky replica's prefill backlog must stay within
   * @param maxModels bound on per-model cursors
   */
  public record Settings(Policy defaultPolicy, Map<String, Policy> policyByModel, long ttftTargetNanos, int maxModels) {
    public Settings {
      policyByModel = Map.copyOf(policyByModel);
      if (ttftTargetNanos <= 0) {
        throw new IllegalArgumentException("ttftTargetNanos must be > 0: " + ttftTargetNanos);
      }
      if (maxModels < 1) {
        throw new IllegalArgumentException("maxModels must be >= 1: " + maxModels);
      }
    }

    Policy policyOf(String model) {
      return policyByModel.getOrDefault(model, defaultPolicy);
    }
  }

  /** Cumulative counts since start, for metrics. */
  public record Stats(long blocksLookedUp, long blocksMatched, long sticky, long spilled, long leastLoaded, long roundRobin) {
    /** Share of prompt blocks the chosen replicas likely held; NaN before any lookup. */
    public double hitRate() {
      return blocksLookedUp == 0 ? Double.NaN : (double) blocksMatched / blocksLookedUp;
    }
  }

  private final PrefixIndex index;
  private final Settings settings;
  private final ConcurrentHashMap<String, Cursors> cursors = new ConcurrentHashMap<>();
  private final Cursors sharedCursors = new Cursors();
  private final LongAdder blocksLookedUp = new LongAdder();
  private final LongAdder blocksMatched = new LongAdder();
  private final LongAdder[] byReason = new LongAdder[Reason.values().length];

  public Router(PrefixIndex index, Settings settings) {
    this.index = index;
    this.settings = settings;
    for (int i = 0; i < byReason.length; i++) {
      byReason[i] = new LongAdder();
    }
  }

  private static final class Cursors {
    final AtomicLong roundRobin = new AtomicLong();
    final AtomicLong ties = new AtomicLong();
  }

  public Policy policyOf(String model) {
    return settings.policyOf(model);
  }

  /**
   * The replica for a request, or empty when no candidate has room (the request keeps waiting).
   * Does not change the index; call {@link #dispatched} once the request is sent.
   *
   * @param candidates in a stable order (round-robin walks it)
   * @param promptTokens the request's estimated prompt tokens
   */
  public Optional<Route> route(String model, List<Candidate> candidates, PromptPrefix prefix, long promptTokens) {
    Cursors c = cursorsOf(model);
    return switch (settings.policyOf(model)) {
      case ROUND_ROBIN -> roundRobin(c, candidates, prefix, promptTokens, model);
      case LEAST_LOADED -> leastLoaded(c, candidates).map(i -> route(model, candidates, i, Reason.LEAST_LOADED, prefix, promptTokens));
      case PREFIX -> prefix(model, c, candidates, prefix, promptTokens);
    };
  }

  /** Learns that {@code route}'s replica was sent {@code prefix}, and counts the lookup. */
  public void dispatched(String model, Route route, PromptPrefix prefix) {
    blocksLookedUp.add(prefix.blocks());
    blocksMatched.add(route.matchedBlocks());
    byReason[route.reason().ordinal()].increment();
    index.record(model, route.replica(), prefix);
  }

  public Stats stats() {
    return new Stats(blocksLookedUp.sum(), blocksMatched.sum(), byReason[Reason.STICKY.ordinal()].sum(),
        byReason[Reason.SPILLED.ordinal()].sum(), byReason[Reason.LEAST_LOADED.ordinal()].sum(),
        byReason[Reason.ROUND_ROBIN.ordinal()].sum());
  }

  private Optional<Route> prefix(String model, Cursors c, List<Candidate> candidates, PromptPrefix prefix, long promptTokens) {
    Optional<Integer> leastIndex = leastLoaded(c, candidates);
    if (leastIndex.isEmpty()) {
      return Optional.empty();
    }
    int least = leastIndex.get();
    int best = -1;
    int bestMatch = 0;
    for (int i = 0; i < candidates.size(); i++) {
      Candidate cand = candidates.get(i);
      if (!cand.hasRoom()) {
        continue;
      }
      int match = prefix.blocks() == 0 ? 0 : index.matchBlocks(model, cand.replica(), prefix);
      if (match > bestMatch || (match == bestMatch && match > 0 && preferOnEqualMatch(i, best, least, candidates))) {
        best = i;
        bestMatch = match;
      }
    }
    if (best < 0) {
      return Optional.of(route(least, candidates.get(least), Reason.LEAST_LOADED, 0, promptTokens));
    }
    if (best == least) {
      return Optional.of(route(best, candidates.get(best), Reason.STICKY, bestMatch, promptTokens));
    }
    Candidate sticky = candidates.get(best);
    Candidate lightest = candidates.get(least);
    double leadTokens = (double) sticky.inFlightPrefillTokens() - lightest.inFlightPrefillTokens();
    double clearableTokens = sticky.prefillTokensPerSecond() * (settings.ttftTargetNanos() / 1e9);
    if (leadTokens > clearableTokens) {
      int leastMatch = index.matchBlocks(model, lightest.replica(), prefix);
      return Optional.of(route(least, lightest, Reason.SPILLED, leastMatch, promptTokens));
    }
    return Optional.of(route(best, sticky, Reason.STICKY, bestMatch, promptTokens));
  }

  /** Among equal matches: the least-loaded choice itself if it is one of them, else the less loaded. */
  private static boolean preferOnEqualMatch(int i, int best, int least, List<Candidate> candidates) {
    if (best == least) {
      return false;
    }
    return i == least || compareLoad(candidates.get(i), candidates.get(best)) < 0;
  }

  private Optional<Route> roundRobin(Cursors c, List<Candidate> candidates, PromptPrefix prefix, long promptTokens, String model) {
    int n = candidates.size();
    if (n == 0) {
      return Optional.empty();
    }
    long start = c.roundRobin.getAndIncrement();
    for (int step = 0; step < n; step++) {
      int i = (int) Math.floorMod(start + step, (long) n);
      if (candidates.get(i).hasRoom()) {
        if (step > 0) {
          // Skipped full replicas: the next request starts after the one chosen.
          c.roundRobin.addAndGet(step);
        }
        return Optional.of(route(model, candidates, i, Reason.ROUND_ROBIN, prefix, promptTokens));
      }
    }
    return Optional.empty();
  }

  /** Index of the least-loaded candidate with room; exact ties rotate. */
  private static Optional<Integer> leastLoaded(Cursors c, List<Candidate> candidates) {
    int best = -1;
    int ties = 0;
    for (int i = 0; i < candidates.size(); i++) {
      Candidate cand = candidates.get(i);
      if (!cand.hasRoom()) {
        continue;
      }
      int cmp = best < 0 ? -1 : compareLoad(cand, candidates.get(best));
      if (cmp < 0) {
        best = i;
        ties = 1;
      } else if (cmp == 0) {
        ties++;
      }
    }
    if (best < 0) {
      return Optional.empty();
    }
    if (ties == 1) {
      return Optional.of(best);
    }
    int pick = (int) Math.floorMod(c.ties.getAndIncrement(), (long) ties);
    Candidate lightest = candidates.get(best);
    for (int i = best; i < candidates.size(); i++) {
      Candidate cand = candidates.get(i);
      if (cand.hasRoom() && compareLoad(cand, lightest) == 0 && pick-- == 0) {
        return Optional.of(i);
      }
    }
    return Optional.of(best);
  }

  private static int compareLoad(Candidate a, Candidate b) {
    int byPrefill = Double.compare(a.prefillBacklogSeconds(), b.prefillBacklogSeconds());
    return byPrefill != 0 ? byPrefill : Double.compare(a.slotUse(), b.slotUse());
  }

  private Route route(String model, List<Candidate> candidates, int i, Reason reason, PromptPrefix prefix, long promptTokens) {
    Candidate cand = candidates.get(i);
    int match = prefix.blocks() == 0 ? 0 : index.matchBlocks(model, cand.replica(), prefix);
    return route(i, cand, reason, match, promptTokens);
  }

  private static Route route(int i, Candidate cand, Reason reason, int matchedBlocks, long promptTokens) {
    long uncached = Math.max(0, promptTokens - PromptPrefix.tokensOf(matchedBlocks));
    return new Route(i, cand, reason, matchedBlocks, uncached);
  }

  private Cursors cursorsOf(String model) {
    Cursors c = cursors.get(model);
    if (c != null) {
      return c;
    }
    if (cursors.size() >= settings.maxModels()) {
      return sharedCursors;
    }
    return cursors.computeIfAbsent(model, m -> new Cursors());
  }
}
