package dev.jevons.billing;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Top-ups that are not operator credits: redemption codes and payment events.
 *
 * <p>Implementation note. Both kinds are idempotent through the ledger: a code's credit has the
 * entry id {@code code:<sha-256 of the code>}, a payment's {@code stripe:<event id>}, and the
 * ledger applies an entry id at most once. Redeeming first marks the code (one conditional UPDATE
 * ... WHERE redeemed_at IS NULL, so exactly one account wins however many race), then credits the
 * ledger. A crash between the two leaves a code marked but not credited; the owner's retry finds
 * the code marked by itself and credits again with the same entry id, which applies it if it was
 * missing and changes nothing if it was not. The reverse order (credit, then mark) could credit two
 * different accounts that race for one code before either marks it, so it is not used. Payment
 * events credit first and record the event afterwards: a crash in between makes the provider
 * redeliver, and the redelivery's credit is a replay.
 */
public final class TopUps {
  public static final int MAX_CODES_PER_BATCH = 10_000;
  /** 32 symbols without 0/O and 1/I, so a code read aloud or retyped survives. */
  private static final char[] ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".toCharArray();
  private static final String PREFIX = "JVN";
  private static final int GROUPS = 4;
  private static final int GROUP_LENGTH = 4;

  private final TopUpStore store;
  private final Ledger ledger;
  private final Clock clock;
  private final SecureRandom random;

  public TopUps(TopUpStore store, Ledger ledger, Clock clock, SecureRandom random) {
    this.store = store;
    this.ledger = ledger;
    this.clock = clock;
    this.random = random;
  }

  /** A refused top-up; the message names the reason and is safe to show the customer. */
  public static final class RefusedException extends IllegalArgumentException {
    public RefusedException(String message) {
      super(message);
    }
  }

  /** Creates {@code count} codes worth {@code amountNanos} each; returns their text, which is never stored. */
  public List<String> createCodes(long amountNanos, int count, @Nullable Instant expiresAt) {
    if (amountNanos <= 0) {
      throw new IllegalArgumentException("amount must be positive");
    }
    if (count < 1 || count > MAX_CODES_PER_BATCH) {
      throw new IllegalArgumentException("count must be 1 to " + MAX_CODES_PER_BATCH + "; got " + count);
    }
    long now = clock.millis();
    if (expiresAt != null && expiresAt.toEpochMilli() <= now) {
      throw new IllegalArgumentException("expires_at " + expiresAt + " has already passed");
    }
    List<String> codes = new ArrayList<>(count);
    List<TopUpStore.CodeRow> rows = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      String code = newCode();
      codes.add(code);
      rows.add(new TopUpStore.CodeRow(hash(code), amountNanos, now, expiresAt == null ? null : expiresAt.toEpochMilli(), null, null));
    }
    store.insertCodes(rows);
    return codes;
  }

  /**
   * Redeems {@code code} for {@code accountId}: marks it and answers the pending ledger credit.
   * Throws {@link RefusedException} for a code that is malformed, unknown, expired or redeemed.
   */
  public CompletableFuture<CreditResult> redeem(String code, String accountId) {
    String canonical = canonical(code);
    String shown = code.length() > 40 ? code.substring(0, 40) + "..." : code;
    Optional<TopUpStore.CodeRow> found = canonical == null ? Optional.empty() : store.code(hash(canonical));
    if (found.isEmpty()) {
      throw new RefusedException("The redemption code '" + shown + "' is unknown.");
    }
    TopUpStore.CodeRow row = found.get();
    long now = clock.millis();
    String entryId = "code:" + row.codeHash();
    if (row.redeemedAtMillis() == null) {
      if (row.expiresAtMillis() != null && row.expiresAtMillis() <= now) {
        throw new RefusedException("The redemption code '" + shown + "' expired at " + Instant.ofEpochMilli(row.expiresAtMillis()) + ".");
      }
      if (store.markRedeemed(row.codeHash(), accountId, now)) {
        return ledger.credit(entryId, accountId, CreditKind.TOPPED_UP, row.amountNanos(), null);
      }
      row = store.code(row.codeHash()).orElseThrow();
    }
    if (accountId.equals(row.redeemedBy())) {
      // Heals a crash between marking and crediting: a replay of the entry id changes nothing
      // when the credit was applied. The answer is a refusal either way, so a client that
      // redeems twice learns the truth.
      ledger.credit(entryId, accountId, CreditKind.TOPPED_UP, row.amountNanos(), null).join();
    }
    throw new RefusedException("This code was already redeemed" + (row.redeemedAtMillis() == null ? "" : " at " + Instant.ofEpochMilli(row.redeemedAtMillis())) + ".");
  }

  /** Whether the payment event was handled before; a redelivery is acknowledged without work. */
  public boolean paymentSeen(String eventId) {
    return store.eventSeen(eventId);
  }

  /** Credits a completed payment once per event id, then records the event. */
  public CreditResult creditPayment(String provider, String eventId, String type, String accountId, long amountNanos) {
    CreditResult r = ledger.credit(provider + ":" + eventId, accountId, CreditKind.TOPPED_UP, amountNanos, null).join();
    store.recordEvent(eventId, provider, type, accountId, amountNanos, clock.millis());
    return r;
  }

  /** Records an event that credits nothing (another type, an unpaid session), for the audit trail. */
  public void recordIgnored(String provider, String eventId, String type) {
    store.recordEvent(eventId, provider, type, null, null, clock.millis());
  }

  private String newCode() {
    StringBuilder s = new StringBuilder(PREFIX);
    for (int g = 0; g < GROUPS; g++) {
      s.append('-');
      for (int i = 0; i < GROUP_LENGTH; i++) {
        s.append(ALPHABET[random.nextInt(ALPHABET.length)]);
      }
    }
    return s.toString();
  }

  /** The code as issued, from what a customer typed (any case, spaces or dashes); null if it cannot be one. */
  static @Nullable String canonical(String typed) {
    if (typed.length() > 64) {
      return null;
    }
    StringBuilder compact = new StringBuilder();
    for (char c : typed.toUpperCase(Locale.ROOT).toCharArray()) {
      if (c == '-' || Character.isWhitespace(c)) {
        continue;
      }
      compact.append(c);
    }
    int length = PREFIX.length() + GROUPS * GROUP_LENGTH;
    if (compact.length() != length || !compact.toString().startsWith(PREFIX)) {
      return null;
    }
    StringBuilder out = new StringBuilder(PREFIX);
    for (int i = PREFIX.length(); i < length; i++) {
      char c = compact.charAt(i);
      if (new String(ALPHABET).indexOf(c) < 0) {
        return null;
      }
      if ((i - PREFIX.length()) % GROUP_LENGTH == 0) {
        out.append('-');
      }
      out.append(c);
    }
    return out.toString();
  }

  static String hash(String canonicalCode) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canonicalCode.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
    }
  }
}
