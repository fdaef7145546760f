package dev.jevons.billing;

/** Topped-up credit never expires; granted credit does, and is spent first. */
public enum CreditKind {
  TOPPED_UP,
  GRANTED
}
