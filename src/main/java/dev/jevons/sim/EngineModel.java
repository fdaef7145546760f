package dev.jevons.sim;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.OptionalLong;

/*
 * Implementation note: a discrete-event model of one continuously batching inference engine
 * (one vLLM-like replica).
 *
 * Model. Time advances only when the caller says so (advanceTo / submit take engine nanos), so the
 * same class runs under a real-time driver for HTTP (EngineRunner) and on a virtual clock in the
 * planner; it reads no clock, starts no thread and is deterministic for a given sequence of calls.
 * Not thread-safe: the caller serialises access.
 *
 * The engine executes one step at a time. When a step starts it first admits waiting sequences in
 * FCFS order while (a) running < maxNumSeqs, (b) the KV cache can hold the sequence's prompt plus
 * its maximum output tokens, and (c) the step's prefill budget (maxPrefillTokensPerStep, counted in
 * uncached tokens) is not yet spent; the head of the queue is always admitted when (a) and (b) hold,
 * so an oversized prompt cannot starve. FCFS is strict: if the head does not fit, nobody behind it
 * is admitted (vLLM's default policy). The step then lasts
 *     prefill(uncached tokens of the newly admitted) + decodeStep(number of sequences already decoding)
 * where prefill(t) = t / prefillTokensPerSecond and decodeStep(b) = decodeBase + decodePerSeq * b.
 * At the end of the step every newly admitted sequence emits its first token (prefill yields a
 * token) and every decoding sequence emits one more token; sequences that reach their output length
 * finish and free their slot and KV reservation. The next step starts at once if there is any work.
 *
 * KV accounting reserves prompt + maxOutputTokens on admission and never preempts. This is more
 * conservative than vLLM (which allocates blocks as it goes and preempts on exhaustion), so
 * kv_cache_usage_perc reads higher and admission stops earlier for requests with generous
 * max_tokens; in exchange there is no recompute/swap to model.
 *
 * Prefix cache: the prompt is cut into 64-token blocks identified by a hash chain; at admission the
 * leading blocks present in an LRU of (kvCapacity / 64, at most 262,144) block hashes count as
 * cached and are free to prefill; when prefill ends the prompt's blocks are inserted. Only full
 * blocks cache, and the block holding the last prompt token never does (one token must be computed).
 * Approximations: cached blocks are not charged against KV capacity (vLLM keeps them in free
 * blocks, evicted on demand), and running sequences sharing a prefix each reserve their own KV.
 *
 * Deliberately approximate: prefill and decode share each step's time (no chunked prefill, no
 * prefill/decode disaggregation), so a burst of long prompts stalls decoding, as on a vLLM server
 * without chunked prefill; step times are linear in batch size; there is no speculative decoding.
 *
 * Calibration of h800 (one 8-GPU H800 node; DeepSeek's figures for the 24 h ending 2025-02-28):
 *   decode: ~14.8k output tok/s aggregate at 20-22 tok/s per stream means a saturated batch of
 *     14,800 / 21 ~ 704 streams, so maxNumSeqs = 704 and a full step must last 704 / 14,800 s =
 *     47.57 ms. With decodeBase = 15 ms, decodePerSeq = (47.57 - 15) ms / 704 = 46.26 us:
 *     decodeStep(704) = 15 + 704 * 0.04626 = 47.567 ms -> 21.02 tok/s per stream,
 *     704 * 21.02 = 14,800 tok/s aggregate. A lone stream runs at 1 / 15.05 ms ~ 66 tok/s.
 *   prefill: 73.7k input tok/s (cache hits included in DeepSeek's figure; here hits are free, so
 *     the figure is applied to uncached tokens, an optimistic reading) -> 13.57 us per token; the
 *     16,384-token per-step budget is ~222 ms of prefill.
 *   KV: 4 Mi tokens (~5.9k per slot at a full batch). Not derived from memory arithmetic (DeepSeek
 *     serves V3 across nodes with expert parallelism); chosen so a typical chat mix is limited by
 *     maxNumSeqs, not KV, at 64k maxModelLen.
 */

