package dev.jevons.governor;

import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * One gate as the public status page and the admin API show it.
 *
 * @param since when it last changed between open and closed (the start of the process, or of
 *     the store's history, when it never did)
 * @param reason why it is in its state: the signals that closed or reopened it, or the
 *     operator's reason
 * @param message what a refused customer is told (null while open)
 * @param retryAfter the estimate given to refused customers (null while open)
 */
public record GateStatus(
    Gate gate, boolean open, Mode mode, Instant since, String reason, @Nullable String message, @Nullable Duration retryAfter) {}
