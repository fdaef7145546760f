package dev.jevons.billing;

/** A reservation starts PENDING and ends in exactly one of the other states, once. */
public enum ReservationState {
  PENDING,
  POSTED,
  VOIDED,
  EXPIRED
}