/** Discrete-event model of one continuously batching inference engine; see the note above. */
public final class EngineModel {

  /** State of one submitted sequence, as seen by the caller. */
  public static final class Handle {
    private final long id;
    private final SequenceRequest request;
    private final SequenceListener listener;
    private final long arrivalNanos;
    private final long[] blockHashes;
    private int cachedPromptTokens;
    private int emitted;
    private boolean prefilled;
    private boolean done;

    private Handle(long id, SequenceRequest request, SequenceListener listener, long arrivalNanos) {
      this.id = id;
      this.request = request;
      this.listener = listener;
      this.arrivalNanos = arrivalNanos;
      this.blockHashes = PrefixCache.blockHashes(request.promptTokenIds());
    }

    public long id() {
      return id;
    }

    public long arrivalNanos() {
      return arrivalNanos;
    }

    public int promptTokens() {
      return request.promptTokenIds().length;
    }

    public int cachedPromptTokens() {
      return cachedPromptTokens;
    }

    public int outputTokensEmitted() {
      return emitted;
    }

    /** Finished or cancelled. */
    public boolean isDone() {
      return done;
    }
  }

  /** Counters in the units vLLM reports them. */
  public record Stats(
      int running,
      int waiting,
      double kvCacheUsage,
      long prefixCacheQueriesTokens,
      long prefixCacheHitsTokens,
      long promptTokens,
      long generationTokens,
      long finished,
      long cancelled) {}

  private final EngineProfile profile;
  private final PrefixCache prefixCache;
  private final ArrayDeque<Handle> waiting = new ArrayDeque<>();
  /** Admission order; removal of finished sequences keeps it. */
  private ArrayList<Handle> running = new ArrayList<>();

  private long nowNanos;
  private long kvTokensUsed;
  private long nextId;
  /** End of the step in progress, or -1 when idle. */
  private long stepEndNanos = -1;

  private long prefixQueriesTokens;
  private long prefixHitsTokens;
  private long promptTokensTotal;
  private long generationTokensTotal;
  private long finishedTotal;
  private long cancelledTotal;

  public EngineModel(EngineProfile profile) {
    this(profile, 0L);
  }

  public EngineModel(EngineProfile profile, long startNanos) {
    this.profile = profile;
    this.nowNanos = startNanos;
    long blocks = Math.min(profile.kvCapacityTokens() / PrefixCache.BLOCK_TOKENS, 262_144L);
    this.prefixCache = new PrefixCache((int) Math.max(1, blocks));
  }

  public EngineProfile profile() {
    return profile;
  }

  public long nowNanos() {
    return nowNanos;
  }

  /**
   * Queues a sequence arriving at {@code arrivalNanos} (advancing the engine to that time first).
   *
   * @throws EngineOverloadedException when the waiting queue is full
   * @throws IllegalArgumentException when the sequence could never fit this engine
   */
  public Handle submit(SequenceRequest request, SequenceListener listener, long arrivalNanos) {
    long need = request.kvTokensReserved();
    if (need > profile.maxModelLenTokens()) {
      throw new IllegalArgumentException(
          "prompt (" + request.promptTokenIds().length + ") + max output ("
              + request.maxOutputTokens() + ") tokens exceed the model length of "
              + profile.maxModelLenTokens());
    }
    advanceTo(arrivalNanos);
    if (waiting.size() >= profile.maxWaitingSequences()) {
      throw new EngineOverloadedException(
          "engine queue full: " + waiting.size() + " sequences waiting, " + running.size()
              + " running (max_num_seqs " + profile.maxNumSeqs() + ")");
    }
    Handle h = new Handle(nextId++, request, listener, nowNanos);
    waiting.addLast(h);
    if (stepEndNanos < 0) startStep();
    return h;
  }

