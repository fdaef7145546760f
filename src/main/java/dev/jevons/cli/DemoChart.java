package dev.jevons.cli;

import dev.jevons.billing.Money;
import dev.jevons.governor.Gate;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The demo's chart, written by hand as SVG (no library): stacked panels over demo time for offered
 * and served load against capacity, the queue, the shed rate, the gates and revenue per hour, with
 * the timeline's events as vertical markers; and an HTML page embedding it with the data as a
 * table and as JSON.
 */
final class DemoChart {
  /** A timeline entry: when (demo time) and what. */
  record Event(Instant at, String text) {}

  /** One bucket of the chart's data, all measured. */
  record Row(
      Instant start,
      double offeredX,
      double servedX,
      double shedRate,
      double queueMean,
      double queueMax,
      double topUpsClosed,
      double signupsClosed,
      long revenueNanos,
      long topUpsAccepted,
      long topUpsRefused) {}

  static final int WIDTH = 1100;
  static final int LEFT = 80;
  static final int RIGHT = 30;
  static final int PANEL = 130;
  static final int GAP = 34;
  static final int TOP = 60;

  private final List<Row> rows;
  private final List<Event> events;
  private final Instant start;
  private final Instant end;
  private final String title;

  DemoChart(String title, List<Row> rows, List<Event> events, Instant start, Instant end) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("no data to chart");
    }
    this.title = title;
    this.rows = List.copyOf(rows);
    this.events = List.copyOf(events);
    this.start = start;
    this.end = end;
  }

  /** The rows of a finished run: per bucket, measured load in multiples of capacity, queue, shed, gates, revenue. */
  static List<Row> rows(DemoRecorder recorder, double capacityRps, double speed) {
    List<Row> out = new ArrayList<>();
    double realSeconds = recorder.bucketLength().toMillis() / 1000.0 / speed;
    for (int i = 0; i < recorder.bucketCount(); i++) {
      DemoRecorder.Bucket b = recorder.bucket(i);
      synchronized (recorder) {
        out.add(new Row(
            recorder.bucketStart(i),
            b.sent() / realSeconds / capacityRps,
            b.count(DemoHttp.Outcome.OK) / realSeconds / capacityRps,
            b.shedRate(),
            b.queueMean(),
            b.queueMax,
            b.closedShare(Gate.TOP_UPS),
            b.closedShare(Gate.SIGNUPS),
            b.revenueNanos,
            b.topUpsOk,
            b.topUpsRefused));
      }
    }
    return out;
  }

  private double x(Instant t) {
    double share = (double) Duration.between(start, t).toMillis() / Duration.between(start, end).toMillis();
    return LEFT + (WIDTH - LEFT - RIGHT) * Math.max(0, Math.min(1, share));
  }

  private static double panelTop(int i) {
    return TOP + i * (PANEL + GAP);
  }

  String svg() {
    int panels = 5;
    int height = (int) panelTop(panels) + 40;
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">%n",
        WIDTH, height, WIDTH, height));
    s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    s.append(text(LEFT, 18, escape(title), "font-size=\"15\" font-weight=\"bold\""));

    double maxLoad = rows.stream().mapToDouble(r -> Math.max(r.offeredX(), r.servedX())).max().orElse(1);
    ChartScale load = axis(s, 0, "load (x capacity)", Math.max(1.2, maxLoad));
    line(s, load, "#1f77b4", 2, rows.stream().map(Row::offeredX).toList());
    line(s, load, "#2ca02c", 2, rows.stream().map(Row::servedX).toList());
    s.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>%n",
        LEFT, WIDTH - RIGHT, load.pixel(1), load.pixel(1)));
    legend(s, 0, new String[] {"offered", "served", "capacity"}, new String[] {"#1f77b4", "#2ca02c", "#d62728"});

    ChartScale queue = axis(s, 1, "queue (requests)", rows.stream().mapToDouble(Row::queueMax).max().orElse(1));
    line(s, queue, "#ff7f0e", 1, rows.stream().map(Row::queueMax).toList());
    line(s, queue, "#8c564b", 2, rows.stream().map(Row::queueMean).toList());
    legend(s, 1, new String[] {"max", "mean"}, new String[] {"#ff7f0e", "#8c564b"});

    ChartScale shed = new ChartScale(100, 25, panelTop(2) + PANEL, panelTop(2));
    frame(s, 2, "shed (% of queued)", shed);
    line(s, shed, "#9467bd", 2, rows.stream().map(r -> 100 * r.shedRate()).toList());

    gates(s, 3);

    List<Double> hourly = new ArrayList<>();
    int perHour = (int) Math.max(1, Duration.ofHours(1).toMillis() / bucketMillis());
    for (int i = 0; i < rows.size(); i += perHour) {
      long sum = 0;
      for (int j = i; j < Math.min(rows.size(), i + perHour); j++) {
        sum += rows.get(j).revenueNanos();
      }
      hourly.add(sum / (double) Money.NANOS_PER_UNIT);
    }
    ChartScale revenue = axis(s, 4, "revenue / hour (USD)", hourly.stream().mapToDouble(Double::doubleValue).max().orElse(1));
    double barWidth = (WIDTH - LEFT - RIGHT) / (double) hourly.size();
    for (int i = 0; i < hourly.size(); i++) {
      double y = revenue.pixel(hourly.get(i));
      s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#17becf\"/>%n",
          LEFT + i * barWidth + 1, y, Math.max(0.5, barWidth - 2), Math.max(0, revenue.pixel(0) - y)));
    }

    for (int p = 0; p < panels; p++) {
      timeAxis(s, p);
    }
    markers(s, height);
    s.append("</svg>\n");
    return s.toString();
  }

  private long bucketMillis() {
    return rows.size() < 2 ? Duration.ofHours(1).toMillis() : Duration.between(rows.get(0).start(), rows.get(1).start()).toMillis();
  }

  private ChartScale axis(StringBuilder s, int panel, String label, double dataMax) {
    ChartScale scale = ChartScale.from0(dataMax, 4, panelTop(panel) + PANEL, panelTop(panel));
    frame(s, panel, label, scale);
    return scale;
  }

  private void frame(StringBuilder s, int panel, String label, ChartScale scale) {
    double top = panelTop(panel);
    s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>%n",
        LEFT, top, WIDTH - LEFT - RIGHT, PANEL));
    s.append(text(LEFT, top - 6, escape(label), "font-weight=\"bold\""));
    for (double t : scale.ticks()) {
      double y = scale.pixel(t);
      s.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>%n", LEFT, WIDTH - RIGHT, y, y));
      s.append(text(LEFT - 6, y + 4, ChartScale.label(t), "text-anchor=\"end\""));
    }
  }

  private void line(StringBuilder s, ChartScale scale, String color, int width, List<Double> values) {
    StringBuilder points = new StringBuilder();
    long half = bucketMillis() / 2;
    for (int i = 0; i < rows.size(); i++) {
      points.append(String.format(Locale.ROOT, "%.1f,%.1f ", x(rows.get(i).start().plusMillis(half)), scale.pixel(values.get(i))));
    }
    s.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%d\" points=\"%s\"/>%n", color, width, points.toString().trim()));
  }

  private void legend(StringBuilder s, int panel, String[] names, String[] colors) {
    double xPos = WIDTH - RIGHT - 90.0 * names.length;
    for (int i = 0; i < names.length; i++) {
      double y = panelTop(panel) - 6;
      s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>%n", xPos + 90 * i, y - 4, colors[i]));
      s.append(text(xPos + 90 * i + 18, y, names[i], ""));
    }
  }

  private void gates(StringBuilder s, int panel) {
    double top = panelTop(panel);
    s.append(text(LEFT, top - 6, "gates (green open, red closed)", "font-weight=\"bold\""));
    Gate[] gates = {Gate.TOP_UPS, Gate.SIGNUPS};
    double rowHeight = PANEL / 2.0 - 10;
    for (int g = 0; g < gates.length; g++) {
      double y = top + g * (rowHeight + 20) + 5;
      s.append(text(LEFT - 6, y + rowHeight / 2 + 4, gates[g].id(), "text-anchor=\"end\""));
      for (Row r : rows) {
        double closed = gates[g] == Gate.TOP_UPS ? r.topUpsClosed() : r.signupsClosed();
        double x0 = x(r.start());
        double x1 = x(r.start().plusMillis(bucketMillis()));
        s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>%n",
            x0, y, Math.max(0.5, x1 - x0), rowHeight, closed >= 0.5 ? "#d62728" : "#2ca02c"));
      }
    }
  }

  private void timeAxis(StringBuilder s, int panel) {
    double bottom = panelTop(panel) + PANEL;
    for (Instant t = start; !t.isAfter(end); t = t.plus(Duration.ofHours(2))) {
      double xPos = x(t);
      s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>%n", xPos, xPos, bottom, bottom + 4));
      if (panel == 4 || panel == 0) {
        s.append(text(xPos, bottom + 15, SurgeDemo.STAMP.format(t).substring(6), "text-anchor=\"middle\""));
      }
    }
  }

  /** Vertical dashed lines for the script's events and the gates' transitions, numbered; the HTML lists them. */
  private void markers(StringBuilder s, int height) {
    for (int i = 0; i < events.size(); i++) {
      Event e = events.get(i);
      double xPos = x(e.at());
      s.append(String.format(Locale.ROOT,
          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\" stroke-dasharray=\"2 3\"><title>%s</title></line>%n",
          xPos, xPos, TOP - 24, height - 30, escape(SurgeDemo.STAMP.format(e.at()) + " " + e.text())));
      s.append(text(xPos + 2, TOP - 26 + 9 * (i % 2), Integer.toString(i + 1), "font-size=\"9\" fill=\"#555\""));
    }
  }

  private static String text(double x, double y, String content, String attributes) {
    return String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" %s>%s</text>%n", x, y, attributes, content);
  }

  static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }

  /** The page: title, summary, the chart, the numbered timeline, the data as a table and as JSON. */
  String html(String summary) {
    StringBuilder h = new StringBuilder();
    h.append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(escape(title)).append("</title>\n");
    h.append("<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse;font-size:12px}"
        + "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}pre{background:#f6f6f6;padding:8px}</style></head><body>\n");
    h.append("<h1>").append(escape(title)).append("</h1>\n<pre>").append(escape(summary)).append("</pre>\n");
    h.append(svg());
    h.append("<h2>Timeline (demo time, UTC)</h2>\n<ol>\n");
    for (Event e : events) {
      h.append("<li>").append(escape(SurgeDemo.STAMP.format(e.at()))).append(" ").append(escape(e.text())).append("</li>\n");
    }
    h.append("</ol>\n<h2>Data</h2>\n<table><tr><th>bucket start</th><th>offered (x cap.)</th><th>served (x cap.)</th><th>shed</th>"
        + "<th>queue mean</th><th>queue max</th><th>top_ups closed</th><th>signups closed</th><th>top-ups ok</th><th>top-ups refused</th><th>revenue USD</th></tr>\n");
    for (Row r : rows) {
      h.append(String.format(Locale.ROOT,
          "<tr><td>%s</td><td>%.2f</td><td>%.2f</td><td>%.0f%%</td><td>%.1f</td><td>%.0f</td><td>%.0f%%</td><td>%.0f%%</td><td>%d</td><td>%d</td><td>%s</td></tr>%n",
          SurgeDemo.STAMP.format(r.start()), r.offeredX(), r.servedX(), 100 * r.shedRate(), r.queueMean(), r.queueMax(),
          100 * r.topUpsClosed(), 100 * r.signupsClosed(), r.topUpsAccepted(), r.topUpsRefused(), Money.ofNanos(r.revenueNanos())));
    }
    h.append("</table>\n<script type=\"application/json\" id=\"data\">\n").append(json()).append("</script>\n");
    h.append("</body></html>\n");
    return h.toString();
  }

  String json() {
    StringBuilder j = new StringBuilder("[\n");
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.get(i);
      j.append(String.format(Locale.ROOT,
          "  {\"start\":\"%s\",\"offered_x\":%.4f,\"served_x\":%.4f,\"shed_rate\":%.4f,\"queue_mean\":%.2f,\"queue_max\":%.0f,"
              + "\"top_ups_closed\":%.2f,\"signups_closed\":%.2f,\"top_ups_accepted\":%d,\"top_ups_refused\":%d,\"revenue\":\"%s\"}%s%n",
          r.start(), r.offeredX(), r.servedX(), r.shedRate(), r.queueMean(), r.queueMax(), r.topUpsClosed(), r.signupsClosed(),
          r.topUpsAccepted(), r.topUpsRefused(), Money.ofNanos(r.revenueNanos()), i + 1 < rows.size() ? "," : ""));
    }
    return j.append("]\n").toString();
  }

  void write(Path dir, String name, String summary) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(name + ".svg"), svg(), StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(name + ".html"), html(summary), StandardCharsets.UTF_8);
  }
}
