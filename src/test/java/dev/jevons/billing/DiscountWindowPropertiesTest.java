package dev.jevons.billing;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneOffset;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

class DiscountWindowPropertiesTest {

  /** The same rule said plainly: compare the UTC wall-clock time with start and end. */
  static boolean inWindow(LocalTime start, LocalTime end, Instant at) {
    LocalTime t = at.atZone(ZoneOffset.UTC).toLocalTime();
    boolean afterStart = !t.isBefore(start);
    boolean beforeEnd = t.isBefore(end);
    return start.isBefore(end) ? afterStart && beforeEnd : afterStart || beforeEnd;
  }

  @Property
  void a_window_is_active_exactly_when_the_utc_time_of_day_lies_in_start_to_end(
      @ForAll @IntRange(min = 0, max = 86_399) int startSecond,
      @ForAll @IntRange(min = 0, max = 86_399) int endSecond,
      @ForAll @LongRange(min = 0, max = 4_102_444_800_000L) long atMillis) {
    Assume.that(startSecond != endSecond);
    LocalTime start = LocalTime.ofSecondOfDay(startSecond);
    LocalTime end = LocalTime.ofSecondOfDay(endSecond);
    Instant at = Instant.ofEpochMilli(atMillis);
    assertThat(new DiscountWindow(start, end, 5000, null, null).activeAt(at)).isEqualTo(inWindow(start, end, at));
  }

  @Property
  void a_window_crossing_midnight_is_the_union_of_its_evening_and_morning_parts(
      @ForAll @IntRange(min = 1, max = 86_399) int startSecond,
      @ForAll @IntRange(min = 1, max = 86_399) int endSecond,
      @ForAll @LongRange(min = 0, max = 4_102_444_800_000L) long atMillis) {
    Assume.that(endSecond < startSecond);
    LocalTime start = LocalTime.ofSecondOfDay(startSecond);
    LocalTime end = LocalTime.ofSecondOfDay(endSecond);
    Instant at = Instant.ofEpochMilli(atMillis);
    boolean evening = new DiscountWindow(start, LocalTime.MIDNIGHT, 1, null, null).activeAt(at);
    boolean morning = new DiscountWindow(LocalTime.MIDNIGHT, end, 1, null, null).activeAt(at);
    assertThat(new DiscountWindow(start, end, 1, null, null).activeAt(at)).isEqualTo(evening || morning);
  }
}
