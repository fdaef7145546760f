package dev.jevons.sim;

import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/*
 * Drives an EngineModel in real time for the HTTP server.
 *
 * Concurrency: one lock guards the engine. Timed profiles get one platform thread that sleeps on a
 * condition until the engine's next event (or a submission wakes it), advances the engine to "now"
 * and goes back to sleep; listener callbacks therefore run on that thread and only record counts and
 * signal the waiting request thread (Live). The instant profile has no driver thread: every step
 * takes zero time, so the submitting request thread advances the engine itself and finds its
 * sequence finished when submit returns, avoiding any thread handoff on the hot path.
 *
 * Engine time = (ticker - start) * timeScale, so the time scale compresses every engine duration;
 * event times reported to listeners are engine nanos and are divided back for wall-clock metrics.
 */
final class EngineRunner implements AutoCloseable {

  /** Consumer-side state of one sequence: counts written by the engine, read by a request thread. */
  static final class Live implements SequenceListener {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final SimMetrics metrics;
    private final double timeScale;
    private EngineModel.@org.jspecify.annotations.Nullable Handle handle;
    private long lastTokenNanos;
    private int emitted;
    private boolean ended;
    private int cachedTokens;

    Live(SimMetrics metrics, double timeScale) {
      this.metrics = metrics;
      this.timeScale = timeScale;
    }

    @Override
    public void onAdmitted(long nanos, int cachedPromptTokens) {
      lock.lock();
      try {
        cachedTokens = cachedPromptTokens;
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void onToken(long nanos, int index) {
      EngineModel.Handle h = handle;
      if (index == 0 && h != null) {
        metrics.observeTtft((nanos - h.arrivalNanos()) / timeScale / 1e9);
      } else if (index > 0) {
        metrics.observeItl((nanos - lastTokenNanos) / timeScale / 1e9);
      }
      lastTokenNanos = nanos;
      lock.lock();
      try {
        emitted = index + 1;
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void onFinished(long nanos, int outputTokens) {
      end();
    }

    @Override
    public void onCancelled(long nanos, int outputTokens) {
      end();
    }

    private void end() {
      lock.lock();
      try {
        ended = true;
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }

    /**
     * Waits until more than {@code seen} tokens are out or the sequence ended, at most {@code
     * timeoutNanos}; returns the number emitted so far.
     */
    int awaitBeyond(int seen, long timeoutNanos) throws InterruptedException {
      lock.lock();
      try {
        long left = timeoutNanos;
        while (emitted <= seen && !ended && left > 0) left = changed.awaitNanos(left);
        return emitted;
      } finally {
        lock.unlock();
      }
    }

    boolean ended() {
      lock.lock();
      try {
        return ended;
      } finally {
        lock.unlock();
      }
    }

    int cachedTokens() {
      lock.lock();
      try {
        return cachedTokens;
      } finally {
        lock.unlock();
      }
    }
  }

  private final EngineModel engine;
  private final SimMetrics metrics;
  private final double timeScale;
  private final LongSupplier ticker;
  private final long startTick;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private final @org.jspecify.annotations.Nullable Thread driver;
  private boolean closed;

  EngineRunner(EngineProfile profile, double timeScale, LongSupplier ticker, SimMetrics metrics) {
    this.engine = new EngineModel(profile);
    this.metrics = metrics;
    this.timeScale = timeScale;
    this.ticker = ticker;
    this.startTick = ticker.getAsLong();
    if (profile.isInstant()) {
      driver = null;
    } else {
      driver = Thread.ofPlatform().daemon().name("sim-engine-" + profile.name()).start(this::drive);
    }
  }

  /**
   * Submits a sequence; for the instant profile it has finished when this returns.
   *
   * @throws EngineOverloadedException when the engine's waiting queue is full
   */
  Live submit(SequenceRequest request) {
    Live live = new Live(metrics, timeScale);
    lock.lock();
    try {
      if (closed) throw new EngineOverloadedException("server shutting down");
      // The handle is set before any event can reach the listener: events come from advanceTo,
      // which (for timed profiles) only the driver calls, under this same lock.
      live.handle = engine.submit(request, live, engineNow());
      if (driver == null) {
        engine.advanceTo(engineNow());
      } else {
        wake.signal();
      }
    } finally {
      lock.unlock();
    }
    return live;
  }

  /** Frees the sequence's slot; true if it was still in the engine. */
  boolean cancel(Live live) {
    EngineModel.Handle h = live.handle;
    if (h == null) return false;
    lock.lock();
    try {
      return engine.cancel(h);
    } finally {
      lock.unlock();
    }
  }

  EngineModel.Stats stats() {
    lock.lock();
    try {
      return engine.stats();
    } finally {
      lock.unlock();
    }
  }

  boolean isClosed() {
    lock.lock();
    try {
      return closed;
    } finally {
      lock.unlock();
    }
  }

  EngineProfile profile() {
    return engine.profile();
  }

  private long engineNow() {
    return (long) ((ticker.getAsLong() - startTick) * timeScale);
  }

  private void drive() {
    lock.lock();
    try {
      while (!closed) {
        long now = engineNow();
        engine.advanceTo(now);
        OptionalLong next = engine.nextEventNanos();
        if (next.isEmpty()) {
          wake.await();
        } else {
          long waitNanos = (long) Math.ceil((next.getAsLong() - now) / timeScale);
          if (waitNanos > 0) wake.awaitNanos(waitNanos);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() {
    lock.lock();
    try {
      closed = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
    if (driver != null) {
      try {
        driver.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
