package dev.jevons.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReadBoundedTest {

  /** Hands out at most {@code step} bytes per read, as a socket does. */
  private static InputStream trickle(byte[] bytes, int step) {
    return new ByteArrayInputStream(bytes) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, Math.min(len, step));
      }
    };
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  @Test
  void reads_a_body_of_its_declared_length_whole() throws IOException {
    byte[] body = random(418);
    assertThat(Gateway.readBounded(trickle(body, 100), body.length)).isEqualTo(body);
  }

  @Test
  void reads_an_empty_body_and_one_longer_than_its_declared_empty_length() throws IOException {
    assertThat(Gateway.readBounded(trickle(new byte[0], 100), 0)).isEmpty();
    byte[] body = random(3_000);
    assertThat(Gateway.readBounded(trickle(body, 100), 0)).isEqualTo(body);
  }

  @Test
  void reads_a_body_without_a_declared_length_growing_as_it_arrives() throws IOException {
    for (int n : new int[] {0, 1, 1023, 1024, 1025, 70_000}) {
      byte[] body = random(n);
      assertThat(Gateway.readBounded(trickle(body, 3_000), -1)).isEqualTo(body);
    }
  }

  @Test
  void a_declared_length_that_is_wrong_does_not_change_what_is_read() throws IOException {
    byte[] body = random(5_000);
    assertThat(Gateway.readBounded(trickle(body, 700), 10)).isEqualTo(body);
    assertThat(Gateway.readBounded(trickle(body, 700), 50_000)).isEqualTo(body);
  }

  @Test
  void refuses_a_body_declared_larger_than_the_limit_without_reading_it() {
    InputStream never = new InputStream() {
      @Override
      public int read() {
        throw new AssertionError("read a body it should have refused");
      }
    };
    assertThatThrownBy(() -> Gateway.readBounded(never, (64L << 20) + 1)).isInstanceOf(IOException.class).hasMessageContaining("larger than");
  }
}
