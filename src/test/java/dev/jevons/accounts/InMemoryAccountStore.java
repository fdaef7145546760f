package dev.jevons.accounts;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/** A map-backed store that also records what it was given and how often it was asked. */
final class InMemoryAccountStore implements AccountStore {

  final Map<String, Account> accounts = new ConcurrentHashMap<>();
  final Map<String, ApiKey> keys = new ConcurrentHashMap<>();
  final Map<String, String> keyIdByHash = new ConcurrentHashMap<>();
  final AtomicInteger principalLookups = new AtomicInteger();

  @Override
  public void insertAccount(Account account) {
    if (accounts.putIfAbsent(account.id(), account) != null) {
      throw new IllegalStateException("duplicate account " + account.id());
    }
  }

  @Override
  public Optional<Account> findAccount(String accountId) {
    return Optional.ofNullable(accounts.get(accountId));
  }

  @Override
  public List<Account> listAccounts(int limit, @Nullable String afterId) {
    return accounts.values().stream()
        .filter(a -> afterId == null || a.id().compareTo(afterId) > 0)
        .sorted(Comparator.comparing(Account::id))
        .limit(limit)
        .toList();
  }

  @Override
  public Optional<Account> updateAccountStatus(String accountId, AccountStatus status) {
    return Optional.ofNullable(accounts.computeIfPresent(accountId, (id, a) -> a.withStatus(status)));
  }

  @Override
  public Optional<Account> updateAccountTier(String accountId, int band, int weight) {
    return Optional.ofNullable(accounts.computeIfPresent(accountId, (id, a) -> a.withTier(band, weight)));
  }

  @Override
  public void insertKey(ApiKey key, String secretHash) {
    if (!accounts.containsKey(key.accountId())) {
      throw new IllegalStateException("no account " + key.accountId());
    }
    if (keyIdByHash.putIfAbsent(secretHash, key.id()) != null) {
      throw new IllegalStateException("duplicate hash");
    }
    keys.put(key.id(), key);
  }

  @Override
  public Optional<ApiKey> findKey(String keyId) {
    return Optional.ofNullable(keys.get(keyId));
  }

  @Override
  public List<ApiKey> keysOf(String accountId) {
    return new ArrayList<>(
        keys.values().stream()
            .filter(k -> k.accountId().equals(accountId))
            .sorted(Comparator.comparing(ApiKey::createdAt).thenComparing(ApiKey::id))
            .toList());
  }

  @Override
  public Optional<ApiKey> revokeKey(String keyId, Instant revokedAt) {
    return Optional.ofNullable(
        keys.computeIfPresent(keyId, (id, k) -> k.isRevoked() ? k : k.revokedAt(revokedAt)));
  }

  @Override
  public Optional<Principal> findPrincipalByKeyHash(String secretHash) {
    principalLookups.incrementAndGet();
    String keyId = keyIdByHash.get(secretHash);
    if (keyId == null) {
      return Optional.empty();
    }
    ApiKey key = keys.get(keyId);
    return Optional.of(new Principal(accounts.get(key.accountId()), key));
  }
}
