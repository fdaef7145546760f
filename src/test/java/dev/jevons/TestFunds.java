package dev.jevons;

import dev.jevons.billing.CreditKind;
import dev.jevons.cli.JevonsApp;
import java.util.concurrent.TimeUnit;

/** Gives a test account money, so that billing (on by default) lets its requests through. */
public final class TestFunds {
  private TestFunds() {}

  /** Tops the account up with $1,000 once (idempotent per account). */
  public static String fund(JevonsApp app, String accountId) {
    try {
      app.ledger().credit("test-funds:" + accountId, accountId, CreditKind.TOPPED_UP, 1_000L * 1_000_000_000L, null).get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("cannot fund test account " + accountId, e);
    }
    return accountId;
  }
}
