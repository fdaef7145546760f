package dev.jevons.upstream;

import dev.jevons.upstream.PrometheusText.Sample;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads the load figures out of one scrape, under the names of vLLM (new and old), SGLang and
 * llama.cpp.
 *
 * <p>Aggregation across series, the part that is not obvious. A replica may expose one series per
 * {@code model_name} even though one engine serves all its names (Jevons's simulator does exactly
 * that, and a server with several aliases may), so the same engine-wide value appears N times.
 * Series that differ only in a "repeat" label ({@code model_name}, {@code tp_rank}, {@code
 * pp_rank}) are therefore collapsed: identical values count once (taking the max is the same), and
 * only when they differ are they per-model parts and summed. The failure this accepts: two truly
 * separate per-model engines with exactly equal counts are undercounted by half; real servers run
 * one engine per model, so this is rare, and undercounting a replica only makes it look idler for
 * the one scrape in which the counts coincide. Series that differ in any other label (vLLM's
 * {@code engine} under data parallelism, SGLang's {@code dp_rank}) are separate engines: counts
 * are summed over them, and ratios (KV usage, hit rates) take the max, the conservative reading
 * for a router.
 */
final class EngineMetrics {
  static final List<String> RUNNING = List.of("vllm:num_requests_running", "sglang:num_running_reqs", "llamacpp:requests_processing");
  static final List<String> WAITING = List.of("vllm:num_requests_waiting", "sglang:num_queue_reqs", "llamacpp:requests_deferred");
  static final List<String> KV_USAGE =
      List.of("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage", "llamacpp:kv_cache_usage_ratio");
  static final List<String> PREFIX_QUERIES = List.of("vllm:prefix_cache_queries_total", "vllm:prefix_cache_queries");
  static final List<String> PREFIX_HITS = List.of("vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits");
  static final List<String> HIT_RATE = List.of("sglang:cache_hit_rate", "vllm:gpu_prefix_cache_hit_rate");

  static final Set<String> NAMES = names();
  private static final Set<String> REPEAT_LABELS = Set.of("model_name", "tp_rank", "pp_rank");

  private EngineMetrics() {}

  /** The figures of one scrape; NaN where the server reports none. Counters are cumulative. */
  record Reading(double running, double waiting, double kvCacheUsage, double prefixQueries, double prefixHits, double hitRate) {}

  static Reading read(List<Sample> samples) {
    Map<String, List<Sample>> byName = new HashMap<>();
    for (Sample s : samples) {
      if (!Double.isNaN(s.value())) {
        byName.computeIfAbsent(s.name(), k -> new ArrayList<>()).add(s);
      }
    }
    return new Reading(
        first(byName, RUNNING, false),
        first(byName, WAITING, false),
        first(byName, KV_USAGE, true),
        first(byName, PREFIX_QUERIES, false),
        first(byName, PREFIX_HITS, false),
        first(byName, HIT_RATE, true));
  }

  /** The aggregate of the first name (newest spelling first) the server exposes. */
  private static double first(Map<String, List<Sample>> byName, List<String> names, boolean ratio) {
    for (String name : names) {
      List<Sample> series = byName.get(name);
      if (series != null) {
        return aggregate(series, ratio);
      }
    }
    return Double.NaN;
  }

  static double aggregate(List<Sample> series, boolean ratio) {
    // Group by the labels that identify an engine; within a group the series are repeats or per-model parts.
    Map<Map<String, String>, Group> groups = new HashMap<>();
    for (Sample s : series) {
      Map<String, String> engine = new TreeMap<>(s.labels());
      engine.keySet().removeAll(REPEAT_LABELS);
      groups.computeIfAbsent(engine, k -> new Group(s.value())).add(s.value());
    }
    double total = ratio ? Double.NEGATIVE_INFINITY : 0;
    for (Group g : groups.values()) {
      double v = ratio || g.allEqual ? g.max : g.sum;
      total = ratio ? Math.max(total, v) : total + v;
    }
    return total;
  }

  /** Series of one engine: repeats of one value, or per-model parts. */
  private static final class Group {
    final double firstValue;
    boolean allEqual = true;
    double max = Double.NEGATIVE_INFINITY;
    double sum;

    Group(double firstValue) {
      this.firstValue = firstValue;
    }

    void add(double v) {
      allEqual &= v == firstValue;
      max = Math.max(max, v);
      sum += v;
    }
  }

  private static Set<String> names() {
    Set<String> all = new HashSet<>();
    for (List<String> l : List.of(RUNNING, WAITING, KV_USAGE, PREFIX_QUERIES, PREFIX_HITS, HIT_RATE)) {
      all.addAll(l);
    }
    return Set.copyOf(all);
  }
}
