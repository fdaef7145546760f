package dev.jevons.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Request ids are also ledger and usage keys: fixed length, time-ordered, random below the millisecond. */
class RequestIdTest {
  static final byte[] ZEROS = new byte[10];
  static final byte[] ONES = filled((byte) 0xff);

  @Test
  void ids_have_one_length_and_sort_by_time_whatever_their_random_part() {
    String earlier = HttpApi.requestId(1_764_000_000_000L, ONES);
    String later = HttpApi.requestId(1_764_000_000_001L, ZEROS);
    String farLater = HttpApi.requestId(4_102_444_800_000L, ZEROS); // 2100-01-01

    assertThat(earlier).hasSize(30).startsWith("req_").matches("req_[0-9a-z]{26}");
    assertThat(later).hasSize(30);
    assertThat(farLater).hasSize(30);
    assertThat(earlier).isLessThan(later);
    assertThat(later).isLessThan(farLater);
  }

  @Test
  void the_random_part_carries_all_eighty_bits() {
    String zeros = HttpApi.requestId(0, ZEROS);
    String ones = HttpApi.requestId(0, ONES);
    byte[] one = new byte[10];
    one[9] = 1;

    assertThat(zeros).isEqualTo("req_" + "0".repeat(26));
    assertThat(ones.substring(14)).isEqualTo(Long.toString((1L << 40) - 1, 36).repeat(2));
    assertThat(HttpApi.requestId(0, one)).isNotEqualTo(zeros);
  }

  private static byte[] filled(byte b) {
    byte[] bytes = new byte[10];
    Arrays.fill(bytes, b);
    return bytes;
  }
}
