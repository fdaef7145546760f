package dev.jevons.accounts;

import java.math.BigInteger;

/**
 * Fixed-length base62 ({@code 0-9A-Za-z}) encoding of random bytes. Fixed length means every key
 * and id of a kind has the same length, and the encoding is a bijection, so no entropy is lost.
 */
final class Base62 {

  private static final String ALPHABET =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  private static final BigInteger BASE = BigInteger.valueOf(62);

  private Base62() {}

  /** The number of base62 digits needed for any value of {@code byteCount} bytes. */
  static int encodedLength(int byteCount) {
    BigInteger limit = BigInteger.ONE.shiftLeft(8 * byteCount);
    int digits = 0;
    for (BigInteger capacity = BigInteger.ONE; capacity.compareTo(limit) < 0; digits++) {
      capacity = capacity.multiply(BASE);
    }
    return digits;
  }

  static String encode(byte[] bytes) {
    char[] out = new char[encodedLength(bytes.length)];
    BigInteger value = new BigInteger(1, bytes);
    for (int i = out.length - 1; i >= 0; i--) {
      BigInteger[] qr = value.divideAndRemainder(BASE);
      out[i] = ALPHABET.charAt(qr[1].intValue());
      value = qr[0];
    }
    return new String(out);
  }

  static byte[] decode(String text, int byteCount) {
    BigInteger value = BigInteger.ZERO;
    for (int i = 0; i < text.length(); i++) {
      int digit = ALPHABET.indexOf(text.charAt(i));
      if (digit < 0) {
        throw new IllegalArgumentException("not base62: " + text);
      }
      value = value.multiply(BASE).add(BigInteger.valueOf(digit));
    }
    byte[] magnitude = value.toByteArray();
    byte[] out = new byte[byteCount];
    int copy = Math.min(magnitude.length, byteCount);
    System.arraycopy(magnitude, magnitude.length - copy, out, byteCount - copy, copy);
    return out;
  }

  static boolean isBase62(String text) {
    for (int i = 0; i < text.length(); i++) {
      if (ALPHABET.indexOf(text.charAt(i)) < 0) {
        return false;
      }
    }
    return true;
  }
}
