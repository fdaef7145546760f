package dev.jevons.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.TimeUnit;

/**
 * Jevons' log output (logback.xml): standard error, written in blocks instead of one write per
 * line. The access log is a line per request, and a write system call per line was ~8% of the CPU
 * a proxied request cost (docs/BENCHMARKS.md, session 7). Lines at WARN and above are written at
 * once, with whatever waits before them; the others at most {@code flushIntervalMillis} later, or
 * sooner when the buffer fills. At JVM shutdown the buffer is written and the appender writes
 * every later line at once, so the shutdown's own lines are kept; what a killed process
 * (SIGKILL) loses is its last interval of INFO lines.
 */
public final class BufferedConsoleAppender extends OutputStreamAppender<ILoggingEvent> {
  private final OutputStream target;
  private int bufferSize = 64 * 1024;
  private long flushIntervalMillis = 100;
  /** Lines written to the buffer since the last flush (guarded by {@code streamWriteLock}). */
  private boolean dirty;
  /** After shutdown began: every line is flushed at once. */
  private volatile boolean immediate;
  private volatile boolean running;
  private Thread flusher;
  private Thread shutdownHook;

  public BufferedConsoleAppender() {
    this(new FileOutputStream(FileDescriptor.err));
  }

  /** Writing to {@code target}, which stopping the appender flushes but never closes. */
  BufferedConsoleAppender(OutputStream target) {
    this.target = target;
  }

  /** Bytes buffered before a write (logback.xml {@code <bufferSize>}); default 64 KiB. */
  public void setBufferSize(int bytes) {
    this.bufferSize = bytes;
  }

  /** Longest delay of an INFO line (logback.xml {@code <flushIntervalMillis>}); default 100. */
  public void setFlushIntervalMillis(long millis) {
    this.flushIntervalMillis = millis;
  }

  @Override
  public void start() {
    if (bufferSize < 1 || flushIntervalMillis < 1) {
      addError("bufferSize and flushIntervalMillis must be positive");
      return;
    }
    // Standard error outlives the appender: closing the appender's stream must not close it.
    setOutputStream(new BufferedOutputStream(new FilterOutputStream(target) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void close() throws IOException {
        flush();
      }
    }, bufferSize));
    setImmediateFlush(false);
    super.start();
    if (!isStarted()) {
      return;
    }
    running = true;
    flusher = Thread.ofPlatform().daemon().name("log-flusher").start(this::flushPeriodically);
    shutdownHook = new Thread(() -> {
      immediate = true;
      flush();
    }, "log-flush-at-exit");
    try {
      Runtime.getRuntime().addShutdownHook(shutdownHook);
    } catch (IllegalStateException alreadyShuttingDown) {
      immediate = true;
      shutdownHook = null;
    }
  }

  @Override
  protected void subAppend(ILoggingEvent event) {
    super.subAppend(event);
    boolean now = immediate || event.getLevel().isGreaterOrEqual(Level.WARN);
    streamWriteLock.lock();
    try {
      dirty = true;
      if (now) {
        flushLocked();
      }
    } finally {
      streamWriteLock.unlock();
    }
  }

  /** Writes what is buffered. */
  public void flush() {
    streamWriteLock.lock();
    try {
      flushLocked();
    } finally {
      streamWriteLock.unlock();
    }
  }

  private void flushLocked() {
    if (!dirty || getOutputStream() == null) {
      return;
    }
    dirty = false;
    try {
      getOutputStream().flush();
    } catch (IOException e) {
      addError("cannot write the log", e);
    }
  }

  private void flushPeriodically() {
    while (running) {
      try {
        TimeUnit.MILLISECONDS.sleep(flushIntervalMillis);
      } catch (InterruptedException e) {
        break;
      }
      flush();
    }
  }

  @Override
  public void stop() {
    if (!isStarted()) {
      return;
    }
    running = false;
    if (flusher != null) {
      flusher.interrupt();
    }
    if (shutdownHook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs (or ran) anyway
      }
    }
    flush();
    super.stop();
  }
}
