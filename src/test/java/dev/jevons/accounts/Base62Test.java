package dev.jevons.accounts;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;

class Base62Test {

  @Property
  void encodes_32_bytes_as_43_alphanumerics_that_decode_to_the_same_bytes(
      @ForAll @Size(32) byte[] bytes) {
    String text = Base62.encode(bytes);

    assertThat(text).hasSize(43).matches("[0-9A-Za-z]+");
    assertThat(Base62.decode(text, 32)).isEqualTo(bytes);
  }

  @Property
  void encodes_16_bytes_as_22_alphanumerics_that_decode_to_the_same_bytes(
      @ForAll @Size(16) byte[] bytes) {
    String text = Base62.encode(bytes);

    assertThat(text).hasSize(22);
    assertThat(Base62.decode(text, 16)).isEqualTo(bytes);
  }

  @Property
  void needs_no_more_than_the_information_theoretic_minimum_of_digits(
      @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 64) int byteCount) {
    int digits = Base62.encodedLength(byteCount);

    assertThat(digits).isEqualTo((int) Math.ceil(byteCount * 8 / (Math.log(62) / Math.log(2))));
  }
}
