package dev.jevons.billing;

import java.time.Instant;
import java.time.LocalTime;
import java.util.List;

/**
 * The schedules the embedded simulator's models start with, after DeepSeek's published price
 * history (DESIGN.md, "Reference facts"). Dates given there without a time are taken as 00:00 UTC;
 * the off-peak windows run from the first evening they applied (2025-02-26 16:30 UTC) until DeepSeek
 * withdrew them with its 2025-09-05 16:00 UTC price change.
 */
public final class DefaultPrices {

  static final Instant CHAT_LAUNCH = Instant.parse("2024-12-26T00:00:00Z");
  static final Instant CHAT_PROMO_END = Instant.parse("2025-02-08T16:00:00Z");
  static final Instant REASONER_LAUNCH = Instant.parse("2025-01-20T00:00:00Z");
  static final Instant V3_2 = Instant.parse("2025-09-29T00:00:00Z");
  static final Instant OFF_PEAK_FROM = Instant.parse("2025-02-26T16:30:00Z");
  static final Instant OFF_PEAK_UNTIL = Instant.parse("2025-09-05T16:00:00Z");

  private DefaultPrices() {}

  /** sim-chat and sim-reasoner; version ids are fixed so every node seeds the same ones. */
  public static List<PriceSchedule> deepSeek() {
    LocalTime start = LocalTime.of(16, 30);
    LocalTime end = LocalTime.of(0, 30);
    return List.of(
        new PriceSchedule(
            "sim-chat",
            List.of(
                new PriceVersion("pv_sim-chat_2024-12-26", CHAT_LAUNCH, Prices.of("0.014", "0.14", "0.28")),
                new PriceVersion("pv_sim-chat_2025-02-08", CHAT_PROMO_END, Prices.of("0.07", "0.27", "1.10")),
                new PriceVersion("pv_sim-chat_2025-09-29", V3_2, Prices.of("0.028", "0.28", "0.42"))),
            List.of(new DiscountWindow(start, end, 5000, OFF_PEAK_FROM, OFF_PEAK_UNTIL))),
        new PriceSchedule(
            "sim-reasoner",
            List.of(
                new PriceVersion("pv_sim-reasoner_2025-01-20", REASONER_LAUNCH, Prices.of("0.14", "0.55", "2.19")),
                new PriceVersion("pv_sim-reasoner_2025-09-29", V3_2, Prices.of("0.028", "0.28", "0.42"))),
            List.of(new DiscountWindow(start, end, 7500, OFF_PEAK_FROM, OFF_PEAK_UNTIL))));
  }
}
