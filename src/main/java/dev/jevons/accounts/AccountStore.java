package dev.jevons.accounts;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Storage port for accounts and API keys, implemented by the {@code store} package.
 *
 * <p>Implementations keep instants to the millisecond, keep key secrets only as the hash they are
 * given, and are safe for concurrent use. Storage failures surface as unchecked exceptions; callers
 * fail closed on them (no store, no authentication).
 */
public interface AccountStore {

  /** Inserts a new account; fails if the id is taken. */
  void insertAccount(Account account);

  Optional<Account> findAccount(String accountId);

  /**
   * Accounts in ascending order of id, compared as plain strings (code point order), starting after
   * {@code afterId} when given.
   */
  List<Account> listAccounts(int limit, @Nullable String afterId);

  /** Sets the status and returns the updated account, or empty if there is no such account. */
  Optional<Account> updateAccountStatus(String accountId, AccountStatus status);

  /** Sets the account's priority band and fair-share weight; empty if there is no such account. */
  Optional<Account> updateAccountTier(String accountId, int band, int weight);

  /**
   * Inserts a new key under its account, remembering only {@code secretHash}. Fails if the account
   * does not exist or the id or hash is taken.
   */
  void insertKey(ApiKey key, String secretHash);

  Optional<ApiKey> findKey(String keyId);

  /** The account's keys, revoked and expired ones included, oldest first. */
  List<ApiKey> keysOf(String accountId);

  /**
   * Marks the key revoked at {@code revokedAt} unless it already is (the first revocation time
   * stays), and returns the key as stored afterwards; empty if there is no such key.
   */
  Optional<ApiKey> revokeKey(String keyId, Instant revokedAt);

  /** The key with that secret hash and its account, whatever their state; empty if unknown. */
  Optional<Principal> findPrincipalByKeyHash(String secretHash);
}
