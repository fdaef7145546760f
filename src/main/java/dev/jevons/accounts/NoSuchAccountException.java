package dev.jevons.accounts;

public final class NoSuchAccountException extends RuntimeException {

  private final String accountId;

  public NoSuchAccountException(String accountId) {
    super("no such account: " + accountId);
    this.accountId = accountId;
  }

  public String accountId() {
    return accountId;
  }
}
