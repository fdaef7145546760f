package dev.jevons.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.time.Instant;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class QuoteTest {
  static final Instant AT = Instant.parse("2025-10-01T12:00:00Z");
  static final Prices V3_2 = Prices.of("0.028", "0.28", "0.42");
  static final Prices REASONER = Prices.of("0.14", "0.55", "2.19");

  static Quote quote(Prices prices, int discountBp) {
    return new Quote("m", "pv_test", prices, discountBp, AT);
  }

  @Test
  void one_cache_hit_token_at_0_028_per_million_costs_exactly_28_nanos() {
    assertThat(quote(V3_2, 0).cost(1, 0, 0).nanos()).isEqualTo(28);
  }

  @Test
  void one_output_token_of_reasoner_at_75_percent_off_rounds_547_5_up_to_548_nanos() {
    assertThat(quote(REASONER, 7500).cost(0, 0, 1).nanos()).isEqualTo(548);
  }

  @Test
  void a_trillion_output_tokens_at_2_19_per_million_cost_exactly_2_19_million_dollars() {
    Money cost = quote(REASONER, 0).cost(0, 0, 1_000_000_000_000L);
    assertThat(cost.nanos()).isEqualTo(2_190_000_000_000_000L);
    assertThat(cost).hasToString("2190000.00");
  }

  @Test
  void zero_tokens_cost_nothing_even_with_a_discount() {
    assertThat(quote(REASONER, 0).cost(0, 0, 0)).isEqualTo(Money.ZERO);
    assertThat(quote(REASONER, 5000).cost(0, 0, 0)).isEqualTo(Money.ZERO);
  }

  @Test
  void rounds_once_per_request_not_per_token_kind() {
    // 1 hit token at 0.0000005/1M is 0.5e-6 nanos, as is the miss token: one ceil of the sum gives
    // 1 nano where rounding each kind would give 2.
    Quote q = quote(Prices.of("0.0000005", "0.0000005", "0"), 0);
    assertThat(q.cost(1, 1, 0).nanos()).isEqualTo(1);
    assertThat(q.cost(1, 0, 0).nanos()).isEqualTo(1);
  }

  @Test
  void a_full_discount_makes_a_request_free() {
    assertThat(quote(REASONER, 10_000).cost(5, 6, 7)).isEqualTo(Money.ZERO);
  }

  @Test
  void mixes_token_kinds_at_their_own_prices() {
    // 1000 * 0.14 + 2000 * 0.55 + 300 * 2.19 = 140 + 1100 + 657 = 1897 (per 1M) -> 1897000 nanos
    assertThat(quote(REASONER, 0).cost(1000, 2000, 300).nanos()).isEqualTo(1_897_000);
    // At 50% off exactly half.
    assertThat(quote(REASONER, 5000).cost(1000, 2000, 300).nanos()).isEqualTo(948_500);
  }

  @Test
  void refuses_negative_token_counts_and_costs_that_do_not_fit() {
    assertThatThrownBy(() -> quote(V3_2, 0).cost(-1, 0, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> quote(REASONER, 0).cost(0, 0, Long.MAX_VALUE)).isInstanceOf(ArithmeticException.class);
  }

  @Property
  void never_under_charges_and_over_charges_by_less_than_one_nano(
      @ForAll @LongRange(min = 0, max = 1_000_000_000_000L) long hit,
      @ForAll @LongRange(min = 0, max = 1_000_000_000_000L) long miss,
      @ForAll @LongRange(min = 0, max = 1_000_000_000_000L) long out,
      @ForAll @IntRange(min = 0, max = 10_000) int discountBp) {
    checkRounding(hit, miss, out, discountBp);
  }

  /** The same bound at the sizes of real requests, where the cost is computed in longs. */
  @Property
  void rounds_the_same_way_at_request_sizes(
      @ForAll @LongRange(min = 0, max = 200_000) long hit,
      @ForAll @LongRange(min = 0, max = 200_000) long miss,
      @ForAll @LongRange(min = 0, max = 200_000) long out,
      @ForAll @IntRange(min = 0, max = 10_000) int discountBp) {
    checkRounding(hit, miss, out, discountBp);
  }

  private static void checkRounding(long hit, long miss, long out, int discountBp) {
    Quote q = quote(REASONER, discountBp);
    BigInteger exactTimes1e10 =
        BigInteger.valueOf(hit).multiply(BigInteger.valueOf(140_000_000L))
            .add(BigInteger.valueOf(miss).multiply(BigInteger.valueOf(550_000_000L)))
            .add(BigInteger.valueOf(out).multiply(BigInteger.valueOf(2_190_000_000L)))
            .multiply(BigInteger.valueOf(10_000 - discountBp));
    BigInteger chargedTimes1e10 = BigInteger.valueOf(q.cost(hit, miss, out).nanos()).multiply(BigInteger.TEN.pow(10));
    BigInteger over = chargedTimes1e10.subtract(exactTimes1e10);
    assertThat(over.signum()).isNotNegative();
    assertThat(over).isLessThan(BigInteger.TEN.pow(10));
  }
}
