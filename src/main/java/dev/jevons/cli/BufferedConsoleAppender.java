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
import org.jspecify.annotations.Nullable;

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
  private int bufferBytes = 64 * 1024;
  private long flushIntervalMillis = 100;
  /** After shutdown began: every line is flushed at once. */
  private volatile boolean immediate;
  private volatile boolean running;
  private @Nullable Thread flusher;
  private @Nullable Thread shutdownHook;

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
    // Standard error outlives the appender: closing the appender's stream must not close it.
    setOutputStream(new BufferedOutputStream(new FilterOutputStream(target) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void close() throws IOException {
        out.flush();
      }
    }, bufferBytes));
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
    streamWriteLock.lock();
    try {
      OutputStream out = getOutputStream();
      if (out != null) {
        out.flush();
      }
    } catch (IOException e) {
      addError("cannot write the log", e);
    } finally {
      streamWriteLock.unlock();
    }
  }

  private void flushPeriodically() {
    while (running) {
      try {
        TimeUnit.MILLISECONDS.sleep(flushIntervalMillis);
      } catch (InterruptedException e) {
        break;
      }
      writeBuffered();
    }
  }

  /** Also after a failed write, which stops logback's side of the appender but not the flusher. */
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
}
