package dev.jevons.accounts;

/** Whether an account may use its keys. A suspended account keeps its keys and balance. */
public enum AccountStatus {
  ACTIVE,
  SUSPENDED
}
