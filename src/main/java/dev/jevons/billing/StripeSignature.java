package dev.jevons.billing;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies Stripe's {@code Stripe-Signature} header ({@code t=<unix>,v1=<hex>[,v1=<hex>...]}): an
 * HMAC-SHA256 of {@code "<t>.<raw body>"} under the endpoint secret, compared in constant time,
 * with {@code t} within the tolerance of this clock in either direction. Several {@code v1} values
 * appear while Stripe rolls a secret; one match is enough. Written here rather than taken from
 * stripe-java, whose dependency tree is large for forty lines of HMAC (docs/decisions.md).
 */
public final class StripeSignature {
  public static final Duration DEFAULT_TOLERANCE = Duration.ofSeconds(300);
  private static final int MAX_SIGNATURES = 16;

  private final byte[] secret;
  private final Clock clock;
  private final Duration tolerance;

  public StripeSignature(String secret, Clock clock, Duration tolerance) {
    this.secret = secret.getBytes(StandardCharsets.UTF_8);
    this.clock = clock;
    this.tolerance = tolerance;
  }

  /** Why a signature was refused; the message is safe to send back to the caller. */
  public static final class InvalidSignatureException extends IllegalArgumentException {
    InvalidSignatureException(String message) {
      super(message);
    }
  }

  /** Returns normally if {@code header} signs {@code body}; throws {@link InvalidSignatureException} otherwise. */
  public void verify(String header, byte[] body) {
    if (header == null || header.isBlank()) {
      throw new InvalidSignatureException("Missing Stripe-Signature header.");
    }
    Long timestamp = null;
    List<byte[]> candidates = new ArrayList<>();
    for (String part : header.split(",", 64)) {
      int eq = part.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      String key = part.substring(0, eq).trim();
      String value = part.substring(eq + 1).trim();
      if (key.equals("t")) {
        try {
          timestamp = Long.parseLong(value);
        } catch (NumberFormatException e) {
          throw new InvalidSignatureException("The Stripe-Signature timestamp 't' is not a number.");
        }
      } else if (key.equals("v1") && candidates.size() < MAX_SIGNATURES) {
        try {
          candidates.add(HexFormat.of().parseHex(value));
        } catch (IllegalArgumentException e) {
          // A malformed candidate cannot match; another v1 still may.
        }
      }
    }
    if (timestamp == null) {
      throw new InvalidSignatureException("The Stripe-Signature header has no timestamp 't='.");
    }
    if (candidates.isEmpty()) {
      throw new InvalidSignatureException("The Stripe-Signature header has no v1 signature.");
    }
    long ageSeconds = clock.instant().getEpochSecond() - timestamp;
    if (Math.abs(ageSeconds) > tolerance.toSeconds()) {
      throw new InvalidSignatureException(
          "The Stripe-Signature timestamp is " + ageSeconds + " s away from now; the tolerance is " + tolerance.toSeconds() + " s.");
    }
    byte[] expected = sign(timestamp, body);
    boolean match = false;
    for (byte[] candidate : candidates) {
      // No early exit: every candidate is compared, each in constant time.
      match |= MessageDigest.isEqual(expected, candidate);
    }
    if (!match) {
      throw new InvalidSignatureException("The Stripe-Signature does not match the body under the configured webhook secret.");
    }
  }

  /** The v1 signature of {@code body} at {@code timestamp}; tests sign events with it. */
  public byte[] sign(long timestampSeconds, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      mac.update((timestampSeconds + ".").getBytes(StandardCharsets.UTF_8));
      return mac.doFinal(body);
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException("HmacSHA256 is part of every Java runtime", e);
    }
  }

  /** A complete header value for {@code body} signed at {@code timestamp}. */
  public String header(long timestampSeconds, byte[] body) {
    return "t=" + timestampSeconds + ",v1=" + HexFormat.of().formatHex(sign(timestampSeconds, body));
  }
}
