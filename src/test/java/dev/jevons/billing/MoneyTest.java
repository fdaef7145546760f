package dev.jevons.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MoneyTest {

  @Property
  void parsing_the_printed_form_gives_back_the_same_amount(@ForAll long nanos) {
    Money m = Money.ofNanos(nanos);
    assertThat(Money.parse(m.toDecimalString())).isEqualTo(m);
  }

  @Test
  void prints_full_precision_without_needless_zeros_beyond_cents() {
    assertThat(Money.parse("12.50")).hasToString("12.50");
    assertThat(Money.parse("12.5")).hasToString("12.50");
    assertThat(Money.parse("12")).hasToString("12.00");
    assertThat(Money.ofNanos(28)).hasToString("0.000000028");
    assertThat(Money.ZERO).hasToString("0.00");
    assertThat(Money.parse("-1.25")).hasToString("-1.25");
    assertThat(Money.parse("0.028")).hasToString("0.028");
    assertThat(Money.parse("-0.000000001")).hasToString("-0.000000001");
    assertThat(Money.ofNanos(Long.MAX_VALUE)).hasToString("9223372036.854775807");
    assertThat(Money.ofNanos(Long.MIN_VALUE)).hasToString("-9223372036.854775808");
  }

  @Test
  void parses_to_nanos() {
    assertThat(Money.parse("0.028").nanos()).isEqualTo(28_000_000L);
    assertThat(Money.parse("2.19").nanos()).isEqualTo(2_190_000_000L);
    assertThat(Money.parse("-0").nanos()).isZero();
    assertThat(Money.parse("-9223372036.854775808").nanos()).isEqualTo(Long.MIN_VALUE);
    assertThat(Money.parse("0.028").currency()).isEqualTo("USD");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " 1", "1 ", "1.", ".5", "+1", "1e3", "1E-9", "0x10", "1,5", "0.0000000001", "abc", "--1",
      "9223372036.854775808", "-9223372036.854775809", "99999999999", "NaN", "١"})
  void rejects_anything_but_a_plain_decimal_with_at_most_nine_decimals(String junk) {
    assertThatThrownBy(() -> Money.parse(junk)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'" + junk + "'");
  }

  @Test
  void adds_and_subtracts_exactly_and_refuses_to_wrap() {
    assertThat(Money.parse("0.1").plus(Money.parse("0.2"))).isEqualTo(Money.parse("0.3"));
    assertThat(Money.parse("1").minus(Money.parse("1.25"))).isEqualTo(Money.parse("-0.25"));
    assertThatThrownBy(() -> Money.ofNanos(Long.MAX_VALUE).plus(Money.ofNanos(1))).isInstanceOf(ArithmeticException.class);
    assertThatThrownBy(() -> Money.ofNanos(Long.MIN_VALUE).minus(Money.ofNanos(1))).isInstanceOf(ArithmeticException.class);
  }
}
