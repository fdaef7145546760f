package dev.jevons.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.sim.FaultPlan;
import dev.jevons.sim.SimConfig;
import dev.jevons.sim.SimFleet;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class MetricsScraperTest {
  static final long MS = 1_000_000L;

  final AtomicLong now = new AtomicLong(7_000 * MS);
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  SimFleet fleet = SimFleet.start(new SimConfig("small", List.of("sim-chat", "sim-reasoner"), 1.0, null, FaultPlan.none(), 3L), 1, 0);
  final Replica replica = new Replica("sim-0", fleet.baseUrls().get(0), null, List.of("sim-chat"), 64, 1, 10_000);

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
    fleet.close();
  }

  MetricsScraper scraper(int maxBodyBytes, java.util.function.LongSupplier clock) {
    return new MetricsScraper(List.of(replica), Duration.ofMillis(100), Duration.ofMillis(300), Duration.ofSeconds(2), maxBodyBytes, scheduler, clock);
  }

  /** Scrapes until the load satisfies {@code condition}; polling a condition, bounded by the test timeout. */
  static EngineLoad scrapeUntil(MetricsScraper s, Replica r, Predicate<EngineLoad> condition) throws InterruptedException {
    while (true) {
      assertThat(s.scrapeNow(r)).isTrue();
      EngineLoad load = s.load(r).orElseThrow();
      if (condition.test(load)) {
        return load;
      }
      Thread.sleep(20);
    }
  }

  static void sendLongStreams(HttpClient client, URI base, int n) {
    String body = "{\"model\":\"sim-chat\",\"stream\":true,\"max_tokens\":2000,\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story.\"}]}";
    for (int i = 0; i < n; i++) {
      client.sendAsync(
          HttpRequest.newBuilder(URI.create(base + "/chat/completions")).header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.discarding());
    }
  }

  @Test
  void sees_running_and_waiting_requests_rise_under_load_and_fall_when_it_ends() throws Exception {
    try (MetricsScraper s = scraper(1 << 20, now::get)) {
      assertThat(s.load(replica).orElseThrow().stale()).as("before the first scrape").isTrue();
      EngineLoad idle = scrapeUntil(s, replica, l -> true);
      assertThat(idle.stale()).isFalse();
      assertThat(idle.runningRequests()).isZero();
      assertThat(idle.waitingRequests()).isZero();
      assertThat(idle.kvCacheUsage()).isZero();

      HttpClient load = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      sendLongStreams(load, fleet.baseUrls().get(0), 7);
      // The small profile runs 4 sequences at once; the other 3 wait inside the engine.
      EngineLoad busy = scrapeUntil(s, replica, l -> l.runningRequests() == 4 && l.waitingRequests() == 3);
      assertThat(busy.kvCacheUsage()).isGreaterThan(0);

      // Closing the connections cancels the sequences.
      load.shutdownNow();
      assertThat(load.awaitTermination(Duration.ofSeconds(10))).isTrue();
      EngineLoad after = scrapeUntil(s, replica, l -> l.runningRequests() == 0 && l.waitingRequests() == 0);
      assertThat(after.stale()).isFalse();
      assertThat(s.failures()).isZero();
    }
  }

  @Test
  void a_load_goes_stale_when_the_server_stops_answering() {
    try (MetricsScraper s = scraper(1 << 20, now::get)) {
      assertThat(s.scrapeNow(replica)).isTrue();
      now.addAndGet(300 * MS);
      assertThat(s.load(replica).orElseThrow().stale()).as("exactly at the limit").isFalse();

      fleet.close();
      assertThat(s.scrapeNow(replica)).isFalse();
      assertThat(s.failures(replica)).isEqualTo(1);
      now.addAndGet(1 * MS);
      EngineLoad stale = s.load(replica).orElseThrow();
      assertThat(stale.stale()).isTrue();
      assertThat(stale.runningRequests()).as("the last figures are kept for the record").isZero();
    }
  }

  @Test
  void an_oversized_body_is_a_failed_scrape() {
    try (MetricsScraper s = scraper(100, now::get)) {
      assertThat(s.scrapeNow(replica)).isFalse();
      assertThat(s.failures()).isEqualTo(1);
      assertThat(s.load(replica).orElseThrow().stale()).isTrue();
    }
  }

  @Test
  void the_background_loop_keeps_the_load_fresh_on_its_own() throws InterruptedException {
    try (MetricsScraper s = scraper(1 << 20, System::nanoTime)) {
      s.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (s.load(replica).orElseThrow().stale() && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(s.load(replica).orElseThrow().stale()).isFalse();
    }
  }

  @Test
  void a_replica_it_does_not_watch_has_no_load() {
    try (MetricsScraper s = scraper(1 << 20, now::get)) {
      Replica other = new Replica("other", URI.create("http://127.0.0.1:1/v1"), null, List.of("m"), 1, 1, 10_000);
      assertThat(s.load(other)).isEmpty();
      assertThat(s.failures(other)).isZero();
    }
  }
}
