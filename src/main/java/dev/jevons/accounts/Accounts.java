package dev.jevons.accounts;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Accounts and their API keys: creation, listing, suspension, key issue and revocation, and
 * authentication of presented keys.
 *
 * <p>Key secrets are {@code sk-} followed by 43 base62 characters encoding 32 bytes from a
 * {@link SecureRandom} (256 bits). Only their SHA-256 is stored. A fast unsalted hash is enough
 * here, unlike for passwords: with 256 random bits there is nothing to brute-force or to look up
 * in a table, and a fast hash keeps authentication cheap on the request path.
 *
 * <p>Authentication is cached in memory, keyed by the secret hash, and checked against the clock on
 * every call (expiry, revocation, account status). Entries live {@link #CACHE_TTL}: a key revoked
 * or an account suspended on another gateway node stops working here within that time; on this
 * node it stops at once. Unknown secrets are cached too, in a separate bounded cache so that an
 * attacker hammering random keys neither reaches the database each time nor evicts the good
 * entries. Both caches are bounded, and a secret longer than {@link #MAX_SECRET_LENGTH} is
 * rejected before hashing.
 *
 * <p>Instants are truncated to milliseconds, the precision the store keeps.
 */
public final class Accounts {

  public static final String KEY_PREFIX = "sk-";
  public static final int MAX_NAME_LENGTH = 200;
  public static final int MAX_MODELS_PER_KEY = 100;
  public static final int MAX_PAGE_SIZE = 1000;
  static final int MAX_SECRET_LENGTH = 256;
  static final int SECRET_BYTES = 32;
  static final int ID_BYTES = 16;
  static final int DISPLAY_PREFIX_CHARS = 8;
  static final Duration CACHE_TTL = Duration.ofSeconds(1);
  static final long KNOWN_KEYS_CACHE_SIZE = 100_000;
  static final long UNKNOWN_KEYS_CACHE_SIZE = 10_000;

  private final AccountStore store;
  private final Clock clock;
  private final SecureRandom random;
  private final Cache<String, Principal> knownKeys;
  private final Cache<String, Boolean> unknownKeys;

  /** Cache expiry follows {@code clock}, so a test clock moves it too. */
  public Accounts(AccountStore store, Clock clock, SecureRandom random) {
    this(store, clock, random, tickerOf(clock));
  }

  public Accounts(AccountStore store, Clock clock, SecureRandom random, Ticker cacheTicker) {
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.random = Objects.requireNonNull(random, "random");
    this.knownKeys =
        Caffeine.newBuilder()
            .maximumSize(KNOWN_KEYS_CACHE_SIZE)
            .expireAfterWrite(CACHE_TTL)
            .ticker(cacheTicker)
            .build();
    this.unknownKeys =
        Caffeine.newBuilder()
            .maximumSize(UNKNOWN_KEYS_CACHE_SIZE)
            .expireAfterWrite(CACHE_TTL)
            .ticker(cacheTicker)
            .build();
  }

  public Account createAccount(String name) {
    Account account = new Account(newId("acct_"), validName("account name", name), AccountStatus.ACTIVE, now());
    store.insertAccount(account);
    return account;
  }

  public Optional<Account> account(String id) {
    return store.findAccount(id);
  }

  /**
   * A page of accounts in ascending id order, after {@code afterId} when given (keyset paging:
   * pass the last id of the previous page). {@code limit} must be positive and is capped at
   * {@link #MAX_PAGE_SIZE}.
   */
  public List<Account> listAccounts(int limit, @Nullable String afterId) {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be at least 1, was " + limit);
    }
    return store.listAccounts(Math.min(limit, MAX_PAGE_SIZE), afterId);
  }

  public Account setStatus(String accountId, AccountStatus status) {
    Account updated =
        store.updateAccountStatus(accountId, status).orElseThrow(() -> new NoSuchAccountException(accountId));
    forget(p -> p.account().id().equals(accountId));
    return updated;
  }

  /**
   * Sets the account's priority band (0 first, 2 last) and fair-share weight (1 to 1000). Takes
   * effect for requests that arrive after the change (on other nodes within the key cache's 1 s).
   */
  public Account setTier(String accountId, int band, int weight) {
    if (band < 0 || band > Account.MAX_BAND) {
      throw new IllegalArgumentException("band must be 0 (served first) to " + Account.MAX_BAND + " (last); got " + band);
    }
    if (weight < 1 || weight > Account.MAX_WEIGHT) {
      throw new IllegalArgumentException("weight must be 1 to " + Account.MAX_WEIGHT + "; got " + weight);
    }
    Account updated =
        store.updateAccountTier(accountId, band, weight).orElseThrow(() -> new NoSuchAccountException(accountId));
    forget(p -> p.account().id().equals(accountId));
    return updated;
  }

  /**
   * Issues a new key. {@code models} empty means all models; {@code expiresAt} null means never.
   * The returned secret is the only copy; it cannot be recovered later.
   */
  public IssuedKey issueKey(
      String accountId, String name, Set<String> models, @Nullable Instant expiresAt) {
    String keyName = validName("key name", name);
    Set<String> allowed = validModels(models);
    Instant now = now();
    @Nullable Instant expiry = expiresAt == null ? null : expiresAt.truncatedTo(ChronoUnit.MILLIS);
    if (expiry != null && !expiry.isAfter(now)) {
      throw new IllegalArgumentException("key expiry " + expiresAt + " is not in the future (now " + now + ")");
    }
    if (store.findAccount(accountId).isEmpty()) {
      throw new NoSuchAccountException(accountId);
    }
    byte[] secretBytes = new byte[SECRET_BYTES];
    random.nextBytes(secretBytes);
    String body = Base62.encode(secretBytes);
    String secret = KEY_PREFIX + body;
    String prefix = KEY_PREFIX + body.substring(0, DISPLAY_PREFIX_CHARS);
    ApiKey key = new ApiKey(newId("key_"), accountId, keyName, prefix, allowed, expiry, null, now);
    String hash = hashSecret(secret);
    store.insertKey(key, hash);
    unknownKeys.invalidate(hash);
    return new IssuedKey(key, secret);
  }

  public List<ApiKey> keysOf(String accountId) {
    return store.keysOf(accountId);
  }

  /** Revokes the key; revoking it again changes nothing and returns it as first revoked. */
  public ApiKey revokeKey(String keyId) {
    ApiKey revoked = store.revokeKey(keyId, now()).orElseThrow(() -> new NoSuchKeyException(keyId));
    forget(p -> p.key().id().equals(keyId));
    return revoked;
  }

  public Optional<ApiKey> key(String keyId) {
    return store.findKey(keyId);
  }

  /**
   * The caller behind a presented secret; empty for an unknown, revoked or expired key or a
   * suspended account. The reasons are deliberately not told apart: the API answers all with 401.
   */
  public Optional<Principal> authenticate(@Nullable String presentedSecret) {
    if (presentedSecret == null
        || presentedSecret.length() > MAX_SECRET_LENGTH
        || !presentedSecret.startsWith(KEY_PREFIX)) {
      return Optional.empty();
    }
    String hash = hashSecret(presentedSecret);
    if (unknownKeys.getIfPresent(hash) != null) {
      return Optional.empty();
    }
    // Caffeine runs one load per hash at a time, so a burst of requests with a cold key
    // reaches the store once. A store failure propagates: authentication fails closed.
    @Nullable Principal principal = knownKeys.get(hash, h -> store.findPrincipalByKeyHash(h).orElse(null));
    if (principal == null) {
      unknownKeys.put(hash, Boolean.TRUE);
      return Optional.empty();
    }
    if (!principal.account().isActive() || !principal.key().isUsableAt(clock.instant())) {
      return Optional.empty();
    }
    return Optional.of(principal);
  }

  /**
   * Drops cached principals after a change made on this node. The cache is keyed by secret hash,
   * which admin operations do not know, so this scans it: fine for rare admin calls, even at 100k
   * entries. A lookup that read the store just before the change may still put the old state back;
   * it then lives at most {@link #CACHE_TTL}, the same bound as for changes made on other nodes.
   */
  private void forget(Predicate<Principal> changed) {
    knownKeys.asMap().values().removeIf(changed);
  }

  static String hashSecret(String secret) {
    return HexFormat.of().formatHex(AdminToken.sha256(secret));
  }

  private String newId(String kind) {
    byte[] bytes = new byte[ID_BYTES];
    random.nextBytes(bytes);
    return kind + Base62.encode(bytes);
  }

  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.MILLIS);
  }

  private static String validName(String what, String name) {
    String stripped = name.strip();
    if (stripped.isEmpty()) {
      throw new IllegalArgumentException(what + " must not be blank");
    }
    if (stripped.length() > MAX_NAME_LENGTH) {
      throw new IllegalArgumentException(
          what + " must be at most " + MAX_NAME_LENGTH + " characters, was " + stripped.length());
    }
    if (stripped.chars().anyMatch(Character::isISOControl)) {
      throw new IllegalArgumentException(what + " must not contain control characters");
    }
    return stripped;
  }

  private static Set<String> validModels(Set<String> models) {
    if (models.size() > MAX_MODELS_PER_KEY) {
      throw new IllegalArgumentException(
          "a key may name at most " + MAX_MODELS_PER_KEY + " models, got " + models.size());
    }
    for (String model : models) {
      if (model.isEmpty()
          || model.length() > MAX_NAME_LENGTH
          || model.chars().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c))) {
        throw new IllegalArgumentException(
            "model names must be 1 to " + MAX_NAME_LENGTH + " characters without whitespace: '" + model + "'");
      }
    }
    return models;
  }

  private static Ticker tickerOf(Clock clock) {
    return () -> {
      Instant now = clock.instant();
      return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    };
  }
}
