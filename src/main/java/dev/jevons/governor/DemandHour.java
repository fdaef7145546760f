package dev.jevons.governor;

import java.time.Instant;

/**
 * Demand in one UTC hour, summed over every gateway node: requests that reached admission, those
 * shed, and the fleet's busy and total slot-seconds.
 */
public record DemandHour(Instant hour, long requests, long shed, double busySlotSeconds, double slotSeconds) {
  /** Above this, one hour's demand index says nothing more useful (almost all shed). */
  static final double MAX_DEMAND_INDEX = 100;

  public double utilization() {
    return slotSeconds <= 0 ? 0 : Math.min(1, busySlotSeconds / slotSeconds);
  }

  /**
   * Demand relative to capacity: utilization scaled up by what had to be turned away, so 1.0 is a
   * full fleet that shed nothing, and 2.0 a full fleet that shed half of what arrived. The simple
   * "offered over capacity" ratio the runway is projected from.
   */
  public double demandIndex() {
    if (requests <= 0) {
      return utilization();
    }
    double served = 1 - (double) Math.min(shed, requests) / requests;
    return served <= 0 ? MAX_DEMAND_INDEX : Math.min(MAX_DEMAND_INDEX, utilization() / served);
  }
}
