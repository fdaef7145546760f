package dev.jevons.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * A linear axis with "nice" ticks (1, 2 or 5 times a power of ten), mapping data values onto a
 * pixel range. Pure arithmetic for the demo's hand-written SVG chart.
 *
 * @param max the top of the axis: the smallest tick at or above the data's maximum
 * @param step the distance between ticks
 * @param pixelLow the pixel of value 0 (the bottom of a panel: SVG's y grows downwards)
 * @param pixelHigh the pixel of {@code max}
 */
record ChartScale(double max, double step, double pixelLow, double pixelHigh) {

  ChartScale {
    if (!(max > 0) || !(step > 0) || Double.isInfinite(max)) {
      throw new IllegalArgumentException("an axis needs a positive finite max and step: " + max + ", " + step);
    }
  }

  /**
   * An axis from 0 covering {@code dataMax} with about {@code ticks} intervals; an empty or
   * non-positive maximum gets the axis 0..1, so a panel of zeros still draws.
   */
  static ChartScale from0(double dataMax, int ticks, double pixelLow, double pixelHigh) {
    if (ticks < 1) {
      throw new IllegalArgumentException("ticks must be >= 1");
    }
    double top = Double.isFinite(dataMax) && dataMax > 0 ? dataMax : 1;
    double step = niceStep(top / ticks);
    double max = Math.ceil(top / step - 1e-9) * step;
    return new ChartScale(max, step, pixelLow, pixelHigh);
  }

  /** The smallest of 1, 2, 5 x 10^k that is at least {@code raw}. */
  static double niceStep(double raw) {
    if (!(raw > 0) || Double.isInfinite(raw)) {
      throw new IllegalArgumentException("step must be positive and finite: " + raw);
    }
    double power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (double m : new double[] {1, 2, 5, 10}) {
      if (m * power >= raw * (1 - 1e-9)) {
        return m * power;
      }
    }
    return 10 * power;
  }

  /** The pixel of a value; values beyond the axis are clamped to its ends (so an outlier cannot draw outside its panel). */
  double pixel(double value) {
    double v = Double.isFinite(value) ? Math.max(0, Math.min(max, value)) : 0;
    return pixelLow + (pixelHigh - pixelLow) * v / max;
  }

  List<Double> ticks() {
    List<Double> out = new ArrayList<>();
    int n = (int) Math.round(max / step);
    for (int i = 0; i <= n; i++) {
      out.add(i * step);
    }
    return out;
  }

  /** A tick label without spurious digits: "0", "2.5", "0.001", "1200". */
  static String label(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    String s = new java.math.BigDecimal(v).round(new java.math.MathContext(6)).stripTrailingZeros().toPlainString();
    return s;
  }
}
