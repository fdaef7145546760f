package dev.jevons.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class BufferedConsoleAppenderTest {
  private final LoggerContext context = new LoggerContext();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final ByteArrayOutputStream written = new ByteArrayOutputStream() {
    @Override
    public void close() {
      closed.set(true);
    }
  };
  private BufferedConsoleAppender appender;

  private Logger logger(long flushIntervalMillis) {
    return logger(written, flushIntervalMillis, 64 * 1024);
  }

  private Logger logger(OutputStream target, long flushIntervalMillis, int bufferBytes) {
    context.setMDCAdapter(new LogbackMDCAdapter());
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern("%-5level %msg%n");
    encoder.start();
    appender = new BufferedConsoleAppender(target);
    appender.setContext(context);
    appender.setEncoder(encoder);
    appender.setFlushIntervalMillis(flushIntervalMillis);
    appender.setBufferBytes(bufferBytes);
    appender.start();
    assertThat(appender.isStarted()).isTrue();
    Logger logger = context.getLogger("test");
    logger.setAdditive(false);
    logger.setLevel(Level.INFO);
    logger.addAppender(appender);
    return logger;
  }

  private String out() {
    synchronized (written) {
      return written.toString(StandardCharsets.UTF_8);
    }
  }

  @AfterEach
  void stop() {
    if (appender != null) {
      appender.stop();
    }
  }

  @Test
  void info_lines_wait_in_the_buffer_until_a_flush() {
    Logger log = logger(3_600_000);
    log.info("one");
    log.info("two");
    assertThat(out()).isEmpty();
    appender.writeBuffered();
    assertThat(out()).isEqualTo("INFO  one\nINFO  two\n");
  }

  @Test
  void a_warning_is_written_at_once_after_the_lines_before_it() {
    Logger log = logger(3_600_000);
    log.info("before");
    log.warn("trouble");
    assertThat(out()).isEqualTo("INFO  before\nWARN  trouble\n");
    log.error("worse");
    assertThat(out()).endsWith("ERROR worse\n");
  }

  @Test
  void info_lines_are_written_within_the_flush_interval() throws InterruptedException {
    Logger log = logger(20);
    log.info("soon");
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (out().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(out()).isEqualTo("INFO  soon\n");
  }

  @Test
  void stopping_writes_the_buffer_and_leaves_the_stream_open() {
    Logger log = logger(3_600_000);
    log.info("last words");
    appender.stop();
    assertThat(out()).isEqualTo("INFO  last words\n");
    assertThat(closed).isFalse();
  }

  @Test
  void once_shutdown_begins_the_buffer_and_every_later_line_are_written_at_once() {
    Logger log = logger(3_600_000);
    log.info("before");
    appender.shutdownBegun();
    assertThat(out()).isEqualTo("INFO  before\n");
    log.info("during shutdown");
    assertThat(out()).isEqualTo("INFO  before\nINFO  during shutdown\n");
  }

  @Test
  void starting_twice_keeps_one_flusher_and_stopping_ends_it() throws InterruptedException {
    Logger log = logger(3_600_000);
    Thread flusher = appender.flusherThread();
    appender.start();
    assertThat(appender.flusherThread()).isSameAs(flusher);
    log.info("kept");
    appender.stop();
    assertThat(out()).isEqualTo("INFO  kept\n");
    flusher.join(10_000);
    assertThat(flusher.isAlive()).isFalse();
  }

  @Test
  void a_full_buffer_is_written_without_waiting_for_the_interval() throws InterruptedException {
    Logger log = logger(3_600_000);
    String line = "x".repeat(1000);
    for (int i = 0; i < 100; i++) { // ~100 KB, more than the 64 KiB buffer
      log.info(line);
    }
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (out().length() < 60_000 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(out().length()).isGreaterThan(60_000);
  }

  /** Standard error that takes no bytes until {@code release}: {@code writing} says a write began. */
  private OutputStream stuckUntil(CountDownLatch writing, CountDownLatch release) {
    return new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        writing.countDown();
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          throw new InterruptedIOException();
        }
        written.write(b, off, len);
      }
    };
  }

  @Test
  void when_blocks_pile_up_a_line_waits_for_the_write_so_memory_stays_bounded() throws InterruptedException {
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Logger log = logger(stuckUntil(writing, release), 3_600_000, 1024);
    StringBuilder expected = new StringBuilder();
    for (int i = 0; i < 100; i++) {
      expected.append("INFO  line ").append(i).append('\n');
    }
    for (int i = 0; i < 10; i++) { // past 1 KiB: the flusher takes the block and stays in its write
      log.info("line " + i + " ".repeat(100));
    }
    assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue();
    Thread logging = Thread.ofPlatform().start(() -> {
      for (int i = 10; i < 100; i++) { // ~10 KB more, past 8 blocks of 1 KiB
        log.info("line " + i + " ".repeat(100));
      }
    });
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (logging.getState() != Thread.State.WAITING && logging.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(logging.getState()).as("the logging thread waits for the stuck write").isEqualTo(Thread.State.WAITING);
    release.countDown();
    logging.join(10_000);
    appender.writeBuffered();
    assertThat(out().replaceAll(" +\n", "\n")).isEqualTo(expected.toString());
  }

  @Test
  void a_line_never_waits_for_a_write_under_way() throws InterruptedException {
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Logger log = logger(stuckUntil(writing, release), 3_600_000, 1024);
    String line = "x".repeat(100); // "INFO  " + 102 + "\n": ~109 bytes a line
    StringBuilder expected = new StringBuilder();
    for (int i = 0; i < 50; i++) {
      expected.append("INFO  ").append(line).append(String.format("%02d", i)).append('\n');
    }
    assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
      for (int i = 0; i < 10; i++) { // past 1 KiB: the flusher takes the block and stays in its write
        log.info(line + String.format("%02d", i));
      }
      assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue();
      for (int i = 10; i < 50; i++) { // ~4.4 KB more, within the blocks that may wait
        log.info(line + String.format("%02d", i));
      }
    });
    release.countDown();
    appender.writeBuffered();
    assertThat(out()).isEqualTo(expected.toString());
  }

  @Test
  void a_non_positive_setting_is_refused() {
    BufferedConsoleAppender bad = new BufferedConsoleAppender(written);
    bad.setContext(context);
    bad.setFlushIntervalMillis(0);
    bad.start();
    assertThat(bad.isStarted()).isFalse();
  }
}