  /**
   * Processes every step that ends at or before {@code nanos}, reporting events to listeners.
   * Time never goes backwards: an earlier {@code nanos} is treated as now.
   */
  public void advanceTo(long nanos) {
    while (stepEndNanos >= 0 && stepEndNanos <= nanos) {
      nowNanos = stepEndNanos;
      finishStep();
      startStep();
    }
    nowNanos = Math.max(nowNanos, nanos);
  }

  /** When the step in progress ends (the next time events happen), or empty when idle. */
  public OptionalLong nextEventNanos() {
    return stepEndNanos < 0 ? OptionalLong.empty() : OptionalLong.of(stepEndNanos);
  }

  /**
   * Cancels a sequence: a waiting one leaves the queue, a running one frees its slot and KV
   * reservation at once (the step in progress keeps its length; the sequence just emits nothing).
   * Returns false if it had already finished or been cancelled.
   */
  public boolean cancel(Handle h) {
    if (h.done) return false;
    h.done = true;
    if (!waiting.remove(h)) {
      running.remove(h);
      kvTokensUsed -= h.request.kvTokensReserved();
    }
    cancelledTotal++;
    h.listener.onCancelled(nowNanos, h.emitted);
    return true;
  }

  public Stats stats() {
    return new Stats(
        running.size(),
        waiting.size(),
        (double) kvTokensUsed / profile.kvCapacityTokens(),
        prefixQueriesTokens,
        prefixHitsTokens,
        promptTokensTotal,
        generationTokensTotal,
        finishedTotal,
        cancelledTotal);
  }

  int prefixCacheBlocks() {
    return prefixCache.size();
  }

  private void startStep() {
    int decoding = running.size();
    long prefillTokens = 0;
    int admitted = 0;
    while (!waiting.isEmpty() && running.size() < profile.maxNumSeqs()) {
      Handle h = waiting.peekFirst();
      long need = h.request.kvTokensReserved();
      if (kvTokensUsed + need > profile.kvCapacityTokens()) break;
      // Looking up before the budget check would touch LRU entries for a sequence not admitted.
      int hitBlocks = prefixCache.lookup(h.blockHashes);
      int cached = hitBlocks * PrefixCache.BLOCK_TOKENS;
      int uncached = h.promptTokens() - cached;
      if (admitted > 0 && prefillTokens + uncached > profile.maxPrefillTokensPerStep()) {
        break;
      }
      waiting.removeFirst();
      kvTokensUsed += need;
      prefillTokens += uncached;
      h.cachedPromptTokens = cached;
      prefixQueriesTokens += h.promptTokens();
      prefixHitsTokens += cached;
      promptTokensTotal += h.promptTokens();
      running.add(h);
      admitted++;
      h.listener.onAdmitted(nowNanos, cached);
    }
    if (running.isEmpty()) {
      stepEndNanos = -1;
      return;
    }
    long duration = profile.prefillNanos(prefillTokens);
    if (decoding > 0) duration += profile.decodeStepNanos(decoding);
    stepEndNanos = nowNanos + duration;
  }

  private void finishStep() {
    ArrayList<Handle> still = new ArrayList<>(running.size());
    for (Handle h : running) {
      // Sequences cancelled during the step were already removed from running. A sequence not
      // yet prefilled was admitted by this very step, whose end completes its prefill.
      if (!h.prefilled) {
        h.prefilled = true;
        prefixCache.insert(h.blockHashes);
      }
      int index = h.emitted++;
      generationTokensTotal++;
      h.listener.onToken(nowNanos, index);
      if (h.emitted >= h.request.outputTokens()) {
        h.done = true;
        kvTokensUsed -= h.request.kvTokensReserved();
        finishedTotal++;
        h.listener.onFinished(nowNanos, h.emitted);
      } else {
        still.add(h);
      }
    }
    running = still;
  }
}
