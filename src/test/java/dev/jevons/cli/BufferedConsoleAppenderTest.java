package dev.jevons.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
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
    context.setMDCAdapter(new LogbackMDCAdapter());
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern("%-5level %msg%n");
    encoder.start();
    appender = new BufferedConsoleAppender(written);
    appender.setContext(context);
    appender.setEncoder(encoder);
    appender.setFlushIntervalMillis(flushIntervalMillis);
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
  void a_full_buffer_is_written_without_waiting() {
    Logger log = logger(3_600_000);
    String line = "x".repeat(1000);
    for (int i = 0; i < 100; i++) { // ~100 KB, more than the 64 KiB buffer
      log.info(line);
    }
    assertThat(out().length()).isGreaterThan(60_000);
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
