package dev.jevons.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Jevons' log output (logback.xml): standard error, written in blocks instead of one write per
 * line. The access log is a line per request, and a write system call per line was ~8% of the CPU
 * a proxied request cost (docs/BENCHMARKS.md, session 7). Lines at WARN and above are written at
 * once, with whatever waits before them; the others at most {@code flushIntervalMillis} later, or
 * sooner when the buffer fills. At JVM shutdown the buffer is written and the appender writes
 * every later line at once, so the shutdown's own lines are kept; what a killed process
 * (SIGKILL) loses is its last interval of INFO lines.
 *
 * <p>An INFO line is copied into memory and never waits for a write: a full block wakes the
 * flusher thread, which writes it outside the lock that lines are appended under (session 10:
 * at ~30,000 requests/s the 64 KiB block filled ~100 times a second, and each time the request
 * that filled it wrote it, holding up every other request's access-log line meanwhile). Only when
 * {@link #MAX_PENDING_BLOCKS} blocks' worth of lines wait, because standard error does not keep
 * up, does a line's own thread write, so memory stays bounded. A failed write is reported to
 * logback's status and tried again with the next block; the lines in the failed one are lost.
 */
public final class BufferedConsoleAppender extends OutputStreamAppender<ILoggingEvent> {
  /** Blocks' worth of lines ({@code bufferBytes} each) that may wait before a line writes itself. */
  static final int MAX_PENDING_BLOCKS = 8;

  private final OutputStream target;
  private int bufferBytes = 64 * 1024;
  private long flushIntervalMillis = 100;
  /** After shutdown began: every line is flushed at once. */
  private volatile boolean immediate;
  private volatile boolean running;
  private volatile @Nullable Thread flusher;
  private @Nullable Thread shutdownHook;
  private @Nullable Blocks blocks;

  public BufferedConsoleAppender() {
    this(new FileOutputStream(FileDescriptor.err));
  }

  /** Writing to {@code target}, which stopping the appender flushes but never closes. */
  BufferedConsoleAppender(OutputStream target) {
    this.target = target;
  }

  /** Bytes buffered before a write (logback.xml {@code <bufferBytes>}); default 64 KiB. */
  public void setBufferBytes(int bytes) {
    this.bufferBytes = bytes;
  }

  /** Longest delay of an INFO line (logback.xml {@code <flushIntervalMillis>}); default 100. */
  public void setFlushIntervalMillis(long millis) {
    this.flushIntervalMillis = millis;
  }

  @Override
  public void start() {
    if (isStarted() || running) {
      return;
    }
    if (bufferBytes < 1 || flushIntervalMillis < 1) {
      addError("bufferBytes and flushIntervalMillis must be positive");
      return;
    }
    Blocks b = new Blocks();
    blocks = b;
    setOutputStream(b);
    setImmediateFlush(false);
    super.start();
    if (!isStarted()) {
      return;
    }
    running = true;
    flusher = Thread.ofPlatform().daemon().name("log-flusher").start(this::flushPeriodically);
    Thread hook = new Thread(this::shutdownBegun, "log-flush-at-exit");
    shutdownHook = hook;
    try {
      Runtime.getRuntime().addShutdownHook(hook);
    } catch (IllegalStateException alreadyShuttingDown) {
      shutdownHook = null;
      shutdownBegun();
    }
  }

  /**
   * Buffers the line, then writes the buffer out if the line is a warning or worse, or shutdown
   * has begun. {@code immediate} is read after the line is in the buffer: a shutdown hook that
   * set it before this read finds the line when it flushes, or this call sees it and flushes.
   */
  @Override
  protected void subAppend(ILoggingEvent event) {
    super.subAppend(event);
    if (immediate || event.getLevel().isGreaterOrEqual(Level.WARN)) {
      writeBuffered();
    }
  }

  @Nullable Thread flusherThread() {
    return flusher;
  }

  /** At JVM shutdown: writes out what is buffered, and from now on every line at once. */
  void shutdownBegun() {
    immediate = true;
    writeBuffered();
  }

  /** Writes out what is buffered (an empty buffer costs no system call). */
  void writeBuffered() {
    Blocks b = blocks;
    if (b != null) {
      b.writeOut();
    }
  }

  /** Writes every {@code flushIntervalMillis}, and as soon as a block is full (appends unpark it). */
  private void flushPeriodically() {
    long interval = TimeUnit.MILLISECONDS.toNanos(flushIntervalMillis);
    long due = System.nanoTime() + interval;
    while (running) {
      Blocks b = blocks;
      long wait = due - System.nanoTime();
      if (wait > 0 && (b == null || !b.full())) {
        // A wake-up left over from lines that filled the block just written does not write again.
        LockSupport.parkNanos(this, wait);
        if (Thread.interrupted()) {
          break;
        }
        continue;
      }
      try {
        writeBuffered();
      } catch (RuntimeException e) {
        addError("cannot write the log", e); // a bug here must not end the flushing
      }
      due = System.nanoTime() + interval;
    }
  }

  /** Writes what is buffered and stops the flusher; logback's side stops with it. */
  @Override
  public void stop() {
    running = false;
    Thread t = flusher;
    if (t != null) {
      t.interrupt();
      flusher = null;
    }
    Thread hook = shutdownHook;
    if (hook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs (or ran) anyway
      }
      shutdownHook = null;
    }
    if (isStarted()) {
      writeBuffered();
      super.stop();
    }
  }

  /**
   * The appender's stream: lines are copied into {@code filling} under {@code fill}, a lock held
   * only for the copy; {@link #writeOut} swaps in a fresh array and writes the full one under
   * {@code io}, which keeps blocks in order. Locks are taken in the order logback's stream lock,
   * then {@code io}, then {@code fill}.
   */
  private final class Blocks extends OutputStream {
    private final ReentrantLock fill = new ReentrantLock();
    private final ReentrantLock io = new ReentrantLock();
    private byte[] filling = new byte[bufferBytes];
    private int filled;

    @Override
    public void write(int b) {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      boolean full;
      boolean overflowing;
      fill.lock();
      try {
        if (filled + len > filling.length) {
          filling = Arrays.copyOf(filling, Math.max(filling.length * 2, filled + len));
        }
        System.arraycopy(b, off, filling, filled, len);
        filled += len;
        full = filled >= bufferBytes;
        overflowing = filled >= (long) bufferBytes * MAX_PENDING_BLOCKS;
      } finally {
        fill.unlock();
      }
      if (overflowing) {
        writeOut(); // standard error does not keep up: this line's thread waits for it
      } else if (full) {
        Thread f = flusher;
        if (f != null) {
          LockSupport.unpark(f);
        }
      }
    }

    @Override
    public void flush() {
      writeOut();
    }

    boolean full() {
      fill.lock();
      try {
        return filled >= bufferBytes;
      } finally {
        fill.unlock();
      }
    }

    /** Writes what is buffered, after any write already under way. */
    void writeOut() {
      io.lock();
      try {
        byte[] out;
        int n;
        fill.lock();
        try {
          out = filling;
          n = filled;
          if (n == 0) {
            return;
          }
          filling = new byte[bufferBytes]; // ~100 a second at peak: little next to the requests'
          filled = 0;
        } finally {
          fill.unlock();
        }
        target.write(out, 0, n);
        target.flush();
      } catch (IOException e) {
        addError("cannot write the log", e);
      } finally {
        io.unlock();
      }
    }

    /** Standard error outlives the appender: closing the appender's stream only writes it out. */
    @Override
    public void close() {
      writeOut();
    }
  }
}
