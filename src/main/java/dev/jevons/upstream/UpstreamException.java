package dev.jevons.upstream;

import org.jspecify.annotations.Nullable;

/**
 * An upstream request that failed. {@link Kind} says how, so the gateway can decide whether to try
 * another replica (only before the client has received a byte) and which error the client sees.
 */
public final class UpstreamException extends Exception {
  public enum Kind {
    /** Could not connect or the connection broke before a response. */
    CONNECT,
    /** No response (or no first event) within the first-byte timeout. */
    FIRST_BYTE_TIMEOUT,
    /** A gap between stream events longer than the idle timeout. */
    IDLE_TIMEOUT,
    /** The upstream answered with an error status. */
    STATUS,
    /** The upstream sent something that is not the OpenAI protocol. */
    PROTOCOL,
    /** The upstream stream ended or broke after it had started. */
    BROKEN_STREAM
  }

  private final Kind kind;
  private final int status;
  private final @Nullable String upstreamMessage;

  public UpstreamException(Kind kind, String message, int status, @Nullable String upstreamMessage, @Nullable Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.status = status;
    this.upstreamMessage = upstreamMessage;
  }

  public static UpstreamException of(Kind kind, String message) {
    return new UpstreamException(kind, message, 0, null, null);
  }

  public Kind kind() {
    return kind;
  }

  /** The HTTP status the upstream answered, for {@link Kind#STATUS}; 0 otherwise. */
  public int status() {
    return status;
  }

  /** The {@code error.message} the upstream sent, if any. */
  public @Nullable String upstreamMessage() {
    return upstreamMessage;
  }

  /** Whether another replica might succeed where this one failed. */
  public boolean retryable() {
    return switch (kind) {
      case CONNECT, FIRST_BYTE_TIMEOUT -> true;
      case STATUS -> status == 429 || status >= 500;
      case IDLE_TIMEOUT, PROTOCOL, BROKEN_STREAM -> false;
    };
  }

  /** Whether the failure says something bad about the replica's health (a 4xx does not). */
  public boolean countsAgainstReplica() {
    return switch (kind) {
      case CONNECT, FIRST_BYTE_TIMEOUT, IDLE_TIMEOUT, PROTOCOL, BROKEN_STREAM -> true;
      case STATUS -> status >= 500;
    };
  }
}
