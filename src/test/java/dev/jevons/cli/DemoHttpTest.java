package dev.jevons.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DemoHttpTest {
  static final String METRICS = """
      # HELP jevons_queue_requests Tickets waiting
      # TYPE jevons_queue_requests gauge
      jevons_queue_requests{band="0"} 0.0
      jevons_queue_requests{band="1"} 7.0
      jevons_queue_requests{band="2"} 2.0
      jevons_queue_requests_total{band="1"} 99.0
      jevons_upstream_in_flight{upstream="sim-1"} 4.0
      jevons_upstream_in_flight{upstream="sim-2"} NaN
      jevons_governor_utilization 0.75
      """;

  @Test
  void sums_a_metric_over_its_labels_and_ignores_look_alike_names() {
    assertThat(DemoHttp.sumMetric(METRICS, "jevons_queue_requests")).isEqualTo(9.0);
    assertThat(DemoHttp.sumMetric(METRICS, "jevons_governor_utilization")).isEqualTo(0.75);
  }

  @Test
  void skips_missing_values_and_says_when_there_is_none() {
    assertThat(DemoHttp.sumMetric(METRICS, "jevons_upstream_in_flight")).isEqualTo(4.0);
    assertThat(DemoHttp.sumMetric(METRICS, "jevons_nothing")).isNaN();
  }

  @Test
  void classifies_refusals_by_status_and_code() {
    assertThat(DemoHttp.classify(402, "insufficient_balance")).isEqualTo(DemoHttp.Outcome.NO_BALANCE);
    assertThat(DemoHttp.classify(429, "rate_limit_exceeded")).isEqualTo(DemoHttp.Outcome.RATE_LIMITED);
    assertThat(DemoHttp.classify(503, "server_overloaded")).isEqualTo(DemoHttp.Outcome.SHED);
    assertThat(DemoHttp.classify(503, "recharge_suspended")).isEqualTo(DemoHttp.Outcome.ERROR);
    assertThat(DemoHttp.classify(500, "")).isEqualTo(DemoHttp.Outcome.ERROR);
  }

  @Test
  void quantiles_are_nearest_rank() {
    long[] v = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
    assertThat(DemoRecorder.quantile(v, 0.5)).isEqualTo(50);
    assertThat(DemoRecorder.quantile(v, 0.99)).isEqualTo(100);
    assertThat(DemoRecorder.quantile(new long[0], 0.99)).isEqualTo(-1);
  }
}
