package dev.jevons.upstream;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * A small, forgiving reader of the Prometheus text exposition format (0.0.4, and the sample lines
 * of OpenMetrics): comments and HELP/TYPE lines are skipped, labels may hold escaped quotes,
 * backslashes and newlines, values may be NaN or ±Inf, a timestamp or an exemplar may follow. A
 * line it cannot read is counted and skipped, never fatal: one odd series must not blind the
 * router to a replica's load. Bounded: at most {@code maxSamples} samples are kept and lines over
 * {@link #MAX_LINE_CHARS} are skipped; the caller bounds the body.
 */
final class PrometheusText {
  static final int MAX_LINE_CHARS = 64 * 1024;
  static final int MAX_LABELS = 64;

  private PrometheusText() {}

  record Sample(String name, Map<String, String> labels, double value) {}

  record Parsed(List<Sample> samples, int malformedLines) {}

  /** Parses the samples whose metric name {@code wanted} accepts (others are not even tokenised past the name). */
  static Parsed parse(CharSequence text, Predicate<String> wanted, int maxSamples) {
    List<Sample> samples = new ArrayList<>();
    int malformed = 0;
    int n = text.length();
    int lineStart = 0;
    while (lineStart < n && samples.size() < maxSamples) {
      int lineEnd = lineStart;
      while (lineEnd < n && text.charAt(lineEnd) != '\n') {
        lineEnd++;
      }
      int end = lineEnd > lineStart && text.charAt(lineEnd - 1) == '\r' ? lineEnd - 1 : lineEnd;
      if (end - lineStart > MAX_LINE_CHARS) {
        malformed++;
      } else {
        LineReader line = new LineReader(text, lineStart, end);
        try {
          Sample s = line.sample(wanted);
          if (s != null) {
            samples.add(s);
          }
        } catch (IllegalArgumentException e) {
          malformed++;
        }
      }
      lineStart = lineEnd + 1;
    }
    return new Parsed(Collections.unmodifiableList(samples), malformed);
  }

  private static final class LineReader {
    private final CharSequence text;
    private final int end;
    private int pos;

    LineReader(CharSequence text, int start, int end) {
      this.text = text;
      this.pos = start;
      this.end = end;
    }

    /** The sample on this line, or null for a blank, comment or unwanted line. */
    Sample sample(Predicate<String> wanted) {
      skipSpaces();
      if (pos == end || text.charAt(pos) == '#') {
        return null;
      }
      String name = name();
      if (name.isEmpty()) {
        throw new IllegalArgumentException("no metric name");
      }
      if (!wanted.test(name)) {
        return null;
      }
      Map<String, String> labels = Map.of();
      skipSpaces();
      if (pos < end && text.charAt(pos) == '{') {
        labels = labels();
      }
      skipSpaces();
      int valueStart = pos;
      while (pos < end && !Character.isWhitespace(text.charAt(pos))) {
        pos++;
      }
      double value = value(text.subSequence(valueStart, pos).toString());
      // A timestamp and/or an exemplar ("# {...} v") may follow; neither matters here.
      return new Sample(name, labels, value);
    }

    private String name() {
      int start = pos;
      while (pos < end) {
        char c = text.charAt(pos);
        boolean ok = c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (pos > start && c >= '0' && c <= '9');
        if (!ok) {
          break;
        }
        pos++;
      }
      return text.subSequence(start, pos).toString();
    }

    private Map<String, String> labels() {
      pos++; // '{'
      Map<String, String> labels = new LinkedHashMap<>();
      while (true) {
        skipSpaces();
        expectMore();
        if (text.charAt(pos) == '}') {
          pos++;
          return Collections.unmodifiableMap(labels);
        }
        String key = name();
        if (key.isEmpty()) {
          throw new IllegalArgumentException("bad label name");
        }
        skipSpaces();
        expect('=');
        skipSpaces();
        expect('"');
        StringBuilder value = new StringBuilder();
        while (true) {
          expectMore();
          char c = text.charAt(pos++);
          if (c == '"') {
            break;
          }
          if (c == '\\') {
            expectMore();
            char e = text.charAt(pos++);
            value.append(e == 'n' ? '\n' : e);
          } else {
            value.append(c);
          }
        }
        if (labels.size() >= MAX_LABELS) {
          throw new IllegalArgumentException("too many labels");
        }
        labels.put(key, value.toString());
        skipSpaces();
        expectMore();
        if (text.charAt(pos) == ',') {
          pos++;
        } else if (text.charAt(pos) != '}') {
          throw new IllegalArgumentException("expected ',' or '}'");
        }
      }
    }

    private static double value(String s) {
      switch (s) {
        case "NaN", "nan" -> {
          return Double.NaN;
        }
        case "+Inf", "Inf", "+inf", "inf" -> {
          return Double.POSITIVE_INFINITY;
        }
        case "-Inf", "-inf" -> {
          return Double.NEGATIVE_INFINITY;
        }
        default -> {
          if (s.isEmpty()) {
            throw new IllegalArgumentException("no value");
          }
          // Throws NumberFormatException, an IllegalArgumentException, on junk.
          return Double.parseDouble(s);
        }
      }
    }

    private void skipSpaces() {
      while (pos < end && (text.charAt(pos) == ' ' || text.charAt(pos) == '\t')) {
        pos++;
      }
    }

    private void expect(char c) {
      expectMore();
      if (text.charAt(pos) != c) {
        throw new IllegalArgumentException("expected '" + c + "'");
      }
      pos++;
    }

    private void expectMore() {
      if (pos >= end) {
        throw new IllegalArgumentException("line ends early");
      }
    }
  }
}
