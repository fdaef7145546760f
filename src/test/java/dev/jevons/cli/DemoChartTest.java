package dev.jevons.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.governor.Gate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class DemoChartTest {
  static final Instant START = Instant.parse("2025-02-08T00:00:00Z");

  DemoRecorder recorder() {
    DemoRecorder r = new DemoRecorder(START, START.plus(Duration.ofHours(4)), Duration.ofMinutes(30));
    DemoHttp.Chat ok = new DemoHttp.Chat(DemoHttp.Outcome.OK, 200, 300_000_000L, 32, "");
    DemoHttp.Chat shed = new DemoHttp.Chat(DemoHttp.Outcome.SHED, 503, -1, 0, "");
    for (int i = 0; i < 10; i++) {
      r.request(START.plus(Duration.ofMinutes(70)), DemoRecorder.Cohort.REGULAR, ok);
    }
    for (int i = 0; i < 30; i++) {
      r.request(START.plus(Duration.ofMinutes(70)), DemoRecorder.Cohort.RUSHER, shed);
    }
    boolean[] closed = new boolean[Gate.values().length];
    r.sample(START.plus(Duration.ofMinutes(75)), 12, 8, closed);
    r.revenue(START.plus(Duration.ofMinutes(80)), 1_500_000);
    r.topUp(START.plus(Duration.ofMinutes(80)), false);
    return r;
  }

  @Test
  void rows_carry_what_was_measured_per_bucket_in_multiples_of_capacity() {
    // 30 demo minutes at speed 720 are 2.5 s of real time; 40 requests in them at capacity 8/s is 2x.
    List<DemoChart.Row> rows = DemoChart.rows(recorder(), 8, 720);
    assertThat(rows).hasSize(8);
    DemoChart.Row busy = rows.get(2);
    assertThat(busy.start()).isEqualTo(START.plus(Duration.ofHours(1)));
    assertThat(busy.offeredX()).isEqualTo(2.0);
    assertThat(busy.servedX()).isEqualTo(0.5);
    assertThat(busy.shedRate()).isEqualTo(0.75);
    assertThat(busy.queueMax()).isEqualTo(12);
    assertThat(busy.topUpsClosed()).isEqualTo(1.0);
    assertThat(busy.revenueNanos()).isEqualTo(1_500_000);
    assertThat(busy.topUpsRefused()).isEqualTo(1);
    assertThat(rows.get(0).offeredX()).isZero();
  }

  @Test
  void writes_an_svg_and_a_page_with_the_data_as_json() throws Exception {
    DemoChart chart = new DemoChart("test <run>", DemoChart.rows(recorder(), 8, 720),
        List.of(new DemoChart.Event(START.plus(Duration.ofHours(1)), "top_ups closed & \"why\"")), START, START.plus(Duration.ofHours(4)));
    String svg = chart.svg();
    assertThat(svg).startsWith("<svg").contains("<polyline").contains("test &lt;run&gt;").contains("&amp; &quot;why&quot;").endsWith("</svg>\n");
    String html = chart.html("summary");
    String json = html.substring(html.indexOf("id=\"data\">") + "id=\"data\">".length(), html.indexOf("</script>"));
    JsonNode data = new ObjectMapper().readTree(json);
    assertThat(data).hasSize(8);
    assertThat(data.get(2).path("offered_x").asDouble()).isEqualTo(2.0);
    assertThat(data.get(2).path("revenue").asText()).isEqualTo("0.0015");
    assertThat(html).contains("<table>").contains("02-08 01:00");
  }
}
