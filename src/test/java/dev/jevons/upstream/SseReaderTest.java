package dev.jevons.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class SseReaderTest {
  /** Delivers the bytes in reads of at most {@code chunk} bytes, as a slow network would. */
  static InputStream dribble(String s, int chunk) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    return new ByteArrayInputStream(bytes) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, Math.min(len, chunk));
      }
    };
  }

  static List<String> all(SseReader r) throws IOException {
    List<String> out = new ArrayList<>();
    for (String d = r.nextData(); d != null; d = r.nextData()) {
      out.add(d);
    }
    return out;
  }

  static final String STREAM =
      ": keep-alive\n\ndata: {\"a\":1}\n\ndata:{\"b\":\"é\"}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n";

  @Property(tries = 50)
  void reassembles_events_whatever_the_read_sizes(@ForAll @IntRange(min = 1, max = 64) int chunk) throws IOException {
    assertThat(all(new SseReader(dribble(STREAM, chunk), 1024)))
        .containsExactly("{\"a\":1}", "{\"b\":\"é\"}", "line1\nline2", "[DONE]");
  }

  @Test
  void returns_a_last_event_without_its_blank_line_at_end_of_stream() throws IOException {
    assertThat(all(new SseReader(dribble("data: tail", 3), 1024))).containsExactly("tail");
  }

  @Test
  void refuses_a_line_longer_than_the_limit_instead_of_buffering_it() {
    String huge = "data: " + "x".repeat(5000) + "\n\n";
    SseReader r = new SseReader(dribble(huge, 100), 1000);
    assertThatThrownBy(r::nextData).isInstanceOf(IOException.class).hasMessageContaining("longer than 1000 bytes");
  }
}
