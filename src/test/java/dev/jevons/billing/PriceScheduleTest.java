package dev.jevons.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.time.LocalTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PriceScheduleTest {
  static final PriceSchedule CHAT = DefaultPrices.deepSeek().get(0);
  static final PriceSchedule REASONER = DefaultPrices.deepSeek().get(1);

  static Instant t(String iso) {
    return Instant.parse(iso);
  }

  @Test
  void the_promotion_ends_exactly_at_2025_02_08_16_00_utc() {
    assertThat(CHAT.quoteAt(t("2025-02-08T15:59:59.999Z")).orElseThrow().prices()).isEqualTo(Prices.of("0.014", "0.14", "0.28"));
    assertThat(CHAT.quoteAt(t("2025-02-08T16:00:00Z")).orElseThrow().prices()).isEqualTo(Prices.of("0.07", "0.27", "1.10"));
    assertThat(CHAT.quoteAt(t("2025-02-08T16:00:00Z")).orElseThrow().priceVersionId()).isEqualTo("pv_sim-chat_2025-02-08");
    assertThat(CHAT.quoteAt(t("2025-09-29T00:00:00Z")).orElseThrow().prices()).isEqualTo(Prices.of("0.028", "0.28", "0.42"));
  }

  @Test
  void a_model_is_unpriced_before_its_first_version() {
    assertThat(REASONER.quoteAt(t("2025-01-19T23:59:59.999Z"))).isEmpty();
    assertThat(REASONER.quoteAt(t("2025-01-20T00:00:00Z"))).isPresent();
    assertThat(new PriceSchedule("x", List.of(), List.of()).quoteAt(t("2030-01-01T00:00:00Z"))).isEmpty();
  }

  @ParameterizedTest(name = "{0} -> {1} bp off")
  @CsvSource({
    "2025-03-10T16:29:59.999Z, 0",
    "2025-03-10T16:30:00Z, 7500",
    "2025-03-10T23:59:59.999Z, 7500",
    "2025-03-11T00:00:00Z, 7500",
    "2025-03-11T00:29:59.999Z, 7500",
    "2025-03-11T00:30:00Z, 0",
    "2025-03-11T12:00:00Z, 0",
    // The windows exist from the first evening, 2025-02-26 16:30, until 2025-09-05 16:00.
    "2025-02-26T00:10:00Z, 0",
    "2025-02-26T16:29:59Z, 0",
    "2025-02-26T16:30:00Z, 7500",
    "2025-09-05T00:10:00Z, 7500",
    "2025-09-05T16:30:00Z, 0",
  })
  void the_off_peak_window_crosses_midnight_utc_half_open(String at, int discountBp) {
    assertThat(REASONER.discountBpAt(t(at))).isEqualTo(discountBp);
    assertThat(REASONER.quoteAt(t(at)).orElseThrow().discountBp()).isEqualTo(discountBp);
  }

  @Test
  void the_largest_discount_of_overlapping_windows_wins() {
    PriceSchedule s =
        new PriceSchedule(
            "m",
            List.of(new PriceVersion("pv_1", t("2025-01-01T00:00:00Z"), Prices.of("1", "1", "1"))),
            List.of(
                new DiscountWindow(LocalTime.of(22, 0), LocalTime.of(2, 0), 2000, null, null),
                new DiscountWindow(LocalTime.of(23, 0), LocalTime.of(1, 0), 5000, null, null),
                new DiscountWindow(LocalTime.of(0, 0), LocalTime.of(6, 0), 3000, null, null)));
    assertThat(s.discountBpAt(t("2025-05-01T22:30:00Z"))).isEqualTo(2000);
    assertThat(s.discountBpAt(t("2025-05-01T23:30:00Z"))).isEqualTo(5000);
    assertThat(s.discountBpAt(t("2025-05-02T00:59:59Z"))).isEqualTo(5000);
    assertThat(s.discountBpAt(t("2025-05-02T01:00:00Z"))).isEqualTo(3000);
    assertThat(s.discountBpAt(t("2025-05-02T06:00:00Z"))).isZero();
  }

  @Test
  void a_request_at_00_29_59_pays_the_discounted_price_for_all_its_tokens() {
    Quote q = REASONER.quoteAt(t("2025-03-11T00:29:59Z")).orElseThrow();
    assertThat(q.cost(0, 0, 1).nanos()).isEqualTo(548);
    Quote later = REASONER.quoteAt(t("2025-03-11T00:30:00Z")).orElseThrow();
    assertThat(later.cost(0, 0, 1).nanos()).isEqualTo(2190);
  }

  @Test
  void rejects_empty_windows_and_discounts_out_of_range() {
    assertThatThrownBy(() -> new DiscountWindow(LocalTime.of(1, 0), LocalTime.of(1, 0), 100, null, null))
        .isInstanceOfSatisfying(InvalidPriceException.class, e -> assertThat(e.field()).isEqualTo("end"));
    assertThatThrownBy(() -> new DiscountWindow(LocalTime.of(1, 0), LocalTime.of(2, 0), 0, null, null))
        .isInstanceOfSatisfying(InvalidPriceException.class, e -> assertThat(e.field()).isEqualTo("discount_bp"));
    assertThatThrownBy(() -> new DiscountWindow(LocalTime.of(1, 0), LocalTime.of(2, 0), 10_001, null, null))
        .isInstanceOf(InvalidPriceException.class);
    assertThatThrownBy(
            () -> new DiscountWindow(LocalTime.of(1, 0), LocalTime.of(2, 0), 100, t("2025-01-02T00:00:00Z"), t("2025-01-01T00:00:00Z")))
        .isInstanceOfSatisfying(InvalidPriceException.class, e -> assertThat(e.field()).isEqualTo("effective_until"));
    assertThatThrownBy(() -> Prices.of("-0.01", "0", "0"))
        .isInstanceOfSatisfying(InvalidPriceException.class, e -> assertThat(e.field()).isEqualTo("input_cache_hit"));
  }

  @Test
  void formats_window_times_as_hours_and_minutes() {
    assertThat(DiscountWindow.format(LocalTime.of(16, 30))).isEqualTo("16:30");
    assertThat(DiscountWindow.format(LocalTime.of(0, 30, 15))).isEqualTo("00:30:15");
  }
}
