package dev.jevons.accounts;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import org.jspecify.annotations.Nullable;

/**
 * The operator's bearer token for the admin API. Only its SHA-256 digest is kept, and presented
 * tokens are compared digest to digest with {@link MessageDigest#isEqual}, which takes the same
 * time wherever the first difference is, so response timing reveals nothing about the token.
 */
public final class AdminToken {

  static final int MIN_LENGTH = 16;
  static final int MAX_LENGTH = 256;
  private static final String GENERATED_PREFIX = "jadm-";

  private final byte[] digest;
  private final String masked;

  private AdminToken(byte[] digest, String masked) {
    this.digest = digest;
    this.masked = masked;
  }

  /** Rejects tokens shorter than 16 or longer than 256 characters, or with whitespace in them. */
  public static AdminToken of(String token) {
    if (token.length() < MIN_LENGTH || token.length() > MAX_LENGTH) {
      throw new IllegalArgumentException(
          "admin token must be "
              + MIN_LENGTH
              + " to "
              + MAX_LENGTH
              + " characters long, was "
              + token.length());
    }
    if (token.chars().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c))) {
      throw new IllegalArgumentException("admin token must not contain whitespace or control characters");
    }
    return new AdminToken(sha256(token), mask(token));
  }

  /** A new random token: {@code jadm-} and 43 base62 characters (256 bits). */
  public static String generate(SecureRandom random) {
    byte[] bytes = new byte[32];
    random.nextBytes(bytes);
    return GENERATED_PREFIX + Base62.encode(bytes);
  }

  public boolean matches(@Nullable String presented) {
    if (presented == null || presented.length() > MAX_LENGTH) {
      // The length of a guess is the attacker's own knowledge; rejecting it early leaks nothing.
      return false;
    }
    return MessageDigest.isEqual(digest, sha256(presented));
  }

  /** For logs and the effective configuration: shows at most the last 4 of 24+ characters. */
  public String masked() {
    return masked;
  }

  @Override
  public String toString() {
    return "AdminToken[" + masked + "]";
  }

  private static String mask(String token) {
    return token.length() >= 24 ? "****" + token.substring(token.length() - 4) : "****";
  }

  static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
