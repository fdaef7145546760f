package dev.jevons.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class WatchdogTest {
  @Test
  void fires_once_after_the_deadline_and_not_after_an_extension_or_close() {
    AtomicLong now = new AtomicLong();
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    try (Watchdog dog = new Watchdog(scheduler, now::get, 3_600_000)) {
      AtomicInteger fired = new AtomicInteger();
      Watchdog.Watch w = dog.watch(100, fired::incrementAndGet);
      Watchdog.Watch closed = dog.watch(100, fired::incrementAndGet);
      closed.close();
      now.set(50);
      dog.sweep();
      w.extend(100);
      now.set(120);
      dog.sweep();
      assertThat(fired).hasValue(0);
      now.set(150);
      dog.sweep();
      dog.sweep();
      assertThat(fired).hasValue(1);
      assertThat(w.expired()).isTrue();
      assertThat(closed.expired()).isFalse();
    } finally {
      scheduler.shutdownNow();
    }
  }
}
