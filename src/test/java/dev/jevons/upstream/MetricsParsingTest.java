package dev.jevons.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.upstream.PrometheusText.Parsed;
import dev.jevons.upstream.PrometheusText.Sample;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MetricsParsingTest {
  static String fixture(String name) throws IOException {
    try (InputStream in = MetricsParsingTest.class.getResourceAsStream("/metrics/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  static EngineMetrics.Reading read(String fixture) throws IOException {
    return EngineMetrics.read(PrometheusText.parse(fixture(fixture), EngineMetrics.NAMES::contains, 1000).samples());
  }

  @Test
  void reads_the_load_of_a_vllm_v1_server() throws IOException {
    EngineMetrics.Reading r = read("vllm-v1.txt");
    assertThat(r.running()).isEqualTo(12);
    assertThat(r.waiting()).isEqualTo(3);
    assertThat(r.kvCacheUsage()).isEqualTo(0.4375);
    assertThat(r.prefixQueries()).isEqualTo(200_000);
    assertThat(r.prefixHits()).isEqualTo(150_000);
    assertThat(r.hitRate()).isNaN();
  }

  @Test
  void reads_the_old_vllm_names() throws IOException {
    EngineMetrics.Reading r = read("vllm-v0-old-names.txt");
    assertThat(r.running()).isEqualTo(5);
    assertThat(r.waiting()).isZero();
    assertThat(r.kvCacheUsage()).isEqualTo(0.0912);
    assertThat(r.hitRate()).isEqualTo(0.62);
  }

  @Test
  void reads_the_load_of_an_sglang_server() throws IOException {
    EngineMetrics.Reading r = read("sglang.txt");
    assertThat(r.running()).isEqualTo(37);
    assertThat(r.waiting()).isEqualTo(9);
    assertThat(r.kvCacheUsage()).isEqualTo(0.71);
    assertThat(r.hitRate()).isEqualTo(0.563);
    assertThat(r.prefixQueries()).isNaN();
  }

  @Test
  void parses_escaped_labels_odd_spacing_special_values_timestamps_and_exemplars() throws IOException {
    Parsed p = PrometheusText.parse(fixture("tricky.txt"), name -> true, 1000);
    assertThat(p.samples()).first().isEqualTo(new Sample("vllm:num_requests_running",
        Map.of("model_name", "with \"quotes\" and \\ backslash, and {braces}", "engine", "0"), 2));
    assertThat(p.samples().get(1)).isEqualTo(new Sample("vllm:num_requests_running", Map.of("model_name", "second\nline", "engine", "1"), 3));
    assertThat(p.samples()).contains(new Sample("vllm:kv_cache_usage_perc", Map.of("model_name", "a", "engine", "1"), Double.POSITIVE_INFINITY));
    assertThat(p.samples()).contains(new Sample("vllm:prefix_cache_queries_total", Map.of("model_name", "a"), 1000));
    assertThat(p.samples()).anyMatch(s -> s.name().equals("vllm:num_requests_waiting_total") && Double.isNaN(s.value()));
    assertThat(p.malformedLines()).as("the prose line and the unclosed label set").isEqualTo(2);
  }

  @Test
  void collapses_repeated_engine_wide_values_and_sums_separate_engines() throws IOException {
    EngineMetrics.Reading r = read("tricky.txt");
    assertThat(r.running()).as("engines 0 and 1").isEqualTo(5);
    assertThat(r.waiting()).as("one engine's 4 repeated under two model names").isEqualTo(4);
    assertThat(r.kvCacheUsage()).as("ratios take the fullest engine").isInfinite();
    assertThat(r.prefixQueries()).isEqualTo(1000);
    assertThat(r.prefixHits()).isEqualTo(250);
  }

  @Test
  void sums_per_model_values_that_differ() {
    var samples = java.util.List.of(
        new Sample("sglang:num_running_reqs", Map.of("model_name", "a"), 3),
        new Sample("sglang:num_running_reqs", Map.of("model_name", "b"), 5),
        new Sample("sglang:num_running_reqs", Map.of("model_name", "c"), 3));
    assertThat(EngineMetrics.read(samples).running()).isEqualTo(11);
  }

  @Test
  void reads_crlf_line_ends_and_stops_at_the_sample_bound() throws IOException {
    Parsed p = PrometheusText.parse(fixture("crlf.txt"), name -> true, 1000);
    assertThat(p.samples()).extracting(Sample::value).containsExactly(1.0, 2.0);
    assertThat(PrometheusText.parse(fixture("vllm-v1.txt"), name -> true, 3).samples()).hasSize(3);
  }

  @Test
  void survives_garbage() {
    String junk = "{\n}}}\n\"\nname{a=\"\\\n name{=\"x\"} 1\nname{a=\"x\"}\nname 1 2 3\n\u0000\n" + "x".repeat(PrometheusText.MAX_LINE_CHARS + 1);
    Parsed p = PrometheusText.parse(junk, name -> true, 1000);
    assertThat(p.samples()).containsExactly(new Sample("name", Map.of(), 1));
    assertThat(p.malformedLines()).isPositive();
  }

  @Test
  void the_metrics_url_sits_next_to_the_v1_base() {
    assertThat(MetricsScraper.metricsUri(java.net.URI.create("http://127.0.0.1:8000/v1"))).hasToString("http://127.0.0.1:8000/metrics");
    assertThat(MetricsScraper.metricsUri(java.net.URI.create("http://h:8000/v1/"))).hasToString("http://h:8000/metrics");
    assertThat(MetricsScraper.metricsUri(java.net.URI.create("http://h:8000/sglang"))).hasToString("http://h:8000/sglang/metrics");
  }

  static EngineMetrics.Reading counters(double queries, double hits) {
    return new EngineMetrics.Reading(0, 0, 0, queries, hits, Double.NaN);
  }

  @Test
  void the_prefix_hit_rate_covers_the_last_interval_and_survives_a_restart() {
    MetricsScraper.HitRateWindow w = new MetricsScraper.HitRateWindow();
    assertThat(w.next(counters(0, 0))).as("nothing looked up yet").isNaN();
    assertThat(w.next(counters(1000, 250))).isEqualTo(0.25);
    assertThat(w.next(counters(2000, 1150))).as("900 of the last 1,000").isEqualTo(0.9);
    assertThat(w.next(counters(2000, 1150))).as("no prompts since: unchanged").isEqualTo(0.9);
    assertThat(w.next(counters(100, 10))).as("counters went back: a restart").isEqualTo(0.1);
    assertThat(w.next(new EngineMetrics.Reading(0, 0, 0, Double.NaN, Double.NaN, 0.563))).isEqualTo(0.563);
  }
}
