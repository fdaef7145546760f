package dev.jevons.sim;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * The server's Prometheus exposition under vLLM's metric names, written by hand (it is small and
 * the names contain ':' which registries frown upon). One replica runs one engine for all its model
 * names, so every series is the engine-wide value, repeated under each {@code model_name}: a router
 * that reads the series of the model it routes sees the replica's whole load. Latency histograms
 * are in wall-clock seconds, i.e. engine time divided by the time scale, which is what a client
 * measures.
 */
final class SimMetrics {
  // vLLM's bucket boundaries, so dashboards built for vLLM read the sim unchanged.
  private static final double[] TTFT_BUCKETS = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0
  };
  private static final double[] ITL_BUCKETS = {
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0
  };

  private final Histogram ttft = new Histogram(TTFT_BUCKETS);
  private final Histogram itl = new Histogram(ITL_BUCKETS);
  private final LongAdder faultErrors = new LongAdder();
  private final LongAdder faultSlow = new LongAdder();
  private final LongAdder faultDisconnects = new LongAdder();

  void observeTtft(double seconds) {
    ttft.observe(seconds);
  }

  void observeItl(double seconds) {
    itl.observe(seconds);
  }

  void faultError() {
    faultErrors.increment();
  }

  void faultSlow() {
    faultSlow.increment();
  }

  void faultDisconnect() {
    faultDisconnects.increment();
  }

  String render(List<String> models, EngineModel.Stats s) {
    StringBuilder b = new StringBuilder(4096);
    gauge(b, "vllm:num_requests_running", "Requests in the running batch.", models, s.running());
    gauge(b, "vllm:num_requests_waiting", "Requests waiting for a slot.", models, s.waiting());
    gauge(b, "vllm:kv_cache_usage_perc", "KV-cache usage, 1 = full.", models, s.kvCacheUsage());
    counter(b, "vllm:prefix_cache_queries", "Prompt tokens looked up in the prefix cache.", models,
        s.prefixCacheQueriesTokens());
    counter(b, "vllm:prefix_cache_hits", "Prompt tokens found in the prefix cache.", models,
        s.prefixCacheHitsTokens());
    counter(b, "vllm:prompt_tokens", "Prefilled prompt tokens.", models, s.promptTokens());
    counter(b, "vllm:generation_tokens", "Generated tokens.", models, s.generationTokens());
    counter(b, "vllm:request_success", "Finished requests.", models, s.finished());
    ttft.render(b, "vllm:time_to_first_token_seconds", "Time to first token.", models);
    itl.render(b, "vllm:inter_token_latency_seconds", "Time between output tokens.", models);
    counter(b, "jevons_sim_requests_cancelled", "Sequences cancelled, e.g. by a client disconnect.",
        models, s.cancelled());
    b.append("# HELP jevons_sim_faults_injected_total Faults injected, by kind.\n");
    b.append("# TYPE jevons_sim_faults_injected_total counter\n");
    fault(b, "error", faultErrors.sum());
    fault(b, "slow_first_byte", faultSlow.sum());
    fault(b, "disconnect", faultDisconnects.sum());
    return b.toString();
  }

  private static void fault(StringBuilder b, String kind, long v) {
    b.append("jevons_sim_faults_injected_total{kind=\"").append(kind).append("\"} ").append(v)
        .append('\n');
  }

  private static void gauge(StringBuilder b, String name, String help, List<String> models, double v) {
    header(b, name, help, "gauge");
    for (String m : models) sample(b, name, m, "", num(v));
  }

  private static void counter(StringBuilder b, String name, String help, List<String> models, long v) {
    // prometheus_client style, as vLLM emits: TYPE names the family, samples end in _total.
    header(b, name, help, "counter");
    for (String m : models) sample(b, name + "_total", m, "", Long.toString(v));
  }

  private static void header(StringBuilder b, String name, String help, String type) {
    b.append("# HELP ").append(name).append(' ').append(help).append('\n');
    b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private static void sample(StringBuilder b, String name, String model, String extra, String v) {
    b.append(name).append("{model_name=\"").append(escape(model)).append('"').append(extra)
        .append("} ").append(v).append('\n');
  }

  static String escape(String labelValue) {
    return labelValue.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  static String num(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v) + ".0";
    return String.format(Locale.ROOT, "%.6g", v);
  }

  /** Cumulative-on-render histogram; observations are lock-free. */
  private static final class Histogram {
    private final double[] bounds;
    private final LongAdder[] counts;
    private final DoubleAdder sum = new DoubleAdder();

    Histogram(double[] bounds) {
      this.bounds = bounds;
      this.counts = new LongAdder[bounds.length + 1];
      for (int i = 0; i < counts.length; i++) counts[i] = new LongAdder();
    }

    void observe(double v) {
      int i = 0;
      while (i < bounds.length && v > bounds[i]) i++;
      counts[i].increment();
      sum.add(v);
    }

    void render(StringBuilder b, String name, String help, List<String> models) {
      header(b, name, help, "histogram");
      long[] snapshot = new long[counts.length];
      for (int i = 0; i < counts.length; i++) snapshot[i] = counts[i].sum();
      double total = sum.sum();
      for (String m : models) {
        long cumulative = 0;
        for (int i = 0; i < bounds.length; i++) {
          cumulative += snapshot[i];
          sample(b, name + "_bucket", m, ",le=\"" + bounds[i] + "\"", Long.toString(cumulative));
        }
        cumulative += snapshot[bounds.length];
        sample(b, name + "_bucket", m, ",le=\"+Inf\"", Long.toString(cumulative));
        sample(b, name + "_sum", m, "", num(total));
        sample(b, name + "_count", m, "", Long.toString(cumulative));
      }
    }
  }
}
