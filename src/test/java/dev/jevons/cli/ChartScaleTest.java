package dev.jevons.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ChartScaleTest {
  @Test
  void steps_are_one_two_or_five_times_a_power_of_ten() {
    assertThat(ChartScale.niceStep(0.7)).isEqualTo(1);
    assertThat(ChartScale.niceStep(1)).isEqualTo(1);
    assertThat(ChartScale.niceStep(1.3)).isEqualTo(2);
    assertThat(ChartScale.niceStep(3)).isEqualTo(5);
    assertThat(ChartScale.niceStep(7)).isEqualTo(10);
    assertThat(ChartScale.niceStep(0.013)).isCloseTo(0.02, org.assertj.core.api.Assertions.within(1e-12));
    assertThat(ChartScale.niceStep(2_400)).isEqualTo(5_000);
    assertThatThrownBy(() -> ChartScale.niceStep(0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void the_axis_covers_the_data_with_whole_ticks() {
    ChartScale s = ChartScale.from0(4.6, 4, 100, 0);
    assertThat(s.step()).isEqualTo(2);
    assertThat(s.max()).isEqualTo(6);
    assertThat(s.ticks()).containsExactly(0.0, 2.0, 4.0, 6.0);
    ChartScale exact = ChartScale.from0(8, 4, 100, 0);
    assertThat(exact.max()).isEqualTo(8);
  }

  @Test
  void an_empty_panel_still_gets_an_axis() {
    assertThat(ChartScale.from0(0, 4, 100, 0).max()).isEqualTo(1);
    assertThat(ChartScale.from0(Double.NaN, 4, 100, 0).max()).isEqualTo(1);
  }

  @Test
  void values_map_linearly_onto_pixels_upwards_and_are_clamped_to_the_panel() {
    ChartScale s = ChartScale.from0(10, 5, 100, 0);
    assertThat(s.pixel(0)).isEqualTo(100);
    assertThat(s.pixel(5)).isEqualTo(50);
    assertThat(s.pixel(10)).isEqualTo(0);
    assertThat(s.pixel(25)).isEqualTo(0);
    assertThat(s.pixel(-3)).isEqualTo(100);
    assertThat(s.pixel(Double.NaN)).isEqualTo(100);
  }

  @Test
  void labels_have_no_floating_point_noise() {
    assertThat(ChartScale.label(0.1 * 3)).isEqualTo("0.3");
    assertThat(ChartScale.label(2)).isEqualTo("2");
    assertThat(ChartScale.label(0.0005)).isEqualTo("0.0005");
    assertThat(ChartScale.label(1200)).isEqualTo("1200");
  }
}
